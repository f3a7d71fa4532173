"""Installed versions of named distributions: what output metadata and embedding identities record."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata as importlib_metadata


def installed_versions(dists: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` for those of ``dists`` that are installed (absent ones are left out)."""
    out: dict[str, str] = {}
    for dist in dists:
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out
