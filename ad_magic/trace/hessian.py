"""Second derivatives of a traced cell: the Hessian by forward-over-reverse.

`second_order(result)` replays the recorded graph as Values and runs the
backward pass with Values for gradients (`value.propagate_graph`), so the
gradient computation becomes a graph in its own right: the first-order rule
of each step, applied to the nodes it reads. Its nodes are recorded with the
rule that made them (`calls`, which is what groups a drawing) and named
`grad(h)` where they hold a node's whole gradient.

Forward mode over that graph, one pass per input, gives d(gradient)/d(input):
a column of the Hessian per pass. `hvp(v)` is one forward pass seeded with
the direction v instead: H·v without forming H.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ad_magic.engine import value
from ad_magic.engine.check import GradCheck, GradEntry
from ad_magic.engine.ops import CONST, INPUT, chain, fill
from ad_magic.engine.value import Value, propagate_graph, topological
from ad_magic.trace.graph import Graph, Node
from ad_magic.trace.result import GradResult
from ad_magic.trace.steps import Step, factor, forward_steps, num

VALUES = "the function"  # the group of the first-order graph's own nodes


@dataclass
class Second:
    """The gradient computation as a graph, and what forward mode over it found."""

    graph: Graph  # the gradient computation: the function's nodes, then the rules' nodes
    labels: list[str]  # the scalar inputs, in order: x, W[0,0], W[0,1], ...
    leaves: list[str | None]  # each input's node in graph (None: the output ignores it)
    grads: list[str | None]  # each input's gradient node (None: constant zero)
    output: str  # the first-order output's name, for titles: "y"
    note: str = ""  # why there is no Hessian, when there are too many inputs
    max_inputs: int = 32  # the most inputs it runs a forward pass for

    def again(self, graph: Graph, inputs: list[tuple[str, str | None]]) -> Second:
        """The same computation for another traced graph (a live input changed)."""
        return second_order(graph, inputs, self.max_inputs)

    @property
    def hessian(self) -> np.ndarray:
        """H[i, j] = d²out/d input_i d input_j, from the forward passes."""
        if self.note:
            raise ValueError(self.note)
        n = len(self.labels)
        h = np.zeros((n, n))
        for i, g in enumerate(self.grads):
            if g is not None:
                node = self.graph[g]
                h[i] = [node.tangents.get(label, 0.0) for label in self.labels]
        return h

    def hvp(self, v: Sequence[float] | np.ndarray) -> np.ndarray:
        """H·v by one forward pass over the gradient computation seeded with v."""
        v = np.asarray(v, dtype=float).ravel()
        if v.shape != (len(self.labels),):
            raise ValueError(
                f"hvp needs one number per input ({', '.join(self.labels)}), got {v.size}"
            )
        seeds = {leaf: float(x) for leaf, x in zip(self.leaves, v, strict=True) if leaf}
        tangents = tangents_along(self.graph, seeds)
        return np.array([tangents[g] if g is not None else 0.0 for g in self.grads])

    def steps(self, seed: str | None = None) -> list[Step]:
        """The forward pass over the gradient computation for one input: H's column."""
        seed = seed or self.labels[0]
        if seed not in self.labels:
            raise ValueError(f"no second pass for {seed!r}; inputs: {', '.join(self.labels)}")
        if self.note:
            raise ValueError(self.note)
        return forward_steps(self.graph, seed)

    def result(self) -> GradResult:
        """The gradient computation as a result of its own, to show like any other: its
        forward passes are the second pass (one per input, each a column of the Hessian);
        its reverse pass differentiates its output, the first input's gradient: that
        input's row of the Hessian, by reverse-over-reverse."""
        inputs = dict(zip(self.labels, self.leaves, strict=True))
        pairs = zip(self.labels, self.grads, strict=True)
        first = next((label for label, g in pairs if g == self.graph.output), "")
        notes = [
            f"The gradient computation of {self.output}, grouped by the first-order rule "
            f"that made each part. Forward mode over it, seeded at one input, is the second "
            f"pass: each input's gradient gets its column of the Hessian.",
            f"Its reverse mode differentiates d{self.output}/d{first} (its output) again: "
            f"row {first} of the Hessian by reverse-over-reverse.",
        ]
        out = GradResult(None, self.graph, inputs, notes)
        if self.note:
            out.forward_note = self.note
        out.mode, out.seed = "forward", first or (self.labels[0] if self.labels else None)
        return out

    def lines(self) -> list[str]:
        """The Hessian as text, for the summary."""
        if self.note:
            return [f"  note: {self.note}"]
        h = self.hessian
        width = max(10, *(len(label) for label in self.labels))
        head = " " * (width + 4) + "".join(f"{label:>{width}}" for label in self.labels)
        rows = [
            f"    {label:<{width}}" + "".join(f"{num(x):>{width}}" for x in row)
            for label, row in zip(self.labels, h, strict=True)
        ]
        n = len(self.graph)
        return [f"Hessian of {self.output} ({n}-node gradient computation):", head, *rows]

    def check(self, run: Any, point: dict[str, Any], h: float = 1e-4) -> GradCheck:
        """Each H[i, j] against second-order central differences of run(values by name).

        (f(+h,+h) - f(+h,-h) - f(-h,+h) + f(-h,-h)) / 4h², with inputs i and
        j moved (a diagonal entry moves one input by 2h: the same formula).
        """
        hess = self.hessian
        names = [_split(label) for label in self.labels]
        entries = []
        for i, (ni, ii) in enumerate(names):
            for j, (nj, jj) in enumerate(names[: i + 1]):
                f = [
                    run(_moved(_moved(point, ni, ii, si * h), nj, jj, sj * h))
                    for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1))
                ]
                numeric = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h)
                label = f"{self.labels[i]},{self.labels[j]}"
                entries.append(GradEntry(label, float(hess[i, j]), numeric))
        return GradCheck(entries, h, "forward-over-reverse")


