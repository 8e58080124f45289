"""Rendering: DOT structure, SVG from both layout backends, escaping, groups, failures."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ad_magic import Value
from ad_magic.render import config, save, summary, to_dot, to_html, to_svg
from ad_magic.render.groups import View
from ad_magic.render.layout import (
    MAX_DEPTH,
    MAX_LABEL,
    LayoutError,
    _wasm,
    layout,
    longest_path,
    which_backend,
)
from ad_magic.trace.graph import Graph

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[2]

# Both backends are tested everywhere: Graphviz's dot must be on PATH (.ci/run installs it).
BACKENDS = ["dot", "wasm"]


def bench() -> Any:
    """benchmarks/bench_render.py, for its labelled micrograd graphs."""
    if str(ROOT / "benchmarks") not in sys.path:  # it imports bench_engine, as when run
        sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "bench_render", ROOT / "benchmarks/bench_render.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def fresh_config() -> Iterator[None]:
    saved = dict(vars(config))
    config.backend, config.budget, config.timeout = "auto", 150, 30.0
    yield
    vars(config).update(saved)


def small() -> Graph:
    """y = tanh(x*w + x*w) with a constant: x used twice by one op further on."""
    x, w = Value(1.5, label="x"), Value(-0.5, label="w")
    a = x * w
    y = (a + a).tanh() * 2
    y.backward()
    graph = Graph.from_value(y)
    for node in graph:
        node.tangents = {"x": 0.1 * int(node.id[1:]), "w": -1.0}
    return graph


def node_lines(source: str) -> dict[str, str]:
    """DOT node id -> its whole statement."""
    return dict(re.findall(r"^\t(n\d+|g\d+_n\d+) (\[.*\])$", source, re.M))


def edge_list(source: str) -> list[tuple[str, str, str]]:
    return re.findall(r"^\t(\S+) -> (\S+)(.*)$", source, re.M)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode())


def svg_nodes(root: ET.Element) -> dict[str, ET.Element]:
    """SVG node groups by their <title>."""
    return {
        g.find(f"{SVG}title").text or "": g  # type: ignore[union-attr]
        for g in root.iter(f"{SVG}g")
        if "node" in (g.get("class") or "").split()
    }


# DOT structure


def test_dot_names_every_node_by_its_id_and_draws_a_plus_a_as_two_edges() -> None:
    graph = small()
    source = to_dot(graph)
    assert set(node_lines(source)) == {n.id for n in graph}
    edges = [(a, b) for a, b, _ in edge_list(source)]
    expected = [(p, n.id) for n in graph for p in n.parents]
    assert sorted(edges) == sorted(expected)
    plus = next(n for n in graph if n.op.name == "add")
    assert edges.count((plus.parents[0], plus.id)) == 2


def test_labels_show_name_value_and_grad_and_kinds_have_classes() -> None:
    graph = small()
    lines = node_lines(to_dot(graph))
    x = next(n for n in graph if n.name == "x")
    assert f'label="x\\nvalue 1.5\\ngrad {x.grad:.4g}"' in lines[x.id]
    assert "class=input" in lines[x.id]
    const = next(n for n in graph if n.kind == "const")
    assert "label=2 class=const" in lines[const.id]
    tanh = next(n for n in graph if n.op.name == "tanh")
    assert lines[tanh.id].startswith('[label="tanh\\nvalue ') and "class=op" in lines[tanh.id]
    assert 'class="op output"' in lines[graph.output] and "peripheries=2" in lines[graph.output]
    looks = [re.findall(r"(?:shape|style|fillcolor)=(\S+)", lines[n.id]) for n in (x, const, tanh)]
    assert len({tuple(look) for look in looks}) == 3


def test_forward_mode_shows_the_tangent_for_the_chosen_seed() -> None:
    graph = small()
    x = next(n for n in graph if n.name == "x")
    first = node_lines(to_dot(graph, mode="forward"))[x.id]
    assert f"d/dx {x.tangents['x']:.4g}" in first and "grad" not in first
    assert "d/dw -1" in node_lines(to_dot(graph, mode="forward", seed="w"))[x.id]
    with pytest.raises(ValueError, match="mode"):
        to_dot(graph, mode="sideways")


def test_edges_carry_the_local_derivative_but_not_from_constants() -> None:
    graph = small()
    edges = edge_list(to_dot(graph))
    mul = next(n for n in graph if n.op.name == "mul" and graph[n.parents[1]].kind == "input")
    x, w = (graph[p] for p in mul.parents)
    labels = {src: attrs for src, dst, attrs in edges if dst == mul.id}
    assert f"label={w.value:g}" in labels[x.id] and f"label={x.value:g}" in labels[w.id]
    const = next(n for n in graph if n.kind == "const")
    assert all("label" not in attrs for src, _, attrs in edges if src == const.id)
    config.edge_labels = False
    assert all("label" not in attrs for *_, attrs in edge_list(to_dot(graph)))


def test_left_to_right_by_default_top_to_bottom_as_option() -> None:
    assert "rankdir=LR" in to_dot(small())
    config.direction = "TB"
    assert "rankdir=TB" in to_dot(small())


# SVG from both backends


@pytest.mark.parametrize("backend", BACKENDS)
def test_svg_keeps_ids_as_titles_kinds_as_classes_and_both_modes(backend: str) -> None:
    config.backend = backend
    graph = small()
    root = parse(to_svg(graph))
    assert root.get("class") == "ad-graph ad-reverse ad-lr ad-seed-0"
    nodes = svg_nodes(root)
    assert set(nodes) == {n.id for n in graph}
    assert "output" in (nodes[graph.output].get("class") or "").split()
    x = next(n for n in graph if n.name == "x")
    texts = {t.get("class"): t for t in nodes[x.id].iter(f"{SVG}text") if t.get("class")}
    assert texts["grad"].text == f"grad {x.grad:.4g}" and texts["grad"].get("display") is None
    assert texts["tangent seed-0"].text == "d/dx 0" and texts["tangent seed-0"].get("display")
    assert texts["tangent seed-1"].text == "d/dw -1"
    assert texts["grad"].get("x") == texts["tangent seed-1"].get("x")
    assert texts["grad"].get("y") == texts["tangent seed-1"].get("y")
    edges = [g for g in root.iter(f"{SVG}g") if "edge" in (g.get("class") or "").split()]
    assert len(edges) == sum(len(n.parents) for n in graph)
    assert root.find(f"{SVG}style") is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_switching_mode_needs_no_new_layout(backend: str) -> None:
    config.backend = backend
    graph = small()
    reverse, forward = to_svg(graph), to_svg(graph, mode="forward", seed="w")
    geometry = re.compile(r' (?:display="none"|class="ad-graph[^"]*")')
    assert geometry.sub("", reverse) == geometry.sub("", forward)
    texts = {t.get("class"): t for t in svg_nodes(parse(forward))["n0"].iter(f"{SVG}text")}
    assert (
        texts["grad"].get("display") == "none" and texts["tangent seed-1"].get("display") is None
    )


def test_the_backend_knob() -> None:
    assert which_backend("wasm") == "wasm" and which_backend("dot") == "dot"
    assert which_backend("auto") == ("dot" if shutil.which("dot") else "wasm")
    with pytest.raises(ValueError, match="auto, dot, wasm"):
        which_backend("cairo")


# Escaping

NASTY = [
    'say "hi"',
    "a<b>c",
    "<b>bold</b>",
    "<x>",
    "fish & chips",
    "&amp; &lt;",
    "{braces} [a|b]",
    "back\\slash \\N \\l \\G",
    "trailing\\",
    "naïve β ∂y/∂x 𝛼 数",
    "line\nbreak",
    "nul\x00x bell\x07 esc\x1b",
    "value of w",
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_names_render_literally(backend: str) -> None:
    config.backend = backend
    leaves = [Value(float(i), label=name) for i, name in enumerate(NASTY)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    total.backward()
    graph = Graph.from_value(total)
    nodes = svg_nodes(parse(to_svg(graph)))
    for node in graph:
        if node.name:
            first = next(nodes[node.id].iter(f"{SVG}text")).text
            assert first == printable(node.name) and "\x00" not in first
    assert "Say" not in summary(graph) and 'say "hi"' in summary(graph)


def printable(name: str) -> str:
    """A name as a box shows it: control characters as their Python escapes."""
    return "".join(repr(c)[1:-1] if ord(c) < 32 or ord(c) == 127 else c for c in name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_control_characters_and_value_labels_make_valid_svg(backend: str) -> None:
    # Names reach the SVG also as seeds of the forward-mode lines ("d/dnul\x00x 1").
    config.backend = backend
    w, v = Value(2.0, label="nul\x00x"), Value(3.0, label="value of w")
    y = w * v
    y.backward()
    graph = Graph.from_value(y)
    for node in graph:
        node.tangents = {w.label: 1.0, v.label: 0.0}
    svg = to_svg(graph, mode="forward", seed=w.label)
    assert "\x00" not in svg
    nodes = svg_nodes(parse(svg))  # valid XML
    for node in graph:
        values = [t for t in nodes[node.id].iter(f"{SVG}text") if t.get("class") == "value"]
        assert [t.text for t in values] == [f"value {node.value:.4g}"]  # the value line only
    texts = [t.text for t in nodes[graph.output].iter(f"{SVG}text")]
    assert "d/dnul\\x00x 1" in texts


def test_a_user_name_never_becomes_markup_in_html() -> None:
    x = Value(1.0, label="<script>alert(1)</script>")
    y = x * 2
    y.backward()
    config.backend = "wasm"
    out = to_html(Graph.from_value(y))
    assert "<script>" not in out and "&lt;script&gt;" in out


# Groups


def calls_graph() -> Graph:
    """A labelled micrograd step: MLP(2, [4, 4, 1]) on 3 points (about 330 nodes)."""
    return bench().demo_step([4, 4, 1], 3)


def test_small_graphs_are_not_grouped() -> None:
    graph = small()
    view = View(graph)
    assert view.units() == [n.id for n in graph] and not view.expanded


def test_large_graphs_are_grouped_by_call_within_the_budget() -> None:
    graph = calls_graph()
    view = View(graph, budget=40)
    units = view.units()
    assert len(graph) > 300 and len(units) <= 40
    assert graph.output in units
    titles = {view.groups[u].title.split("#")[0] for u in units if u in view.groups}
    assert {"Layer.__call__", "Neuron.__call__"} <= titles
    source = to_dot(graph, view)
    assert set(node_lines(source)) == set(units)
    group = next(u for u in units if u in view.groups)
    assert f"{view.groups[group].size} nodes" in node_lines(source)[group]
    assert "class=group" in node_lines(source)[group]


def u_title(view: View, unit: str) -> str:
    return view.groups[unit].title if unit in view.groups else unit


def test_expand_and_collapse_a_group_level_by_level() -> None:
    graph = calls_graph()
    view = View(graph, budget=12)
    call = next(u for u in view.units() if re.fullmatch(r"MLP.__call__#\d+", u_title(view, u)))
    before = view.units()
    view.expand(call)
    after = view.units()
    assert call not in after
    layers = [u for u in after if u in view.groups and u not in before]
    titles = {view.groups[u].title.split("#")[0] for u in layers}
    assert "Layer.__call__" in titles and titles <= {"Layer.__call__", "Neuron.__call__"}
    members = set(view.members(call))
    assert {n for u in layers for n in view.members(u)} <= members
    view.collapse(call)
    assert view.units() == before
    with pytest.raises(KeyError, match="no group 'g9_n9'"):
        view.expand("g9_n9")


def test_group_edges_are_merged_and_counted() -> None:
    graph = calls_graph()
    view = View(graph, budget=10)
    unit = dict(zip((n.id for n in graph), view.unit_of(), strict=True))
    edges = view.edges()
    crossing = [(unit[p], unit[n.id]) for n in graph for p in n.parents if unit[p] != unit[n.id]]
    assert sum(e.count for e in edges) == len(crossing)
    assert len({(e.src, e.dst) for e in edges if e.arg is None}) == len(
        [e for e in edges if e.arg is None]
    )


def test_group_ids_are_stable_when_other_groups_open() -> None:
    graph = calls_graph()
    view = View(graph, budget=10)
    ids = set(view.groups)
    for group_id in list(ids)[:5]:
        view.expand(group_id)
    assert set(View(graph, budget=10).groups) == ids == set(view.groups)


def test_a_graph_without_calls_or_lines_is_grouped_in_blocks() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(1000):
        y = y.tanh()
    graph = Graph.from_value(y)
    view = View(graph, budget=20)
    assert len(view.units()) <= 20
    assert all("…" in view.groups[u].title for u in view.units() if u in view.groups)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_30000_node_mlp_step_draws_grouped(backend: str) -> None:
    config.backend = backend
    graph = bench().demo_step([16, 16, 1], 50)
    assert len(graph) > 30_000
    view = View(graph)
    assert len(view.units()) <= 150
    root = parse(to_svg(graph, view))
    assert set(svg_nodes(root)) == set(view.units())


# Failures and time bounds


def slow_dot() -> str:
    """A DOT graph that takes Graphviz several seconds."""
    import random

    rng = random.Random(0)
    edges = [f"n{i} -> n{rng.randrange(max(0, i - 5), i)};" for i in range(1, 1000)]
    edges += [f"n{rng.randrange(1000)} -> n{rng.randrange(1000)};" for _ in range(100)]
    return "digraph {rankdir=LR " + " ".join(edges) + "}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_slow_layout_is_stopped_with_a_message_and_the_next_one_works(backend: str) -> None:
    with pytest.raises(LayoutError, match=r"longer than 0\.2 s and was stopped"):
        layout(slow_dot(), backend=backend, timeout=0.2)
    assert layout("digraph { a -> b }", backend=backend).lstrip().startswith(b"<?xml")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_dot_gives_a_layout_error(backend: str) -> None:
    with pytest.raises(LayoutError, match="Graphviz"):
        layout("digraph { a -> ", backend=backend)


def chain_dot(edges: int) -> str:
    return "digraph {\n" + "\n".join(f"n{i} -> n{i + 1}" for i in range(edges)) + "\n}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_both_backends_have_the_same_limits_and_one_line_reasons(backend: str) -> None:
    label = 'digraph { a [label="' + "x" * MAX_LABEL + '"] }'
    assert b"<svg" in layout(label, backend=backend)
    longer = label.replace('"x', '"xx')
    with pytest.raises(LayoutError) as err:
        layout(longer, backend=backend)
    assert str(err.value) == (
        f"a label of {MAX_LABEL + 1:,} characters is longer than Graphviz takes "
        f"({MAX_LABEL:,}); shorten it"
    )
    with pytest.raises(LayoutError) as err:
        layout(chain_dot(MAX_DEPTH + 1), backend=backend)
    assert str(err.value).startswith(f"the graph is {MAX_DEPTH + 1:,} edges deep")
    assert "\n" not in str(err.value)


def test_the_wasm_layout_manages_deep_graphs_and_says_why_it_stops() -> None:
    assert b"<svg" in layout(chain_dot(7_500), backend="wasm", timeout=60)
    with pytest.raises(LayoutError) as err:  # past the limit, were it not checked
        _wasm.render(chain_dot(40_000), "svg", 60)
    assert str(err.value) == (
        "The WebAssembly Graphviz failed: its call stack ran out (the graph is too deep)"
    )
    assert b"<svg" in layout("digraph { a -> b }", backend="wasm")  # and it works again


def test_longest_path() -> None:
    assert longest_path([]) == 0
    assert longest_path([("a", "b"), ("b", "c"), ("a", "c")]) == 2
    assert longest_path([("a", "b"), ("b", "a"), ("c", "d")]) == 1  # a cycle counts nothing


def test_to_html_falls_back_to_the_message_and_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    config.timeout = 0.001
    config.backend = "wasm"
    graph = bench().demo_step([16, 16, 1], 5)
    out = to_html(graph)
    assert out.startswith('<pre class="ad-graph-error">Could not draw the graph: ')
    assert "was stopped" in out and f"Graph of {len(graph)} nodes" in out


def test_without_dot_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(LayoutError, match="not on PATH"):
        layout("digraph { a }", backend="dot")
    assert b"<svg" in layout("digraph { a }", backend="auto")


def test_the_wasm_layout_cannot_write_png() -> None:
    with pytest.raises(LayoutError, match="cannot write PNG"):
        layout("digraph { a }", "png", backend="wasm")


def test_the_compiled_module_is_cached_on_disk(tmp_path: Path) -> None:
    code = (
        "from ad_magic.render.layout import layout; "
        "print(len(layout('digraph{a}', backend='wasm')))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        cached = list((tmp_path / "ad_magic").glob("graphviz-*.cwasm"))
        assert len(cached) == 1
    cached[0].write_bytes(b"damaged")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and int(done.stdout) > 100


# Static outputs


def test_summary_lists_counts_output_and_nodes() -> None:
    graph = small()
    text = summary(graph)
    assert text.startswith(f"Graph of {len(graph)} nodes: 2 inputs, 1 constants, 4 operations.")
    assert all(f" {n.id} " in text for n in graph)
    graph = calls_graph()
    big = summary(graph)
    view = View(graph, config.budget, boxes=config.boxes)
    drawn = [view.groups[u] for u in view.units() if u in view.groups]
    assert f"Groups drawn ({len(drawn)}):" in big and "Layer.__call__#" in big
    assert all(f"{g.id:>10}  {g.label}  ({g.size} nodes)" in big for g in drawn[:20])


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_by_suffix(tmp_path: Path, backend: str) -> None:
    config.backend = backend
    graph = small()
    assert parse(save(graph, tmp_path / "g.svg").read_text()).tag == f"{SVG}svg"
    assert save(graph, tmp_path / "g.dot").read_text() == to_dot(graph)
    if backend == "dot":
        assert save(graph, tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.dot"):
        save(graph, tmp_path / "g.pdf")


# A graph from the %%grad tracer


def test_a_traced_cell_draws_with_its_names_and_calls() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or InteractiveShell.instance()  # None once another test started it
    ip.run_line_magic("load_ext", "ad_magic")
    cell = "def layer(h, w):\n    return tanh(h * w + 0.1)\nh = x\nfor i in range(60):\n"
    cell += "    h = layer(h, 0.9)\ny = h * h\n"
    try:
        assert ip.run_cell("%%grad x=0.5\n" + cell).success
        graph = ip.user_ns["_grad"].graph
    finally:
        ip.run_line_magic("unload_ext", "ad_magic")
    view = View(graph, budget=20)
    titles = {view.groups[u].title.split("#")[0] for u in view.units() if u in view.groups}
    assert len(view.units()) <= 20 and "layer" in titles
    config.backend = "wasm"
    texts = [t.text for t in parse(to_svg(graph, view)).iter(f"{SVG}text")]
    assert "x" in texts and any(t and t.startswith("d/dx ") for t in texts)
