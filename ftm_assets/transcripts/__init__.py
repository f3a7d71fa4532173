"""Transcript sources as pure functions (no Dagster): demo corpus, user files, WRDS Capital IQ.

Each returns tables in ``ftm_assets.schema.RAW_TRANSCRIPTS_SCHEMA``. The Dagster resources that bind
one of them for a deployment live in ``ftm_assets.transcripts.resources``.
"""
