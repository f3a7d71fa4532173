"""Abnormal stock returns around each earnings call, from CRSP-shaped daily files (no Dagster import).

``events``: the event-day rule; ``car``: the cumulative abnormal returns; ``crsp``: the tables they read;
``calendar``: the NYSE trading calendar the demo's synthetic returns use; ``sources``: where the tables come
from (demo, user files, WRDS). The asset (``ftm_assets.assets.returns``) only wires these together.
"""
