"""What an image must install: the third-party imports a set of our modules reaches, and what a requirements file
brings (its pins plus their own dependencies, as installed here).

The walk reads source with ``ast`` and never imports it, so a module that would fail to import in an image is
still walked. It follows our own imports transitively, at module level and inside functions alike (a late
import runs too, just later); ``if TYPE_CHECKING:`` blocks are skipped (they never run).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ftm_assets"


@dataclass(frozen=True)
class ThirdPartyImport:
    """One third-party top-level name, and where it is imported (for the failure message)."""

    name: str
    module: str
    line: int


@dataclass
class Walk:
    """Our modules reached from the roots, and the third-party names they import."""

    modules: set[str] = field(default_factory=set)
    imports: list[ThirdPartyImport] = field(default_factory=list)

    def names(self) -> set[str]:
        return {i.name for i in self.imports}


def module_path(module: str, root: Path = PROJECT_ROOT) -> Path | None:
    """The source file of one of our modules (a package's ``__init__.py``), or None when it does not exist."""
    base = root.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def submodules(package: str, root: Path = PROJECT_ROOT) -> list[str]:
    """A module, or a package and every module below it (so a root survives files moving inside it)."""
    path = module_path(package, root)
    if path is None:
        raise FileNotFoundError(f"{package} is not a module under {root}: update the roots of the image test")
    if path.name != "__init__.py":
        return [package]
    found = []
    for source in sorted(path.parent.rglob("*.py")):
        rel = source.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found.append(".".join(parts))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_modules(tree: ast.Module, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import that runs: ``a.b``; ``from a import b`` gives a and a.b."""
    found: list[tuple[str, int]] = []
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base_parts = package[: len(package) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((base, node.lineno))
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*")
    return found


def walk(roots: list[str], root: Path = PROJECT_ROOT) -> Walk:
    """Every module of ours reachable from ``roots`` and each third-party top-level name they import."""
    stdlib = set(sys.stdlib_module_names)
    result = Walk()
    todo = [m for r in roots for m in submodules(r, root)]
    while todo:
        module = todo.pop()
        if module in result.modules:
            continue
        path = module_path(module, root)
        if path is None:
            continue  # `from pkg import name` where name is not a module
        result.modules.add(module)
        # A module runs its packages' __init__ first.
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        tree = ast.parse(path.read_text(), str(path))
        for name, line in _imported_modules(tree, module, path.name == "__init__.py"):
            top = name.split(".")[0]
            if top == PACKAGE:
                todo.append(name)
            elif top and top not in stdlib and top != "__future__":
                result.imports.append(ThirdPartyImport(top, module, line))
    return result


def read_requirements(*files: Path) -> list[Requirement]:
    """The requirements of pip requirements files (comments, options and ``-c`` lines left out)."""
    reqs = []
    for path in files:
        for raw in path.read_text().splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-")):
                continue
            try:
                reqs.append(Requirement(line))
            except InvalidRequirement as exc:
                raise ValueError(f"{path}: cannot parse requirement {line!r}: {exc}") from exc
    return reqs


def installed_closure(reqs: list[Requirement]) -> tuple[set[str], set[str]]:
    """Distributions pip installs for ``reqs`` (their dependencies too, read from this venv's metadata), and
    those not installed here, whose own dependencies could not be followed."""
    closure: set[str] = set()
    unknown: set[str] = set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in reqs]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        closure.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            unknown.add(name)
            continue
        for spec in requires:
            dep = Requirement(spec)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in envs):
                todo.append((canonicalize_name(dep.name), frozenset(dep.extras)))
    return closure, unknown


@functools.cache
def _providers() -> dict[str, list[str]]:
    return md.packages_distributions()  # scans every installed distribution: once per session


def distributions_of(import_name: str) -> set[str]:
    """The installed distributions that provide a top-level import name (empty when none here does)."""
    return {canonicalize_name(d) for d in _providers().get(import_name, [])}


def pinned_versions(reqs: list[Requirement]) -> dict[str, str]:
    """name -> version of ``==`` pins."""
    pins = {}
    for req in reqs:
        match = re.fullmatch(r"==\s*([^,;\s]+)", str(req.specifier))
        if match:
            pins[canonicalize_name(req.name)] = match.group(1)
    return pins
