"""Reads the worker's Pipes messages from S3, attempt by attempt, and reports only the final attempt's results.

The worker writes chunks to ``<key_prefix>/attempt-N/<index>.json`` (the rule is ``ftm_assets.pipes_keys``).
Logs stream to Dagster while the job runs, tagged with their attempt. Results (materializations, check
results, custom messages, ``closed``) are held back until the client knows which attempt was the last
one, then delivered for that attempt alone: a Spot-killed attempt's half report never reaches Dagster.

The final read happens in the caller's thread after the job ended, so the session closes as soon as the
job does (no fixed grace period), and a reader failure is visible to the client, which stops the job.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import PipesMessageHandler, PipesMessageReader
from dagster_pipes import PIPES_PROTOCOL_VERSION_FIELD, PipesParams

from ftm_assets.pipes_keys import attempt_key_prefix, parse_attempt_segment

# Delivered as they arrive; everything else waits for the final attempt.
LIVE_METHODS = frozenset({"opened", "log", "log_external_stream"})


class PipesS3AttemptMessageReader(PipesMessageReader):
    """A Pipes message reader for Batch: fixed S3 location (so a restarted step can reattach), per attempt."""

    def __init__(self, *, bucket: str, key_prefix: str, client, interval_s: float = 2.0, max_failures: int = 5):
        self.bucket = bucket
        self.key_prefix = key_prefix.rstrip("/")
        self.client = client
        self.interval_s = interval_s
        self.max_failures = max_failures
        self._handler: PipesMessageHandler | None = None
        self._next_index: dict[int, int] = defaultdict(lambda: 1)
        self._held: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.discarded: dict[int, int] = {}
        self.closed_exception: dict[str, Any] | None = None  # what the final attempt closed Pipes with

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        self._handler = handler
        self._thread = threading.Thread(target=self._poll_loop, name="pipes-s3-attempt-reader", daemon=True)
        self._thread.start()
        try:
            yield {"bucket": self.bucket, "key_prefix": self.key_prefix}
        finally:
            self._stop_thread()
            self._handler = None

    def no_messages_debug_text(self) -> str:
        return (
            f"Read messages from s3://{self.bucket}/{self.key_prefix}/attempt-N/. The worker must open Pipes with "
            "ftm_assets.worker.pipes_io.open_pipes() (PipesS3AttemptMessageWriter)."
        )

    def finish(self, final_attempt: int) -> None:
        """Read what is left and deliver the results of ``final_attempt`` only; call once the job ended."""
        self._stop_thread()
        self._read_available()
        handler = self._require_handler()
        with self._lock:
            for attempt, messages in sorted(self._held.items()):
                if attempt == final_attempt:
                    for message in messages:
                        if message.get("method") == "closed":
                            self.closed_exception = (message.get("params") or {}).get("exception")
                        handler.handle_message(message)
                elif messages:
                    self.discarded[attempt] = len(messages)
            self._held.clear()
        for attempt, count in sorted(self.discarded.items()):
            handler._context.log.warning(  # noqa: SLF001 (the handler's context is the step's)
                f"[pipes] ignored {count} result message(s) of Batch attempt {attempt}: only attempt "
                f"{final_attempt}, the job's last, reports results."
            )

    def _require_handler(self) -> PipesMessageHandler:
        if self._handler is None:
            raise RuntimeError("The message reader is used outside its Pipes session.")
        return self._handler

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.interval_s * 5, 30))
            self._thread = None

    def _poll_loop(self) -> None:
        failures = 0
        while not self._stop.wait(self.interval_s):
            try:
                self._read_available()
                failures = 0
            except Exception as exc:  # transient S3 trouble is retried; persistent trouble stops the job
                failures += 1
                if failures >= self.max_failures:
                    self.error = exc
                    return

    def _read_available(self) -> None:
        """Deliver or hold every chunk written since the last read, in order within each attempt."""
        keys = self._list_chunk_keys()
        with self._lock:
            for attempt in sorted(keys):
                while self._next_index[attempt] in keys[attempt]:
                    index = self._next_index[attempt]
                    body = self.client.get_object(
                        Bucket=self.bucket, Key=f"{attempt_key_prefix(self.key_prefix, attempt)}/{index}.json"
                    )["Body"].read()
                    self._route(attempt, body.decode("utf-8"))
                    self._next_index[attempt] = index + 1

    def _list_chunk_keys(self) -> dict[int, set[int]]:
        found: dict[int, set[int]] = defaultdict(set)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.key_prefix}/attempt-"):
            for item in page.get("Contents", []):
                rest = item["Key"][len(self.key_prefix) + 1 :].split("/")
                if len(rest) != 2 or not rest[1].endswith(".json"):
                    continue
                attempt = parse_attempt_segment(rest[0])
                stem = rest[1][: -len(".json")]
                if attempt is not None and stem.isdigit():
                    found[attempt].add(int(stem))
        return found

    def _route(self, attempt: int, chunk: str) -> None:
        handler = self._require_handler()
        for line in chunk.splitlines():
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(message, dict) or PIPES_PROTOCOL_VERSION_FIELD not in message:
                continue
            method = message.get("method")
            if method in LIVE_METHODS:
                if method == "log" and attempt > 1:
                    params = dict(message.get("params") or {})
                    params["message"] = f"[attempt {attempt}] {params.get('message', '')}"
                    message = {**message, "params": params}
                handler.handle_message(message)
            else:
                self._held[attempt].append(message)
