"""Console links a user can click from Dagster: the Batch job and its CloudWatch log stream."""

from __future__ import annotations

from urllib.parse import quote


def console_url(region: str, job_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/batch/home?region={region}#jobs/detail/{job_id}"


def log_stream_url(region: str, log_group: str, log_stream: str) -> str:
    """CloudWatch's console escapes path parts twice, with ``$`` for ``%``."""

    def esc(text: str) -> str:
        return quote(quote(text, safe=""), safe="").replace("%", "$")

    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{esc(log_group)}/log-events/{esc(log_stream)}"
    )
