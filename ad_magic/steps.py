"""The steps of a pass, one chain-rule application each, with the numbers filled in.

Reverse mode: the output's gradient is seeded with 1, then for each node from
the output back to the inputs, each parent p gains d(node)/d(p) * grad(node).
A parent used several times gains several contributions (fan-out); each step
says which one it is and the running sum. Forward mode, for one seed input:
each node's tangent is the sum over its parents of d(node)/d(p) * tangent(p).
"""

from __future__ import annotations

from dataclasses import dataclass

from ad_magic.graph import Graph, Node
from ad_magic.ops import fill


def num(x: float) -> str:
    """A number as narration shows it: four significant digits."""
    return f"{x:.4g}"


@dataclass(frozen=True)
class Step:
    """One chain-rule application."""

    mode: str  # "reverse" or "forward"
    node: str  # id of the node whose gradient (reverse) or tangent (forward) this sets
    edges: tuple[tuple[str, str], ...]  # (parent id, child id) edges the step uses
    rule: str  # the table's rule, e.g. "d sin(a)/da = cos(a)"
    equation: str  # e.g. "grad(b) += cos(b) * grad(y) = cos(3.25) * 1 = -0.9941"
    value: float  # the contribution (reverse) or the tangent (forward)
    total: float  # the node's gradient so far (reverse) or its tangent (forward)
    part: int = 1  # this is contribution `part` of `parts` to the node (reverse fan-out)
    parts: int = 1


def _names(graph: Graph, node: Node, numbers: bool) -> dict[str, str]:
    """a, b and y of node's rule, as titles or as values."""
    parents = [graph[p] for p in node.parents]
    show = (lambda n: num(n.value)) if numbers else (lambda n: n.title)
    names = {arg: show(p) for arg, p in zip("ab", parents, strict=False)}
    names["y"] = show(node)
    return names


def reverse_steps(graph: Graph) -> list[Step]:
    out = graph[graph.output]
    seed = Step("reverse", out.id, (), "dy/dy = 1", f"grad({out.title}) = 1", 1.0, 1.0)
    # Every (node, argument) the chain rule runs over, output first; constants take nothing.
    flows = [
        (node, i, pid)
        for node in reversed(graph.nodes)
        for i, pid in enumerate(node.parents)
        if graph[pid].kind != "const"
    ]
    parts: dict[str, int] = {}
    for _, _, pid in flows:
        parts[pid] = parts.get(pid, 0) + 1
    done: dict[str, int] = {}
    total: dict[str, float] = {}
    steps = [seed]
    names: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for node, i, pid in flows:
        parent = graph[pid]
        args = [graph[p].value for p in node.parents]
        # A zero gradient passes on zero, even through an infinite local derivative.
        contribution = node.op.partials[i](*args, node.value) * node.grad if node.grad else 0.0
        done[pid] = done.get(pid, 0) + 1
        total[pid] = total.get(pid, 0.0) + contribution
        if node.id not in names:
            names[node.id] = (_names(graph, node, False), _names(graph, node, True))
        titles, numbers = names[node.id]
        deriv = node.op.derivs[i]
        equation = (
            f"grad({parent.title}) += {fill(deriv, titles)} * grad({node.title}) "
            f"= {fill(deriv, numbers)} * {num(node.grad)} = {num(contribution)}"
        )
        if parts[pid] > 1:
            equation += (
                f"  (contribution {done[pid]} of {parts[pid]}, running sum {num(total[pid])})"
            )
        step = Step(
            "reverse", pid, ((pid, node.id),), node.op.rule(i), equation, contribution,
            total[pid], done[pid], parts[pid],
        )  # fmt: skip
        steps.append(step)
    return steps


def forward_steps(graph: Graph, seed: str) -> list[Step]:
    steps = []
    for node in graph.nodes:
        tangent = node.tangents.get(seed, 0.0)
        if node.kind == "const":
            continue
        if node.kind == "input":
            why = "the seed" if tangent == 1.0 else "not the seed"
            equation = f"tangent({node.title}) = {num(tangent)}  ({why})"
            steps.append(Step("forward", node.id, (), "", equation, tangent, tangent))
            continue
        titles, numbers = _names(graph, node, False), _names(graph, node, True)
        terms, values = [], []
        for i, pid in enumerate(node.parents):
            parent = graph[pid]
            if parent.kind == "const":
                continue
            deriv = node.op.derivs[i]
            terms.append(f"{fill(deriv, titles)}*tangent({parent.title})")
            values.append(f"{fill(deriv, numbers)}*{num(parent.tangents.get(seed, 0.0))}")
        equation = (
            f"tangent({node.title}) = {' + '.join(terms)} = {' + '.join(values)} = {num(tangent)}"
        )
        rules = "; ".join(
            node.op.rule(i) for i, p in enumerate(node.parents) if graph[p].kind != "const"
        )
        edges = tuple((p, node.id) for p in node.parents)
        steps.append(Step("forward", node.id, edges, rules, equation, tangent, tangent))
    return steps
