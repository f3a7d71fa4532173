"""The sha256 of a local file's bytes, remembered by (path, size, mtime, inode): identities from content.

Input versions and the embedding model's identity are taken from content, so an identical re-upload keeps a
checkpoint and a model edit that keeps every file's size still changes the identity. Hashes are remembered in
this process and in ``~/.cache/ftm/file-hashes.json`` (``FTM_HASH_CACHE``), so a model folder is read once
per machine until a file of it changes; a cache that cannot be read or written only costs a re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

_memo: dict[str, str] = {}
_lock = threading.Lock()
_loaded = False


def _cache_path() -> Path:
    return Path(os.environ.get("FTM_HASH_CACHE", "~/.cache/ftm/file-hashes.json")).expanduser()


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    try:
        _memo.update(json.loads(_cache_path().read_text()))
    except (OSError, ValueError):
        pass


def _save() -> None:
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_memo))
        os.replace(tmp, path)
    except OSError:
        pass


def file_sha256(path: str | os.PathLike[str], *, persist: bool = False) -> str:
    """Hex sha256 of the file's bytes; ``persist`` also keeps it in the on-disk cache (large, stable files)."""
    p = Path(path)
    st = p.stat()
    memo = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    with _lock:
        if persist:
            _load()
        known = _memo.get(memo)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    with _lock:
        _memo[memo] = digest.hexdigest()
        if persist:
            _save()
    return digest.hexdigest()
