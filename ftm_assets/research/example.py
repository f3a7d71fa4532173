"""Does what firms say about their themes predict the market's reaction? The README's worked example.

``python -m ftm_assets.research.example --root data --quarters 2024Q4`` (or ``--panel research_panel.parquet``):

1. per (firm, quarter): ``tone_exposure`` = sum over themes of ``share x tone`` (a theme without LM tone words
   counts as neutral, 0), next to the call's CAR[0,+1];
2. ``CAR[0,+1] = b * tone_exposure + firm FE + quarter FE + e``, linearmodels' PanelOLS, standard errors
   clustered by firm. A fixed effect that the data cannot identify (one quarter: quarter FE; every firm seen
   once: firm FE) is replaced by a constant, and the output says so;
3. a tercile sort: the mean CAR[0,+1] of firms in the low, middle and high third of ``tone_exposure``, and
   high minus low.

Generic themes (the panel helper's ``generic`` flag, where present) are excluded first.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

OUTCOME, REGRESSOR = "car_0_1", "tone_exposure"


def firm_quarter_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """One row per (firm, quarter): ``tone_exposure`` and the call's CAR[0,+1] (rows without it dropped)."""
    missing = [c for c in ("share", "tone", OUTCOME) if c not in panel.columns]
    if missing:
        raise ValueError(f"The research panel lacks {', '.join(missing)}: export it with "
                         "`python -m ftm_assets.export research-panel` from a panel that has tone.")
    rows = panel[~panel["generic"].astype(bool)] if "generic" in panel.columns else panel
    rows = rows.assign(weighted=rows["share"] * rows["tone"].fillna(0.0))
    out = rows.groupby(["firm_id", "quarter"], as_index=False).agg(
        tone_exposure=("weighted", "sum"), car_0_1=(OUTCOME, "first"))
    return out.dropna(subset=[OUTCOME]).reset_index(drop=True)


@dataclass(frozen=True)
class Estimate:
    coefficient: float
    std_error: float
    t_stat: float
    p_value: float
    n_obs: int
    effects: str


def regress(frame: pd.DataFrame) -> Estimate:
    """PanelOLS of CAR[0,+1] on tone_exposure with the identifiable firm/quarter effects, clustered by firm."""
    from linearmodels.panel import PanelOLS

    quarter_fe = frame["quarter"].nunique() > 1
    firm_fe = frame.groupby("firm_id").size().max() > 1
    data = frame.assign(period=pd.PeriodIndex(frame["quarter"], freq="Q").to_timestamp()).set_index(["firm_id", "period"])
    exog = data[[REGRESSOR]] if (firm_fe or quarter_fe) else data[[REGRESSOR]].assign(const=1.0)
    fit = PanelOLS(data[OUTCOME], exog, entity_effects=firm_fe, time_effects=quarter_fe,
                   drop_absorbed=True).fit(cov_type="clustered", cluster_entity=True)
    effects = " + ".join([n for n, on in (("firm FE", firm_fe), ("quarter FE", quarter_fe)) if on]) or \
        "constant (one quarter, each firm once: no fixed effect is identified)"
    return Estimate(float(fit.params[REGRESSOR]), float(fit.std_errors[REGRESSOR]), float(fit.tstats[REGRESSOR]),
                    float(fit.pvalues[REGRESSOR]), int(fit.nobs), effects)


def tercile_sort(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean CAR[0,+1] by tercile of tone_exposure within each quarter, and high minus low."""
    ranks = frame.groupby("quarter")[REGRESSOR].rank(method="first", pct=True)
    terciles = np.ceil(ranks * 3).clip(1, 3).map({1: "low", 2: "middle", 3: "high"})
    table = frame.groupby(terciles)[OUTCOME].agg(["mean", "count"]).reindex(["low", "middle", "high"])
    table.loc["high - low"] = [table.loc["high", "mean"] - table.loc["low", "mean"], np.nan]
    return table


def report(panel: pd.DataFrame) -> str:
    frame = firm_quarter_frame(panel)
    est = regress(frame)
    sort = tercile_sort(frame)
    lines = [f"CAR[0,+1] on tone x exposure: b = {est.coefficient:.4f} (SE {est.std_error:.4f}, "
             f"t = {est.t_stat:.2f}, p = {est.p_value:.3g}), {est.n_obs} firm-quarters; {est.effects}; "
             "SEs clustered by firm.", "Tercile sort on tone x exposure (mean CAR[0,+1]):"]
    lines += [f"  {name:<10} {row['mean']:+.4f}" + (f"  ({int(row['count'])} firm-quarters)" if name != "high - low" else "")
              for name, row in sort.iterrows()]
    return "\n".join(lines)


def run_summary(root: str, quarters: str) -> str:
    """The example on what a run just wrote (``make demo`` prints it), or one line saying why it cannot run."""
    try:
        from ftm_assets.export.research_panel import research_panel
        from ftm_assets.readers import read_theme_exposure, read_themes
        from ftm_assets.readers.returns import read_call_returns

        panel = research_panel(read_theme_exposure(root, quarters, strict=False),
                               read_call_returns(root, quarters, strict=False), read_themes(root, quarters, strict=False))
        return "Research example (python -m ftm_assets.research.example):\n" + report(panel)
    except ImportError as exc:
        return f"Research example skipped: {exc.name} is not installed (pip install -e \".[research]\")."
    except (LookupError, ValueError) as exc:
        return f"Research example skipped: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftm_assets.research.example", description=__doc__.split("\n")[0])
    parser.add_argument("--panel", type=Path, help="an exported research panel (.parquet or .csv)")
    parser.add_argument("--root", help="storage root to read the panel and call_returns from (default ./data)")
    parser.add_argument("--quarters", help="with --root: 2024Q4, 2023Q1:2024Q4")
    args = parser.parse_args(argv)
    if args.panel:
        panel = pd.read_parquet(args.panel) if args.panel.suffix == ".parquet" else pd.read_csv(args.panel)
    elif args.quarters:
        from ftm_assets.export.research_panel import research_panel
        from ftm_assets.readers import read_theme_exposure, read_themes
        from ftm_assets.readers.returns import read_call_returns

        root = args.root or "data"
        panel = research_panel(read_theme_exposure(root, args.quarters), read_call_returns(root, args.quarters),
                               read_themes(root, args.quarters))
    else:
        parser.error("give --panel, or --quarters (and --root)")
    try:
        print(report(panel))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
