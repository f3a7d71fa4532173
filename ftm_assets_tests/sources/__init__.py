"""Tests of ftm_assets.sources and the transcript-source resources."""
