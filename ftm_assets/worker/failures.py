"""Per-firm failures and the circuit breaker that turns too many of them into a failed job."""

from __future__ import annotations

from dataclasses import dataclass

from ftm_assets.storage import StorageError
from ftm_assets.worker.config import FailurePolicy
from ftm_assets.worker.model.embed import ModelNotFoundError


class FirmError(Exception):
    """A problem with one firm's input: recorded as a failure row, the batch goes on."""

    error_class = "FirmError"

    def __init__(self, message: str, n_sentences: int | None = None):
        super().__init__(message)
        self.n_sentences = n_sentences


class EmptyTranscript(FirmError):
    error_class = "EmptyTranscript"


class InsufficientText(FirmError):
    error_class = "InsufficientText"


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


@dataclass
class CircuitBreaker:
    policy: FailurePolicy
    processed: int = 0
    failed: int = 0
    consecutive: int = 0

    def success(self) -> None:
        self.processed += 1
        self.consecutive = 0

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
        return self.failed / self.processed if self.processed else 0.0
