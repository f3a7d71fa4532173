"""``python -m ftm_assets.export panel|research-panel --quarters 2023Q1:2024Q4 --out panel.parquet|.csv|.dta``.

``research-panel``: the panel joined to each call's abnormal returns (``call_returns``), with a data
dictionary written beside the file (``<name>.dictionary.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftm_assets.export", description="Export ftm outputs.")
    sub = parser.add_subparsers(dest="what", required=True)
    panel = sub.add_parser("panel", help="the firm x quarter x theme exposure panel")
    panel.add_argument("--quarters", required=True, help="2024Q4, 2023Q1:2024Q4 or 2023Q1,2023Q3")
    panel.add_argument("--out", required=True, type=Path, help="a .parquet, .csv or .dta file")
    panel.add_argument("--root", help="storage root (default: the loaded settings' FTM_STORAGE_ROOT, else ./data)")
    panel.add_argument("--skip-missing", action="store_true", help="skip quarters without themes instead of failing")
    research = sub.add_parser("research-panel", help="the panel joined to each call's CARs, with a data dictionary")
    for action in panel._actions[1:]:  # the same options as `panel`
        research._add_action(action)
    args = parser.parse_args(argv)

    from ftm_assets.environment import ConfigError, Settings
    from ftm_assets.export.panel import export_panel
    from ftm_assets.export.research_panel import export_research_panel
    from ftm_assets.readers import ThemesNotMaterialized
    from ftm_assets.readers.returns import ReturnsNotMaterialized

    try:
        root = args.root or Settings.from_env().storage_root  # the one loader decides the default root
        export = export_research_panel if args.what == "research-panel" else export_panel
        frame = export(root, args.quarters, args.out, strict=not args.skip_missing)
    except (ConfigError, ThemesNotMaterialized, ReturnsNotMaterialized, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {len(frame):,} rows ({frame['firm_id'].nunique() if len(frame) else 0:,} firms, "
          f"{frame['quarter'].nunique() if len(frame) else 0} quarters) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
