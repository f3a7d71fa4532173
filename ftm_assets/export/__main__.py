"""``python -m ftm_assets.export panel|research-panel --quarters 2023Q1:2024Q4 --out panel.parquet|.csv|.dta
[--root data]``; ``… peers --quarters … --out peers.csv [--k 4]`` (each firm's nearest peers by theme
exposure); ``… validation --quarters 2024Q4 [--out validation]`` (a hand-coding kit per theme) and
``… validation-score CODER_A.csv CODER_B.csv [--key coding_key.csv]`` (precision and Cohen's kappa).

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
    for name, text in (("panel", "the firm x quarter x theme exposure panel"),
                       ("research-panel", "the panel joined to each call's CARs, with a data dictionary"),
                       ("peers", "each firm's nearest peers per quarter (cosine of square-root theme shares)")):
        table = sub.add_parser(name, help=text)
        table.add_argument("--quarters", required=True, help="2024Q4, 2023Q1:2024Q4 or 2023Q1,2023Q3")
        table.add_argument("--out", required=True, type=Path, help="a .parquet, .csv or .dta file")
        table.add_argument("--root", help="storage root (default: the loaded settings' FTM_STORAGE_ROOT, else ./data)")
        table.add_argument("--skip-missing", action="store_true",
                           help="skip quarters without themes instead of failing")
        if name == "peers":
            table.add_argument("--k", type=int, default=4, help="peers per firm and quarter (default 4)")
    kit = sub.add_parser("validation", help="a hand-coding kit per theme: sampled sentences, top firms, series")
    kit.add_argument("--quarters", required=True, help="2024Q4, 2023Q1:2024Q4 or 2023Q1,2023Q3")
    kit.add_argument("--out", type=Path, default=Path("validation"), help="folder for the CSV files and index.html")
    kit.add_argument("--root", help="storage root (default: the loaded settings' FTM_STORAGE_ROOT, else ./data)")
    kit.add_argument("--seed", type=int, default=0, help="seed of the sentence draws")
    score = sub.add_parser("validation-score", help="two coders' coded coding.csv: precision and Cohen's kappa")
    score.add_argument("coder_a", type=Path)
    score.add_argument("coder_b", type=Path)
    score.add_argument("--key", type=Path, help="the kit's coding_key.csv (default: beside CODER_A)")
    args = parser.parse_args(argv)
    if args.what == "validation-score":
        return _score(args)

    from ftm_assets.environment import ConfigError, Settings
    from ftm_assets.export.panel import export_panel
    from ftm_assets.export.research_panel import export_research_panel
    from ftm_assets.readers import ThemesNotMaterialized
    from ftm_assets.readers.returns import ReturnsNotMaterialized

    try:
        root = args.root or Settings.from_env().storage_root  # the one loader decides the default root
        if args.what == "validation":
            return _kit(root, args)
        if args.what == "peers":
            from ftm_assets.export.peers import export_peers

            frame = export_peers(root, args.quarters, args.out, args.k, strict=not args.skip_missing)
        else:
            export = export_research_panel if args.what == "research-panel" else export_panel
            frame = export(root, args.quarters, args.out, strict=not args.skip_missing)
    except (ConfigError, ThemesNotMaterialized, ReturnsNotMaterialized, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {len(frame):,} rows ({frame['firm_id'].nunique() if len(frame) else 0:,} firms, "
          f"{frame['quarter'].nunique() if len(frame) else 0} quarters) to {args.out}")
    return 0


def _kit(root: str, args: argparse.Namespace) -> int:
    from ftm_assets.export.validation import build_kit, write_kit

    kit = build_kit(root, args.quarters, seed=args.seed)
    write_kit(kit, args.out, args.quarters)
    print(f"Wrote a kit of {len(kit.themes)} themes ({len(kit.coding)} sentences to code) to {args.out}: "
          "code coding.csv's coder_label (1 on theme, 0 not), then run validation-score on two coders' copies")
    return 0


def _score(args: argparse.Namespace) -> int:
    from ftm_assets.export.validation import score_coders

    key = args.key or args.coder_a.parent / "coding_key.csv"
    try:
        scores = score_coders(args.coder_a, args.coder_b, key)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
