"""What a quarter's run produced, as the lines the run command prints (where the outputs are, firms, topics)."""

from __future__ import annotations

from ftm_assets.readers import commit_records, read_failures, read_firm_topics, read_theme_exposure, read_themes
from ftm_assets.readers import ThemesNotMaterialized


def describe_source(settings) -> str:
    """Where the transcripts came from, for the summary: never a password."""
    if settings.source == "demo":
        return "synthetic demo corpus"
    if settings.source == "files":
        return f"your files in {settings.get('FTM_TRANSCRIPTS_DIR')}"
    return f"WRDS Capital IQ as {settings.get('FTM_WRDS_USERNAME')}"


def summarize(root: str, quarter: str, seconds: dict[str, float], *, title: str = "ftm demo", source: str = "synthetic demo corpus") -> str:
    """Where the quarter's outputs are and what they hold (firms, topics, failures, seconds)."""
    topics = read_firm_topics(root, quarter)
    failures = read_failures(root, quarter)
    records = commit_records(root, quarter)
    stages: dict[str, float] = {}
    for rec in records:
        for stage, value in rec.seconds.items():
            stages[stage] = stages.get(stage, 0.0) + value
    failed = failures[failures.outcome == "failed"]
    skipped = failures[failures.outcome == "skipped"]
    real = topics[topics.topic_id >= 0]
    per_firm = real.groupby("firm_id").size()
    lines = [
        f"{title}: {quarter} ({source})",
        f"  storage root     {root}",
        f"  firm_topics      {root}/intermediate/firm-topics/quarter={quarter}/",
        f"  sentences        {root}/intermediate/sentences/quarter={quarter}/",
        f"  failures         {root}/failures/quarter={quarter}/",
        f"  summary          {root}/summaries/quarter={quarter}/ (summary.parquet, summary.png)",
        f"  batches          {len(records)} committed",
        f"  firms            {topics.firm_id.nunique() + len(failures)} "
        f"({topics.firm_id.nunique()} with topics rows, {len(failed)} failed, "
        f"{len(skipped)} skipped: too little text)",
        f"  topics           {len(real)} (median {per_firm.median() if len(per_firm) else 0:.0f} per firm, "
        f"min {per_firm.min() if len(per_firm) else 0}, max {per_firm.max() if len(per_firm) else 0})",
        "  seconds per step " + ", ".join(f"{k}: {v:.1f}" for k, v in seconds.items()),
        "  worker stages    " + ", ".join(f"{k}: {v:.1f} s" for k, v in sorted(stages.items())),
    ]
    lines += _themes_lines(root, quarter)
    if len(failures):
        lines.append("  failed or skipped firms:")
        lines += [f"    {r.firm_id} {r.outcome} {r.error_class}: {r.message}" for r in failures.itertuples()]
    return "\n".join(lines)


def _themes_lines(root: str, quarter: str) -> list[str]:
    """The panel's line: how many themes, firms and rows (none when the themes were not materialized)."""
    try:
        themes, exposure = read_themes(root, quarter), read_theme_exposure(root, quarter)
    except ThemesNotMaterialized:
        return ["  themes           not materialized (quarter_themes, theme_exposure)"]
    exposed = exposure.groupby("firm_id")["share"].sum()
    return [
        f"  themes           {len(themes)} shared across firms; {exposure.firm_id.nunique()} firms exposed "
        f"(median share of a firm's sentences on themes {exposed.median() if len(exposed) else 0:.2f})",
        f"  panel            {root}/themes/quarter={quarter}/exposure-*.parquet ({len(exposure)} firm x theme rows; "
        "python -m ftm_assets.export panel)",
    ]
