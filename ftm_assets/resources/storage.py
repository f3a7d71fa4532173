"""The storage root as a Dagster resource; it refuses to start a run on a root it cannot write."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from ftm_assets.storage import Storage, open_storage


class StorageRoot(dg.ConfigurableResource):
    """``root``: a local folder or ``s3://bucket[/prefix]`` (FTM_STORAGE_ROOT)."""

    root: str
    _store: Storage | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._store = open_storage(self.root)
        self._store.check_writable()

    @property
    def store(self) -> Storage:
        """The opened root (``ftm_assets.storage``), to read and write keys."""
        if self._store is None:
            self._store = open_storage(self.root)
        return self._store
