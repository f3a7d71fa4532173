"""Tests of the run command, ftm_assets.run."""
