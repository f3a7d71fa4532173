"""The storage root: a local folder or ``s3://bucket[/prefix]``, behind one small interface.

No Dagster import here: the worker uses it too.
"""

from ftm_assets.storage.root import (
    LocalStorage,
    PreconditionFailed,
    S3Storage,
    Storage,
    StorageError,
    open_storage,
)

__all__ = ["LocalStorage", "PreconditionFailed", "S3Storage", "Storage", "StorageError", "open_storage"]
