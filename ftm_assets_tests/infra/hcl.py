"""Reads infra/*.tf with python-hcl2 into plain dicts the tests can query (quotes and parser markers removed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
_REF = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)\}$")


def clean(node: Any) -> Any:
    """Drops hcl2's __is_block__/__comments__ markers and the quotes it keeps around strings and labels."""
    if isinstance(node, dict):
        return {clean(k): clean(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [clean(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


@dataclass
class Infra:
    resources: dict[str, dict[str, dict]] = field(default_factory=dict)
    data: dict[str, dict[str, dict]] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """``${var.x}`` -> x's default, ``${local.x}`` -> x's value (recursively); anything else as it is."""
        match = _REF.match(value) if isinstance(value, str) else None
        if not match:
            return value
        kind, name = match.groups()
        if kind == "var":
            return self.resolve(self.variables[name].get("default"))
        return self.resolve(self.locals[name])


def load_infra(directory: Path = INFRA_DIR) -> Infra:
    import hcl2

    infra = Infra()
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = clean(hcl2.load(handle))
        infra.files[path.name] = parsed
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                infra.resources.setdefault(rtype, {}).update(named)
        for block in parsed.get("data", []):
            for dtype, named in block.items():
                infra.data.setdefault(dtype, {}).update(named)
        for block in parsed.get("variable", []):
            infra.variables.update(block)
        for block in parsed.get("output", []):
            infra.outputs.update(block)
        for block in parsed.get("locals", []):
            infra.locals.update(block)
    return infra
