"""Exact pins (``name==version`` lines) of a requirements or constraints file, by canonical package name."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def pins(*paths: Path) -> dict[str, str]:
    """Every ``name==version`` line of ``paths`` (later files win); anything but an exact pin fails."""
    result = {}
    for path in paths:
        for raw in path.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                requirement = Requirement(line)
                (specifier,) = requirement.specifier
                assert specifier.operator == "==", f"{path.name}: {line} is not an exact pin"
                result[canonicalize_name(requirement.name)] = specifier.version
    return result
