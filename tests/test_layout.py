"""The import graph: no cycles, and only down the layers the package docstring states.

The graph holds every import of ``beancount_ponto`` and ``fava_ponto``
modules, those under ``if TYPE_CHECKING:`` included (a type is a dependency
too). ``from package import submodule`` counts as an import of the submodule.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import beancount_ponto

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "beancount_ponto": ROOT / "beancount_ponto",
    "fava_ponto": ROOT / "fava_extension" / "fava_ponto",
}
_LAYER_RE = re.compile(r"^\d+\. \*\*(\w+)\*\*: ([\w, \n]+?)\s*\(", re.M)


def modules() -> dict[str, Path]:
    """Every module of both packages, by dotted name."""
    found: dict[str, Path] = {}
    for package, base in PACKAGES.items():
        for path in base.rglob("*.py"):
            parts = [package, *path.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports (its own parent packages left out)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in known:
                continue
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            out |= subs
            if len(subs) < len(node.names):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names} & known
    return {m for m in out if m != name and not name.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def layers() -> dict[str, int]:
    """Module prefix (``ponto``, ``cli``, ``fava_ponto``) -> its layer, from the docstring."""
    doc = beancount_ponto.__doc__ or ""
    ranks: dict[str, int] = {}
    for rank, (_name, members) in enumerate(_LAYER_RE.findall(doc)):
        for member in re.split(r"[,\s]+", members.strip()):
            prefix = member if member == "fava_ponto" else f"beancount_ponto.{member}"
            ranks[prefix] = rank
    return ranks


def layer_of(module: str, ranks: dict[str, int]) -> int | None:
    """The layer of ``module``: its longest listed prefix (the package root is below all)."""
    if module == "beancount_ponto":
        return -1
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        rank = ranks.get(".".join(parts[:end]))
        if rank is not None:
            return rank
    return None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets (empty for an acyclic graph)."""
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_the_docstring_lists_seven_layers() -> None:
    ranks = layers()
    assert sorted(set(ranks.values())) == list(range(7))
    assert ranks["beancount_ponto.ponto"] == 1
    assert ranks["fava_ponto"] == 6


def test_every_module_has_a_layer() -> None:
    ranks = layers()
    unplaced = sorted(m for m in graph() if layer_of(m, ranks) is None)
    assert unplaced == [], "add these to the layers in beancount_ponto/__init__.py"


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_imports_only_point_down() -> None:
    ranks = layers()
    upward = [
        f"{module} -> {target}"
        for module, targets in sorted(graph().items())
        for target in sorted(targets)
        if (layer_of(target, ranks) or 0) > (layer_of(module, ranks) or 0)
    ]
    assert upward == []


def test_the_sdk_imports_only_errors() -> None:
    edges = graph()
    outside = {
        target
        for module, targets in edges.items()
        if module.startswith("beancount_ponto.ponto")
        for target in targets
        if not target.startswith("beancount_ponto.ponto")
    }
    assert outside <= {"beancount_ponto", "beancount_ponto.errors"}


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    ranks = layers()
    assert layer_of("beancount_ponto.sync", ranks) == 4
    assert layer_of("beancount_ponto.cli.main", ranks) == 6
    assert (layer_of("beancount_ponto.runner", ranks) or 0) > (
        layer_of("beancount_ponto.state", ranks) or 0
    )


def test_the_readme_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Development") :]
    missing = []
    for name, path in modules().items():
        if path.name == "__init__.py":
            continue
        if f"`{path.name}`" not in section and f"/{path.name}`" not in section:
            missing.append(name)
    assert missing == []
