"""The worker: one (quarter, batch) partition, run under Dagster Pipes (``python -m ftm_assets.worker``).

Imports ``dagster_pipes`` and never ``dagster``: it runs in a GPU container without the orchestrator.
"""
