"""The house rules of `src/proofgate`: no import cycle, and no import that runs up the layers.

Every import counts, also those inside functions and under `TYPE_CHECKING`. The layers, highest
first, are the table in docs/architecture.md; a module may import from its own layer or lower ones.
`python -m tests.test_architecture` prints the package-level import graph that docs/architecture.md
shows.
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "proofgate"

#: Highest first. A name is a module or package directly under `proofgate`; "" is the package's
#: own `__init__` (the public API, which re-exports the client and the models).
LAYERS: list[tuple[str, frozenset[str]]] = [
    (
        "fronts",
        frozenset(
            {
                "",
                "__main__",
                "cli",
                "api",
                "mcp_server",
                "dojo",
                "ci",
                "batch",
                "extract",
                "reports",
                "bench",
                "rewards",
            }
        ),
    ),
    ("client", frozenset({"client", "backends"})),
    ("service", frozenset({"service", "sessions", "triage", "jobs"})),
    ("verify", frozenset({"verify"})),
    ("lean", frozenset({"lean"})),
    ("resources", frozenset({"sandbox", "store", "environments"})),
    ("base", frozenset({"models", "config", "exceptions", "logs", "ticks", "__about__"})),
]

#: The only modules outside `api/` that may import it: `proofgate serve`, and the benchmark's
#: server, which runs the app as `serve` does (tests import it too).
API_IMPORTERS = frozenset({"proofgate.cli.server", "proofgate.bench.server"})

#: At most this many modules directly in `src/proofgate` (the rest live in packages by noun).
MAX_TOP_LEVEL_MODULES = 12


def module_name(path: Path, root: Path = SRC) -> str:
    parts = ["proofgate", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The `proofgate` modules that `path` (module `name`) imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from proofgate.x import y` may name the module x.y
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in known else target)
    return {m for m in found if m == "proofgate" or m.startswith("proofgate.")} - {name}


def read_import_graph(root: Path = SRC) -> dict[str, set[str]]:
    paths = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(paths)
    return {name: imports_of(path, name, known) for name, path in paths.items()}


@functools.cache
def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """`read_import_graph`, read in a fresh interpreter: CPython 3.11 keeps one AST constructor
    state per interpreter, so an `ast.parse` here can fail with "AST constructor recursion depth
    mismatch" while a thread an earlier test left behind parses too (a traceback being formatted
    does). The graph itself is the same."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.test_architecture", "--json", str(root)],
        cwd=SRC.parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {name: set(targets) for name, targets in json.loads(done.stdout).items()}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise LookupError(f"{module} is in no layer: add `{top}` to LAYERS and docs/architecture.md")


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer_of(target) < layer_of(module):
                found.append(
                    f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                    f"({LAYERS[layer_of(target)][0]})"
                )
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The graph between top-level names (`proofgate.verify.policy` is `verify`)."""

    def top(module: str) -> str:
        return module.split(".")[1] if "." in module else "proofgate"

    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        edges[top(module)].update(top(t) for t in targets if top(t) != top(module))
    return dict(edges)


def render(graph: Mapping[str, set[str]]) -> str:
    """The package graph as text, layer by layer, highest first."""
    packages = package_graph(graph)
    lines = []
    for name, members in LAYERS:
        lines.append(f"{name}:")
        for member in sorted(members):
            label = member or "proofgate"
            if label in packages or any(label in t for t in packages.values()):
                targets = ", ".join(sorted(packages.get(label, ()))) or "-"
                lines.append(f"  {label} -> {targets}")
    return "\n".join(lines)


# --- the rules --------------------------------------------------------------------------------


def test_every_module_is_in_a_layer() -> None:
    for module in import_graph():
        layer_of(module)  # raises, naming the module


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_import_runs_up_the_layers() -> None:
    assert upward_imports(import_graph()) == []


def test_only_serve_imports_the_http_app() -> None:
    importers = {
        module
        for module, targets in import_graph().items()
        if not module.startswith("proofgate.api")
        and any(t == "proofgate.api" or t.startswith("proofgate.api.") for t in targets)
    }
    assert importers <= API_IMPORTERS, sorted(importers - API_IMPORTERS)


def test_few_modules_live_directly_in_the_package() -> None:
    top_level = sorted(path.name for path in SRC.glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level


def test_the_docs_show_the_same_layers() -> None:
    text = (SRC.parents[1] / "docs" / "architecture.md").read_text("utf-8")
    for name, members in LAYERS:
        row = next((line for line in text.splitlines() if line.startswith(f"| {name} |")), None)
        assert row is not None, f"docs/architecture.md has no row for the layer {name}"
        for member in members - {""}:
            assert f"`{member}" in row, f"docs/architecture.md: `{member}` missing from {name}"


def test_the_docs_graph_is_current() -> None:
    text = (SRC.parents[1] / "docs" / "architecture.md").read_text("utf-8")
    assert render(import_graph()) in text, "regenerate: python -m tests.test_architecture"


# --- the checker checks: each rule fails on a tree that breaks it -------------------------------


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "proofgate"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def test_an_import_inside_a_function_is_seen(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "models/__init__.py": "def f():\n    from proofgate.service import X\n",
            "service.py": "from proofgate import models\n",
        },
    )
    graph = import_graph(root)
    assert "proofgate.service" in graph["proofgate.models"]
    assert cycles(graph) == [["proofgate.models", "proofgate.service"]]
    assert upward_imports(graph) == ["proofgate.models (base) imports proofgate.service (service)"]


def test_relative_and_type_checking_imports_are_seen(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "lean/__init__.py": "",
            "lean/pool.py": (
                "from typing import TYPE_CHECKING\n"
                "from . import repl\n"
                "if TYPE_CHECKING:\n    from ..verify.audit import Auditor\n"
            ),
            "lean/repl.py": "",
            "verify/__init__.py": "",
            "verify/audit.py": "",
        },
    )
    graph = import_graph(root)
    assert graph["proofgate.lean.pool"] == {"proofgate.lean.repl", "proofgate.verify.audit"}
    assert upward_imports(graph) == [
        "proofgate.lean.pool (lean) imports proofgate.verify.audit (verify)"
    ]


def test_a_module_outside_the_table_is_named(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"__init__.py": "", "gadgets.py": ""})
    with pytest.raises(LookupError, match=r"proofgate\.gadgets is in no layer"):
        for module in import_graph(root):
            layer_of(module)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--json"]:
        graph = read_import_graph(Path(sys.argv[2]))
        sys.stdout.write(json.dumps({name: sorted(targets) for name, targets in graph.items()}))
    else:
        sys.stdout.write(render(read_import_graph()) + "\n")
