"""Dagster resources: which implementation is bound decides the environment, not ``if`` in assets."""
