"""The steps of a pass, one chain-rule application each, with the numbers filled in.

Reverse mode: the output's gradient is seeded with 1, then for each node from
the output back to the inputs, each parent p gains d(node)/d(p) * grad(node).
A parent used several times gains several contributions (fan-out); each step
says which one it is and the running sum. Forward mode, for one seed input:
each node's tangent is the sum over its parents of d(node)/d(p) * tangent(p).

A step's numbers are computed with the pass; its rule and equation, the text,
only when asked for, so a 30,000-node graph's steps are cheap to list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import overload

from ad_magic.engine.ops import CONST, chain, fill
from ad_magic.trace.graph import Graph, Node


def num(x: float) -> str:
    """A number as narration shows it: four significant digits."""
    return f"{x:.4g}"


@dataclass(slots=True)
class Step:
    """One chain-rule application (a record: a pass makes one per use of the rule, so it
    is a plain slotted one, cheap to make by the 100,000)."""

    mode: str  # "reverse" or "forward"
    node: str  # id of the node whose gradient (reverse) or tangent (forward) this sets
    edges: tuple[tuple[str, str], ...]  # (parent id, child id) edges the step uses
    value: float  # the contribution (reverse) or the tangent (forward)
    total: float  # the node's gradient so far (reverse) or its tangent (forward)
    part: int = 1  # this is contribution `part` of `parts` to the node (reverse fan-out)
    parts: int = 1
    graph: Graph | None = field(default=None, compare=False, repr=False)  # for the text
    via: str = ""  # reverse: the child whose gradient flows back; forward: the seed
    arg: int = 0  # reverse: which argument of `via` the node is
    upstream: float = 0.0  # reverse: the gradient of `via` that flows back

    @property
    def rule(self) -> str:
        """The table's rule, e.g. 'd sin(a)/da = cos(a)'."""
        if self.graph is None:
            return "dy/dy = 1"
        if self.mode == "reverse":
            return self.graph[self.via].op.rule(self.arg)
        node = self.graph[self.node]
        return "; ".join(node.op.rule(i) for i, _ in _traced_args(self.graph, node))

    @property
    def equation(self) -> str:
        """The step with names and numbers, e.g.
        'grad(b) += cos(b) * grad(y) = cos(3.25) * 1 = -0.9941'."""
        graph = self.graph
        if graph is None:
            return f"grad({self.via}) = 1"
        if self.mode == "reverse":
            return _reverse_text(graph, self)
        return _forward_text(graph, self)


def _names(graph: Graph, node: Node, numbers: bool) -> dict[str, str]:
    """a, b and y of node's rule, as titles or as values."""
    parents = [graph[p] for p in node.parents]
    show = (lambda n: num(n.value)) if numbers else (lambda n: n.title)
    names = {arg: show(p) for arg, p in zip("ab", parents, strict=False)}
    names["y"] = show(node)
    return names


def factor(text: str) -> str:
    """text bracketed if it is a sum or difference, so that it can be multiplied."""
    depth = 0
    for i, c in enumerate(text):
        depth += (c in "([") - (c in ")]")
        if depth == 0 and c in "+-" and 0 < i < len(text) - 1 and text[i - 1] == " ":
            return f"({text})"
    return text


def _traced_args(graph: Graph, node: Node) -> list[tuple[int, Node]]:
    return [(i, graph[p]) for i, p in enumerate(node.parents) if graph[p].kind != "const"]


def _reverse_text(graph: Graph, step: Step) -> str:
    child, parent = graph[step.via], graph[step.node]
    deriv = child.op.derivs[step.arg]
    text = (
        f"grad({parent.title}) += {factor(fill(deriv, _names(graph, child, False)))} "
        f"* grad({child.title}) = {factor(fill(deriv, _names(graph, child, True)))} "
        f"* {num(step.upstream)} = {num(step.value)}"
    )
    if step.parts > 1:
        text += f"  (contribution {step.part} of {step.parts}, running sum {num(step.total)})"
    return text


def _forward_text(graph: Graph, step: Step) -> str:
    node, seed = graph[step.node], step.via
    if node.kind == "input":
        why = "the seed" if step.value == 1.0 else "not the seed"
        return f"tangent({node.title}) = {num(step.value)}  ({why})"
    titles, numbers = _names(graph, node, False), _names(graph, node, True)
    terms, values = [], []
    for i, parent in _traced_args(graph, node):
        deriv = node.op.derivs[i]
        terms.append(f"{factor(fill(deriv, titles))}*tangent({parent.title})")
        values.append(f"{factor(fill(deriv, numbers))}*{num(parent.tangents.get(seed, 0.0))}")
    return (
        f"tangent({node.title}) = {' + '.join(terms)} = {' + '.join(values)} = {num(step.value)}"
    )


