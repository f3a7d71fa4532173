"""Tests of the test-support package ftm_assets.testing."""
