"""Text helpers that both sides use (the worker's topic keywords, the Dagster side's theme keywords)."""
