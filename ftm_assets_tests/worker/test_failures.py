"""The circuit breaker's rules and which errors count as critical."""

import pytest

from ftm_assets.storage import StorageError
from ftm_assets.worker_config import FailurePolicy
from ftm_assets.worker.model.embed import ModelNotFoundError
from ftm_assets.worker.failures import (
    CircuitBreaker,
    CircuitBreakerOpen,
    InsufficientText,
    StrictModeFailure,
    is_critical,
)


def test_consecutive_failures_trip():
    breaker = CircuitBreaker(FailurePolicy(max_consecutive_failures=3))
    breaker.failure("a", "x")
    breaker.success()
    breaker.failure("b", "x")
    breaker.failure("c", "x")
    with pytest.raises(CircuitBreakerOpen, match="3 consecutive.*d: boom"):
        breaker.failure("d", "boom")


def test_rate_counts_only_after_min_processed():
    breaker = CircuitBreaker(FailurePolicy(max_failure_rate=0.1, min_processed_for_rate=20, max_consecutive_failures=99))
    for i in range(9):
        breaker.success()
        breaker.failure(f"f{i}", "x")  # 50% failures, but fewer than 20 processed so far
    breaker.success()
    with pytest.raises(CircuitBreakerOpen, match="Failure rate 50.0%"):
        breaker.failure("last", "x")


def test_strict_mode_fails_on_first():
    with pytest.raises(StrictModeFailure, match="ALLOW_FAILURES"):
        CircuitBreaker(FailurePolicy(allow_failures=False)).failure("a", "x")


def test_critical_errors():
    assert is_critical(StorageError("denied"))
    assert is_critical(ModelNotFoundError("gone"))
    assert is_critical(type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory"))
    assert not is_critical(InsufficientText("few"))
    assert not is_critical(ValueError("empty vocabulary"))
