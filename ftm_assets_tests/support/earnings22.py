"""The pytest marker for tests that read the real Earnings-22 calls (skipped with a reason where they are absent)."""

import pytest

from ftm_assets_tests.support.earnings22_calls import EARNINGS22, MISSING_REASON

requires_earnings22 = pytest.mark.skipif(not EARNINGS22.exists(), reason=MISSING_REASON)
