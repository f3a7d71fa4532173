"""What a quarter's run produced, as the lines the run command prints (where the outputs are, firms, topics)."""

from __future__ import annotations

from ftm_assets.readers import commit_records, read_failures, read_firm_topics


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
    if len(failures):
        lines.append("  failed or skipped firms:")
        lines += [f"    {r.firm_id} {r.outcome} {r.error_class}: {r.message}" for r in failures.itertuples()]
    return "\n".join(lines)
