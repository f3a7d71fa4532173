"""Per-firm outcomes (failed or skipped), the circuit breaker, and poison firms.

A firm whose input is too thin to model (no text, too few sentences) is *skipped*: a property of the data,
reported with its reason but not counted by the breaker or the failure-rate check. Any other error of a
firm is a *failure*. A critical error (out of memory, storage, credentials) fails the job at once; the firm
it happened on is recorded first (``PoisonFirms``), so that a firm that always runs out of memory becomes a
failure row on the next attempt instead of failing every retry.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from ftm_assets.outcomes import FAILED, SKIPPED, failure_rate
from ftm_assets.storage import Storage, StorageError, layout
from ftm_assets.worker_config import FailurePolicy
from ftm_assets.worker.model.embed import ModelNotFoundError


class FirmError(Exception):
    """A problem with one firm's input: recorded as a failure row, the batch goes on."""

    error_class = "FirmError"
    outcome = FAILED

    def __init__(self, message: str, n_sentences: int | None = None):
        super().__init__(message)
        self.n_sentences = n_sentences


class EmptyTranscript(FirmError):
    error_class = "EmptyTranscript"
    outcome = SKIPPED


class InsufficientText(FirmError):
    error_class = "InsufficientText"
    outcome = SKIPPED


class CircuitBreakerOpen(RuntimeError):
    """Too many firms failed: something systemic is wrong, so the job stops and fails."""


class StrictModeFailure(RuntimeError):
    """ALLOW_FAILURES=false and a firm failed."""


_CRITICAL_NAMES = {
    "OutOfMemoryError",  # torch.cuda.OutOfMemoryError
    "NoCredentialsError",
    "PartialCredentialsError",
    "ExpiredTokenException",
    "OperationalError",  # database authentication/connection
    "FitProcessDied",  # a fit process killed (out of memory) or crashed on a firm (fit_pool.py)
    "FitPoolBroken",  # a fit process died while starting (fit_pool.py)
}


def is_critical(exc: BaseException) -> bool:
    """Errors that no other firm would escape either: fail the job at once (the seed's rule)."""
    if isinstance(exc, (StorageError, ModelNotFoundError, MemoryError)):
        return True
    if type(exc).__name__ in _CRITICAL_NAMES:
        return True
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
    return code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}


def error_class_of(exc: BaseException) -> str:
    return getattr(exc, "error_class", None) or type(exc).__name__


def outcome_of(exc: BaseException) -> str:
    """``skipped`` for data-quality outcomes (too little text), ``failed`` for everything else."""
    return getattr(exc, "outcome", FAILED)


_FIRM_BOUND_NAMES = {"MemoryError", "OutOfMemoryError", "FitProcessDied"}  # out of memory (host, CUDA, fit process)


def is_firm_bound(exc: BaseException) -> bool:
    """Critical errors caused by the firm itself: it would fail the same way on every retry."""
    return isinstance(exc, MemoryError) or type(exc).__name__ in _FIRM_BOUND_NAMES


@dataclass
class CircuitBreaker:
    policy: FailurePolicy
    processed: int = 0
    failed: int = 0
    consecutive: int = 0

    def success(self) -> None:
        self.processed += 1
        self.consecutive = 0

    def skipped(self) -> None:
        """A data-quality skip: neither a failure nor a success for the breaker's rules."""

    def failure(self, firm_id: str, error: str) -> None:
        """Count a failed firm; raise when the policy says the job must stop."""
        self.processed += 1
        self.failed += 1
        self.consecutive += 1
        if not self.policy.allow_failures:
            raise StrictModeFailure(f"Firm {firm_id} failed ({error}) and ALLOW_FAILURES is false.")
        if self.consecutive >= self.policy.max_consecutive_failures:
            raise CircuitBreakerOpen(
                f"{self.consecutive} consecutive firms failed (limit {self.policy.max_consecutive_failures}); "
                f"the last was {firm_id}: {error}"
            )
        if self.processed >= self.policy.min_processed_for_rate and self.rate >= self.policy.max_failure_rate:
            raise CircuitBreakerOpen(
                f"Failure rate {self.rate:.1%} ({self.failed}/{self.processed}) reached the limit "
                f"{self.policy.max_failure_rate:.1%} after {self.processed} firms; the last was {firm_id}: {error}"
            )

    @property
    def rate(self) -> float:
        """``outcomes.failure_rate``: skipped firms are not in ``processed``."""
        return failure_rate(self.failed, self.processed - self.failed)


POISON_AFTER_ATTEMPTS = 2  # a critical error that is not firm-bound makes the firm poison once it repeats


@dataclass
class PoisonCandidate:
    firm_id: str
    error_class: str
    message: str
    firm_bound: bool
    attempts: list[str] = field(default_factory=list)  # tokens of the attempts it failed
    recorded_at: str = ""

    @property
    def poisoned(self) -> bool:
        """Skip it (as a failure row) from now on: firm-bound, or the same firm failed two attempts."""
        return self.firm_bound or len(self.attempts) >= POISON_AFTER_ATTEMPTS


class PoisonFirms:
    """Firms of one (quarter, batch) on which a critical error stopped an attempt, for these inputs.

    Stored beside the checkpoint; a change of inputs or settings (``inputs_fingerprint``) forgets them, and
    a successful commit clears them (a later re-run tries the firm again once).
    """

    def __init__(self, storage: Storage, quarter: str, batch: str, inputs_fingerprint: str):
        self.storage = storage
        self.key = layout.poison(quarter, batch)
        self.inputs_fingerprint = inputs_fingerprint
        self.firms: dict[str, PoisonCandidate] = {}
        if storage.exists(self.key):
            data = json.loads(storage.read_text(self.key))
            if data.get("inputs_fingerprint") == inputs_fingerprint:
                self.firms = {f: PoisonCandidate(**c) for f, c in data["firms"].items()}

    def poisoned(self) -> dict[str, PoisonCandidate]:
        return {f: c for f, c in self.firms.items() if c.poisoned}

    def record(self, firm_id: str, exc: BaseException, attempt: str) -> PoisonCandidate:
        """Add this attempt's critical error on ``firm_id`` and write the list (before the job fails)."""
        old = self.firms.get(firm_id)
        candidate = PoisonCandidate(
            firm_id, error_class_of(exc), str(exc) or repr(exc), is_firm_bound(exc),
            [*(old.attempts if old else []), attempt], dt.datetime.now(dt.timezone.utc).isoformat(),
        )
        self.firms[firm_id] = candidate
        body = {"inputs_fingerprint": self.inputs_fingerprint, "firms": {f: asdict(c) for f, c in self.firms.items()}}
        self.storage.write_text(self.key, json.dumps(body, indent=1))
        return candidate

    def clear(self) -> None:
        self.storage.delete(self.key)