def _split(label: str) -> tuple[str, tuple[int, ...]]:
    """'W[0,1]' as ('W', (0, 1)); 'x' as ('x', ())."""
    name, _, rest = label.partition("[")
    return name, tuple(int(k) for k in rest.rstrip("]").split(",")) if rest else ()


def _moved(point: dict[str, Any], name: str, idx: tuple[int, ...], d: float) -> dict[str, Any]:
    moved = dict(point)
    if idx:
        arr = np.array(point[name], dtype=float)
        arr[idx] += d
        moved[name] = arr
    else:
        moved[name] = point[name] + d
    return moved


def tangents_along(graph: Graph, seeds: dict[str, float]) -> dict[str, float]:
    """Forward mode over a recorded graph with the given leaf tangents: node id -> tangent."""
    t: dict[str, float] = {}
    for node in graph.nodes:
        if not node.parents:
            t[node.id] = seeds.get(node.id, 0.0)
            continue
        args = [graph[p].value for p in node.parents]
        # Chain rule: d(node) = sum over parents of d(node)/d(parent) * d(parent);
        # a zero tangent adds nothing, even through an infinite partial.
        t[node.id] = (
            sum(
                node.op.partials[i](*args, node.value) * t[p]
                for i, p in enumerate(node.parents)
                if t[p]
            )
            + 0.0
        )
    return t


def second_order(graph: Graph, inputs: list[tuple[str, str | None]], max_inputs: int) -> Second:
    """The gradient computation of a traced graph, and one forward pass over it per input.

    inputs are the scalar inputs' labels and node ids in graph (None where the
    output does not use one).
    """
    replay = _replay(graph)
    out = replay[graph.output]
    made: list[Value] = []
    rule_of: dict[int, tuple[str, int]] = {}  # id(new node) -> (first-order node, argument)
    current: list[tuple[str, int]] = []
    ids = {id(v): node_id for node_id, v in replay.items()}

    def at(v: Value, i: int) -> None:
        current[:] = [(ids[id(v)], i)]

    def made_one(v: Value) -> None:
        made.append(v)
        if current:
            rule_of[id(v)] = current[0]

    value.on_create, before = made_one, value.on_create
    try:
        grads = propagate_graph(topological(out), at=at)
    finally:
        value.on_create = before
    leaves = [replay[n] if n is not None else None for _, n in inputs]
    grad_values = [grads.get(leaf) if leaf is not None else None for leaf in leaves]
    second = _record(graph, replay, made, rule_of, grads, grad_values, inputs)
    labels = [label for label, _ in inputs]
    second.max_inputs = max_inputs
    if len(labels) > max_inputs:
        second.note = (
            f"the Hessian needs one forward pass per input: {len(labels)} passes is more than "
            f"max_hessian_inputs={max_inputs}; hvp(v) still works"
        )
        return second
    for label, leaf in zip(labels, second.leaves, strict=True):
        for node_id, t in tangents_along(second.graph, {leaf: 1.0} if leaf else {}).items():
            second.graph[node_id].tangents[label] = t
    return second


