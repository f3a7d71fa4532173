"""Tests of ftm_assets.transcripts and the transcript-source resources."""
