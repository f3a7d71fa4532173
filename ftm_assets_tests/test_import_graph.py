"""The package's import graph (parsed with ``ast``, never imported): no cycle among ftm_assets modules, the
Dagster side never imports ``ftm_assets.worker``, and nothing the worker loads imports ``dagster``.

Edges: every ``import``/``from … import`` in a module, at top level or inside a function (a late import
hides a loop, it does not remove it). ``from pkg import name`` points at ``pkg.name`` when that is a module,
else at ``pkg``. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so those are edges too,
except a module's own enclosing packages (already running when it loads). Package ``__init__`` re-exports
are edges like any other import.

The sides:
- worker: ``ftm_assets.worker`` and everything below it (imports ``dagster_pipes``, never ``dagster``);
- neutral: the modules listed in ``NEUTRAL``, which both sides may use (no ``dagster``, no worker);
- Dagster side: every other module of ftm_assets (definitions, assets, resources, launchers, themes,
  readers, summary, run, export, transcripts sources).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "ftm_assets"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
WORKER = "ftm_assets.worker"

# What the worker may import outside ftm_assets.worker, and the Dagster side may import too. A module here
# imports neither dagster nor the worker; its own ftm_assets imports stay inside this list.
NEUTRAL = frozenset({
    "ftm_assets",
    "ftm_assets.batching",
    "ftm_assets.constants",
    "ftm_assets.env_values",
    "ftm_assets.markdown",
    "ftm_assets.outcomes",
    "ftm_assets.pipes_keys",
    "ftm_assets.quarters",
    "ftm_assets.schema",
    "ftm_assets.storage",
    "ftm_assets.storage.commit",
    "ftm_assets.storage.embeddings",
    "ftm_assets.storage.file_hash",
    "ftm_assets.storage.layout",
    "ftm_assets.storage.lease",
    "ftm_assets.storage.raw_inputs",
    "ftm_assets.storage.manifest",
    "ftm_assets.storage.root",
    "ftm_assets.storage.sentence_vectors",
    "ftm_assets.text",
    "ftm_assets.text.stopwords",
    "ftm_assets.text.tone",
    "ftm_assets.transcripts",
    "ftm_assets.transcripts.demo",
    "ftm_assets.transcripts.demo_vocabulary",
    "ftm_assets.versions",
    "ftm_assets.worker_config",
})


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve_relative(module: str, level: int, target: str | None) -> str:
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def imported_names(module: str) -> set[str]:
    """Every dotted name ``module`` imports (absolute; ``from x import y`` gives ``x`` and ``x.y``)."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, node.level, node.module) if node.level else node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def internal_edges(module: str) -> set[str]:
    """The ftm_assets modules that loading ``module`` runs directly (see the module docstring)."""
    own = set(_ancestors(module))
    edges: set[str] = set()
    for name in imported_names(module):
        if name in MODULES:
            target = name
        elif name.rsplit(".", 1)[0] in MODULES and name.startswith(PACKAGE + "."):
            target = name.rsplit(".", 1)[0]  # from pkg import attribute
        else:
            continue
        edges.update(t for t in [*_ancestors(target), target] if t in MODULES and t not in own and t != module)
    return edges


GRAPH = {m: internal_edges(m) for m in MODULES}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def _closure(start: set[str]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for w in GRAPH[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def _imports_dagster(module: str) -> list[str]:
    return sorted(n for n in imported_names(module) if n == "dagster" or n.startswith("dagster."))


def test_the_graph_sees_the_package() -> None:
    """A parser that found nothing would pass every check below."""
    assert {"ftm_assets.definitions", "ftm_assets.worker.batch", "ftm_assets.storage.commit"} <= set(MODULES)
    assert "ftm_assets.storage.commit" in GRAPH["ftm_assets.worker.batch"]
    assert NEUTRAL <= set(MODULES), f"NEUTRAL names modules that do not exist: {sorted(NEUTRAL - set(MODULES))}"


def test_no_import_cycle() -> None:
    cycles = _cycles()
    detail = "\n".join(
        "  " + " ; ".join(f"{m} -> {sorted(GRAPH[m] & set(c))}" for m in c) for c in cycles
    )
    assert not cycles, f"Import cycles among ftm_assets modules (module -> what it imports in the cycle):\n{detail}"


def test_dagster_side_never_imports_the_worker() -> None:
    offenders = {
        m: sorted(t for t in GRAPH[m] if _in(t, WORKER))
        for m in MODULES
        if not _in(m, WORKER) and m not in NEUTRAL
    }
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"Dagster-side modules import the worker (move what both use to a NEUTRAL module): {offenders}"


def test_worker_loads_only_worker_and_neutral_modules() -> None:
    loaded = _closure({m for m in MODULES if _in(m, WORKER)})
    outside = sorted(m for m in loaded if not _in(m, WORKER) and m not in NEUTRAL)
    assert not outside, f"The worker loads modules of the Dagster side: {outside}"


def test_neutral_modules_import_neither_worker_nor_dagster_side() -> None:
    bad = {m: sorted(t for t in GRAPH[m] if t not in NEUTRAL) for m in NEUTRAL}
    bad = {m: t for m, t in bad.items() if t}
    assert not bad, f"Neutral modules import beyond NEUTRAL: {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, WORKER) or m in NEUTRAL))
def test_worker_and_neutral_modules_never_import_dagster(module: str) -> None:
    assert not _imports_dagster(module), f"{module} imports {_imports_dagster(module)}: the worker has dagster_pipes only."


def test_a_cycle_is_found_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle finder itself: a two-module loop added to the graph is reported."""
    monkeypatch.setitem(GRAPH, "ftm_assets.quarters", GRAPH["ftm_assets.quarters"] | {"ftm_assets.schema"})
    monkeypatch.setitem(GRAPH, "ftm_assets.schema", GRAPH["ftm_assets.schema"] | {"ftm_assets.quarters"})
    assert ["ftm_assets.quarters", "ftm_assets.schema"] in _cycles()


def test_only_public_dagster_imports() -> None:
    """``dagster._…`` is Dagster's private API: it moves between releases without notice."""
    private = {m: sorted(n for n in imported_names(m) if n.startswith("dagster._")) for m in MODULES}
    private = {m: n for m, n in private.items() if n}
    assert not private, f"Private Dagster imports (use the public name on `dagster`): {private}"