def adjoints_into(graph: Graph) -> None:
    """node.grad = d(graph's output)/d(node): a reverse pass over recorded nodes."""
    for node in graph.nodes:
        node.grad = 0.0
    if not graph.nodes:
        return
    graph[graph.output].grad = 1.0
    for node in reversed(graph.nodes):
        if not node.grad or not node.parents:
            continue
        args = [graph[p].value for p in node.parents]
        for i, p in enumerate(node.parents):
            if graph[p].kind != "const":
                # Chain rule: each parent gains d(node)/d(parent) * grad(node).
                graph[p].grad += chain(node.op.partials[i](*args, node.value), node.grad)


def _replay(graph: Graph) -> dict[str, Value]:
    """The recorded graph as Values again: the same ops on the same numbers."""
    made: dict[str, Value] = {}
    for node in graph.nodes:
        if node.op is INPUT:
            made[node.id] = Value(node.value, label=node.name)
        elif node.op is CONST:
            made[node.id] = value.lift(node.value)
        else:
            made[node.id] = value.apply(node.op, [made[p] for p in node.parents])
    return made


def _record(
    graph: Graph,
    replay: dict[str, Value],
    made: list[Value],
    rule_of: dict[int, tuple[str, int]],
    grads: dict[Value, Value],
    grad_values: list[Value | None],
    inputs: list[tuple[str, str | None]],
) -> Second:
    """Records of the gradient computation: the function's nodes first, then the rules'."""
    out_name = graph[graph.output].title
    roots = [g for g in grad_values if g is not None]
    reach: set[int] = set()
    for root in roots:
        reach |= set(map(id, topological(root)))
    first = {id(v): graph[node_id] for node_id, v in replay.items()}
    titled = {key: node.title for key, node in first.items()}
    order = [v for v in replay.values() if id(v) in reach] + [v for v in made if id(v) in reach]
    ids = {id(v): f"n{k}" for k, v in enumerate(order)}
    names = {id(g): f"grad({titled[id(v)]})" for v, g in grads.items() if id(v) in titled}
    for (label, _), g in zip(inputs, grad_values, strict=True):
        if g is not None:
            names[id(g)] = f"d{out_name}/d{label}"
    titles: dict[tuple[str, int], str] = {}
    nodes = []
    for v in order:
        old = first.get(id(v))
        if old is not None:
            name = old.title if old.kind == "op" else old.name  # what the first graph called it
            node = Node(ids[id(v)], v._fn, _parents(v, ids), v.data, name=name)
            node.calls, node.text = (VALUES, *old.calls), old.text
        else:
            key = rule_of.get(id(v))
            node = Node(ids[id(v)], v._fn, _parents(v, ids), v.data, name=names.get(id(v), ""))
            if key is not None:
                if key not in titles:
                    titles[key] = f"{_rule_title(graph, *key)}#{len(titles)}"
                node.calls = (titles[key],)
        nodes.append(node)
    output = ids[id(roots[0])] if roots else (nodes[0].id if nodes else "")
    second_graph = Graph(nodes, output=output)
    adjoints_into(second_graph)
    return Second(
        second_graph,
        [label for label, _ in inputs],
        [ids.get(id(replay[n])) if n is not None else None for _, n in inputs],
        [ids[id(g)] if g is not None else None for g in grad_values],
        out_name,
    )


def _parents(v: Value, ids: dict[int, str]) -> tuple[str, ...]:
    return tuple(ids[id(p)] for p in v._prev)


def _rule_title(graph: Graph, node_id: str, arg: int) -> str:
    """The first-order step a part of the gradient computation comes from:
    'grad(b) += cos(b) * grad(y)'."""
    child = graph[node_id]
    parent = graph[child.parents[arg]]
    names = {a: graph[p].title for a, p in zip("ab", child.parents, strict=False)}
    names["y"] = child.title
    deriv = factor(fill(child.op.derivs[arg], names))
    return f"grad({parent.title}) += {deriv} * grad({child.title})"
