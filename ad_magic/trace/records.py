"""Records of a traced run: the graph's Node records and every node's gradient.

`build_graph` turns what a run made (recorded Values, their names and sites:
in the cell, and in the code of the functions this cell or an earlier one
defines) into a `Graph`: nodes made before the cell first, then the cell's own in creation
order. `backward_into` fills in each record's exact adjoint without
leaving side effects on nodes made before the cell; `graph_of_value` does the
same for a Value built outside the magic (`%grad NAME`).
"""

from __future__ import annotations

from typing import Any

from ad_magic.engine.value import Value, propagate, topological
from ad_magic.trace.forward import forward_over_graph
from ad_magic.trace.graph import ArrayOp, Graph, Node, Place, label_and_var, parents_first
from ad_magic.trace.inputs import Bindings
from ad_magic.trace.recorder import Recorder, cell_lines
from ad_magic.trace.result import GradResult


def build_graph(
    outs: list[tuple[str, Value]],
    leaves: list[tuple[str, Value]],
    recorder: Recorder,
    bindings: Bindings,
    lines: list[str],
) -> tuple[Graph, list[Value], int]:
    """Records of every node the outputs depend on: older nodes first, then the cell's.

    outs are (name, Value) for each output: one, or several for a vector output.
    """
    reachable = parents_first([v for _, v in outs])[::-1]  # each node before its parents
    wanted = set(map(id, reachable))
    # Positions in recorder.made, not (k, v) pairs: one tracked object per node fewer
    # for the garbage collector to promote while the records are made.
    made = recorder.made
    made_at = [k for k, v in enumerate(made) if id(v) in wanted]
    mine = {id(made[k]) for k in made_at}
    older = [v for v in reversed(reachable) if id(v) not in mine]
    values = older + [made[k] for k in made_at]
    ids = {id(v): f"n{i}" for i, v in enumerate(values)}
    names = bindings.names
    inputs = {id(leaf): label for label, leaf in leaves}  # whatever label the cell gave it

    def record(v: Value) -> Node:
        a, b = v._a, v._b
        parents = () if a is None else (ids[id(a)],) if b is None else (ids[id(a)], ids[id(b)])
        node = Node(ids[id(v)], v._fn, parents, v.data)
        label = v.label
        if id(v) in inputs:
            node.name = inputs[id(v)]
            if label and label != node.name:
                node.also = label  # the cell relabelled an input: x (its label)
        else:
            var = names.get(id(v), "")
            if label or var:
                node.name, node.also = label_and_var(label, var)
        return node

    nodes = [record(v) for v in older]
    # (id of the code, offset) -> position, text. (Hashing a code object hashes its bytes.)
    where: dict[tuple[int, int], tuple[Any, str]] = {}
    inner: dict[tuple[int, int], Place | None] = {}  # the same in a function's code
    # A file name -> its lines, if a cell's (this one or an earlier one), else None.
    sources: dict[str, list[str] | None] = {recorder.filename: lines}
    sites = recorder.sites
    for k in made_at:
        node = record(made[k])
        site = sites[k]
        if site is not None:
            node.calls = site[0]
            key = (id(site[1]), site[2])
            if key not in where:
                pos = recorder.position(k)
                where[key] = (pos, source_text(lines, pos) if pos else "")
            pos, node.text = where[key]
            if pos is not None:
                node.line, node.end_line, node.col, node.end_col = pos
            if site[3] is not site[1]:  # made inside a function: where in it, if in a cell
                file = site[3].co_filename
                if file not in sources:
                    sources[file] = cell_lines(file)
                source = sources[file]
                if source is not None:
                    key = (id(site[3]), site[4])
                    if key not in inner:
                        pos = recorder.inner(site)
                        inner[key] = Place(*pos, source_text(source, pos)) if pos else None
                    node.body = inner[key]
        nodes.append(node)
    out_ids = [ids[id(v)] for _, v in outs]
    graph = Graph(nodes, output=out_ids[0], outputs=out_ids if len(outs) > 1 else [])
    graph.arrays = array_ops(recorder, ids)
    for (name, _), out_id in zip(outs, out_ids, strict=True):
        if not graph[out_id].name:
            graph[out_id].name = name or "out"
        elif len(outs) == 1 and name and graph[out_id].name != name:
            graph.output_name = name  # the output is a node named otherwise, e.g. the input
    return graph, values, len(older)


def array_ops(recorder: Recorder, ids: dict[int, str]) -> list[ArrayOp]:
    """The numpy calls the run recorded, each with the nodes of the graph it made."""
    made = recorder.made
    found = []
    for call in recorder.arrays:
        nodes = tuple(ids[id(v)] for v in made[call.start : call.stop] if id(v) in ids)
        if nodes:
            result = tuple(ids.get(k, "") for k in call.result)
            found.append(ArrayOp(call.name, tuple(call.shapes), call.shape, nodes, result))
    return found


def source_text(lines: list[str], pos: tuple[int, int, int, int]) -> str:
    """The cell's text in a position range on one line ('' across lines). Code
    positions count UTF-8 bytes, not characters (`é` is two)."""
    line, end_line, col, end_col = pos
    if line != end_line or not 0 < line <= len(lines):
        return ""
    return lines[line - 1].encode()[col:end_col].decode(errors="replace")


def unused_notes(graph: Graph, values: list[Value], leaves: list[tuple[str, Value]]) -> list[str]:
    """A note per input (array inputs as a whole) the output does not depend on."""
    present = set(map(id, values))
    used: dict[str, bool] = {}
    for label, leaf in leaves:
        name = label.partition("[")[0]
        used[name] = used.get(name, False) or id(leaf) in present
    return [
        f"{graph[graph.output].name} does not depend on {name}: its gradient is 0"
        for name, u in used.items()
        if not u
    ]


def backward_into(out: Value, graph: Graph, values: list[Value], keep: list[Value]) -> None:
    """Backward from out, giving each record its exact adjoint.

    values are the graph's nodes in record order. Every .grad is zeroed
    first, so what the pass leaves is exactly d(out)/d(node); the nodes in
    keep (made before the cell ran, such as a model's parameters) get their
    old .grad back afterwards, so tracing has no side effect on them.
    """
    saved = [(v, v.grad) for v in keep]
    for v in values:
        v.grad = 0.0
    out.grad = 1.0
    propagate(values[::-1])
    for node, v in zip(graph.nodes, values, strict=True):
        node.grad = float(v.grad)
    for v, old in saved:
        v.grad = old


def graph_of_value(root: Value, name: str, max_forward: int = 16) -> Any:
    """A GradResult for a Value built outside the magic, leaving every .grad as it was.

    Forward mode evaluates the graph as dual numbers do, one pass per input (up to
    max_forward inputs), as for a traced cell.
    """
    values = topological(root)[::-1]
    graph = Graph.from_value(root)
    backward_into(root, graph, values, keep=values)
    if not graph[graph.output].name:
        graph[graph.output].name = name
    inputs = {n.name or n.id: n.id for n in graph if n.kind == "input"}
    result = GradResult(None, graph, inputs, [])
    forward_over_inputs(result, inputs, max_forward)
    return result


def forward_over_inputs(result: GradResult, inputs: dict[str, str], max_forward: int) -> None:
    """Forward mode over a graph built outside a cell: one pass per input, if few enough."""
    if len(inputs) > max_forward:
        result.forward_note = (
            f"forward mode needs one pass per input: {len(inputs)} passes is more than "
            f"max_forward_passes={max_forward}"
        )
        return
    for label, seed in inputs.items():
        forward_over_graph(result.graph, seed, label)
