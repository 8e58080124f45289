"""The package's layers: imports point down only, and no module imports itself back.

Read statically from the source: every import statement counts, at the top,
inside functions and under `TYPE_CHECKING` alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ad_magic"

# Lowest first. A module may import its own layer and those below it.
LAYERS = ["engine", "trace", "render", "classroom", "widget", "top"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "top"


def imported(module: str) -> set[str]:
    """The ad_magic modules this module names in any import statement."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package) - {module}


def imports_in(source: str, package: str) -> set[str]:
    """The ad_magic modules some source names, for a module in package."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # `from pkg import mod` names the module pkg.mod where there is one
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        found |= {n for n in names if n in MODULES}
    return found


GRAPH = {m: imported(m) for m in MODULES}


def test_the_layers_are_folders():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(LAYERS) - {"top"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str):
    mine = LAYERS.index(layer(module))
    upward = sorted(m for m in GRAPH[module] if LAYERS.index(layer(m)) > mine)
    assert not upward, f"{module} ({layer(module)}) imports from a layer above: {upward}"


def test_the_engine_imports_nothing_of_the_rest():
    engine = [m for m in MODULES if layer(m) == "engine"]
    outside = {m: sorted(i for i in GRAPH[m] if layer(i) != "engine") for m in engine}
    assert not any(outside.values()), outside


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the path, 2 finished
    for start in graph:
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_no_import_cycles():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_reader_sees_hidden_imports():
    """An import inside a function, under TYPE_CHECKING or relative counts like any other."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ad_magic.widget.display import mimebundle\n"
        "def f():\n    from ad_magic import render\n    import ad_magic.magic\n"
        "from ..classroom import quiz\nfrom .steps import num\n"
    )
    assert imports_in(source, "ad_magic.trace") == {
        "ad_magic.widget.display",
        "ad_magic.render",
        "ad_magic.magic",
        "ad_magic.classroom.quiz",
        "ad_magic.trace.steps",
    }


def test_public_paths_keep_working():
    import ad_magic
    from ad_magic import Dual, Value, check_grad, render, sin  # noqa: F401
    from ad_magic.annotate import annotate  # noqa: F401
    from ad_magic.homework import concealment  # noqa: F401
    from ad_magic.render import View, config, save, summary, to_dot, to_html, to_svg  # noqa: F401
    from ad_magic.testing import assert_grad, assert_matches_numeric, assert_value  # noqa: F401

    assert callable(ad_magic.load_ipython_extension)