class Steps(Sequence[Step]):
    """A pass's steps, each made when read (`_step`); equal to a list or tuple of the same
    steps. A slice picks steps by place (`Picked`), still made when read."""

    def __len__(self) -> int:
        raise NotImplementedError

    def _step(self, k: int) -> Step:
        """Step k, 0 <= k < len(self)."""
        raise NotImplementedError

    @overload
    def __getitem__(self, k: int) -> Step: ...
    @overload
    def __getitem__(self, k: slice) -> Picked: ...
    def __getitem__(self, k: int | slice) -> Step | Picked:
        places = range(len(self))[k]  # a negative k counts from the end; IndexError past it
        return Picked(self, places) if isinstance(places, range) else self._step(places)

    def __iter__(self) -> Iterator[Step]:
        return (self._step(k) for k in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} steps)"


class Picked(Steps):
    """Some steps of a pass, by their places in it."""

    def __init__(self, steps: Sequence[Step], at: Sequence[int]) -> None:
        self.steps, self.at = steps, at

    def __len__(self) -> int:
        return len(self.at)

    def _step(self, k: int) -> Step:
        return self.steps[int(self.at[k])]


def reverse_steps(graph: Graph, output: str | None = None) -> list[Step]:
    """The backward pass from output (the graph's output by default): its seed, then
    one step per argument of each node the output depends on."""
    return list(ReversePass(graph, output))


class ReversePass(Steps):
    """The backward pass from output, its numbers computed at once, each `Step` made
    only when it is read (equal item by item to `reverse_steps`).

    Each node's gradient is its running total once all its users have passed
    theirs back, which creation order guarantees. The pass is kept as columns,
    one entry per step (`node` and `via` as places in `graph.nodes`; the seed's
    `via` is -1), which a display reads without making 60,000 steps.
    """

    def __init__(self, graph: Graph, output: str | None = None) -> None:
        self.graph = graph
        nodes, parents = graph.nodes, graph.parent_positions
        out = graph.position[output or graph.output]
        const = [n.op is CONST for n in nodes]
        needed = bytearray(len(nodes))
        needed[out] = 1
        uses = [0] * len(nodes)  # contributions each node receives
        for k in range(out, -1, -1):  # parents come before their children
            if needed[k]:
                for p in parents[k]:
                    needed[p] = 1
                    uses[p] += not const[p]
        total = [0.0] * len(nodes)
        total[out] = 1.0
        done = [0] * len(nodes)
        # The seed first, then every (node, argument) the chain rule runs over; constants
        # take nothing.
        self.node, self.via, self.arg = [out], [-1], [0]
        self.value, self.total, self.upstream = [1.0], [1.0], [0.0]
        self.part, self.parts = [1], [1]
        for k in range(out, -1, -1):
            if not needed[k] or not parents[k]:
                continue
            node, args = nodes[k], parents[k]
            g = total[k]
            if g:
                x = [nodes[p].value for p in args]
                partials, y = node.op.partials, node.value
            for i, p in enumerate(args):
                if const[p]:
                    continue
                # A zero gradient passes on zero, even through an infinite local derivative.
                c = chain(partials[i](*x, y), g) if g else 0.0
                done[p] += 1
                total[p] += c
                self.node.append(p)
                self.via.append(k)
                self.arg.append(i)
                self.value.append(c)
                self.total.append(total[p])
                self.upstream.append(g)
                self.part.append(done[p])
                self.parts.append(uses[p])

    def __len__(self) -> int:
        return len(self.node)

    def _step(self, k: int) -> Step:
        nodes = self.graph.nodes
        node = nodes[self.node[k]]
        v = self.via[k]
        if v < 0:  # the seed
            return Step("reverse", node.id, (), 1.0, 1.0, via=node.title)
        via, i = nodes[v], self.arg[k]
        edge = self.graph.edges_into[via.id][i : i + 1]
        return Step("reverse", node.id, edge, self.value[k], self.total[k], self.part[k],
                    self.parts[k], self.graph, via.id, i, self.upstream[k])  # fmt: skip


def forward_steps(graph: Graph, seed: str) -> list[Step]:
    """The forward pass for seed: one step per node that is not a constant."""
    return list(ForwardPass(graph, seed))


