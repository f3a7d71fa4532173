"""ftm: firm-level topics from earnings-call transcripts, as a Dagster code location.

This package root imports nothing heavy: the worker (``ftm_assets.worker``) runs in containers that
have ``dagster_pipes`` but not ``dagster``, and shares the modules that do not need Dagster
(``constants``, ``quarters``, ``schema``, ``storage``, ``batching``).
"""

__version__ = "0.1.0"