class ForwardPass(Steps):
    """The forward pass for one seed, a step made only when it is read.

    Equal to `forward_steps(graph, seed)` item by item. A display that shows a
    30,000-node pass a group at a time reads a few of its steps, so it need not
    make them all (for every seed) first.
    """

    def __init__(self, graph: Graph, seed: str) -> None:
        self.graph, self.seed = graph, seed
        self.nodes = graph.traced

    def __len__(self) -> int:
        return len(self.nodes)

    def _step(self, k: int) -> Step:
        node = self.nodes[k]
        tangent = node.tangents.get(self.seed, 0.0)
        into = self.graph.edges_into[node.id]
        return Step("forward", node.id, into, tangent, tangent, 1, 1, self.graph, self.seed)

    def __repr__(self) -> str:
        return f"ForwardPass(seed={self.seed!r}, {len(self)} steps)"


@dataclass(frozen=True)
class GroupStep:
    """Consecutive steps inside one collapsed group, taken as one: the pass at a coarser level.

    Reverse mode: the gradient flows through the group, and `total` is the sum of
    what leaves it for the nodes outside (its inputs). Forward mode: the tangents
    inside the group, and `total` its last node's tangent.
    """

    mode: str
    group: str  # the group's name, as the display shows it
    steps: Sequence[Step]  # a tuple, or a slice of a lazy pass
    level: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def crossing(self) -> list[Step]:
        """The steps whose edge enters or leaves the group (the others stay inside it)."""
        where = self.level.get
        if self.mode == "reverse":
            return [s for s in self.steps if where(s.node) != where(s.via)]
        crossing = []
        for s in self.steps:
            here = where(s.node)
            for p, _ in s.edges:
                if where(p) != here:  # a tangent flows in across the border
                    crossing.append(s)
                    break
        return crossing

    @property
    def node(self) -> str:
        return self.steps[-1].node

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return tuple(e for s in self.steps for e in s.edges)

    @cached_property
    def leaving(self) -> list[Step]:
        """Reverse mode: the steps that carry gradient out of the group, into its inputs."""
        return [s for s in self.crossing if self.level.get(s.node) != self.group]

    @property
    def value(self) -> float:
        return self.total

    @cached_property
    def total(self) -> float:
        if self.mode == "reverse":
            return sum(s.value for s in self.leaving)
        return self.steps[-1].total

    @property
    def rule(self) -> str:
        return f"{len(self.steps)} chain-rule steps inside {self.group}"

    @property
    def equation(self) -> str:
        """E.g. 'Layer.__call__#1: 16 gradients flow into its inputs, sum 0.3123 (80 steps)'."""
        n = len(self.steps)
        if self.mode == "reverse" and not self.leaving:
            # Only the gradient entering the group (from the output, drawn by itself).
            into = [s for s in self.crossing if self.level.get(s.via) != self.group]
            return (
                f"{self.group}: {len(into)} gradient{'s' * (len(into) != 1)} "
                f"flow{'s' * (len(into) == 1)} into it, "
                f"sum {num(sum(s.value for s in into))} ({n} step{'s' * (n != 1)})"
            )
        if self.mode == "reverse":
            out = len(self.leaving)
            return (
                f"{self.group}: {out} gradient{'s' * (out != 1)} flow into its inputs, "
                f"sum {num(self.total)} ({n} step{'s' * (n != 1)})"
            )
        return f"{self.group}: {n} tangents inside, the last {num(self.total)}"


def at_level(steps: list[Step], level: dict[str, str]) -> list[Step | GroupStep]:
    """The pass as seen with some groups collapsed: `level` maps each node drawn inside a
    collapsed group to that group's name; consecutive steps in one group become one.

    A reverse step belongs where the gradient flows back from (`via`): to the
    group that node is in, or, for a node drawn by itself (an opened tensor's
    element), a step of its own, even when what receives it is in a group; an
    output's gradient entering a group is that group's. So a group's step holds
    the gradient entering it from the output, flowing through it and leaving it,
    and every other drawn node passes its gradient on in a step of its own.
    """
    out: list[Step | GroupStep] = []
    run: list[Step] = []
    name = ""

    def close() -> None:
        if run:
            out.append(GroupStep(run[0].mode, name, tuple(run), level))

    seeds = {s.node for s in steps if s.mode == "reverse" and not s.edges}  # the outputs
    for step in steps:
        if step.mode == "reverse" and step.edges:
            where = level.get(step.via)
            if where is None and step.via in seeds:
                where = level.get(step.node)  # the gradient entering a group from an output
        else:
            where = level.get(step.node)
        if where is None:
            close()
            run, name = [], ""
            out.append(step)
        elif where == name:
            run.append(step)
        else:
            close()
            run, name = [step], where
    close()
    return out
