"""Forward mode over a recorded program: one pass on Duals per seed input.

The trace recorded every primitive the cell applied, with its arguments.
Forward mode evaluates that recorded program again on `Dual` numbers, by the
same primitive table: leaves become Duals (the seed with derivative 1, every
other leaf 0), and each node is its op applied to its parents' Duals. That
is the textbook's dual-number computation on exactly the operations the cell
performed, without running the cell again, so whatever the cell does (labels,
`.data` reads, Values made before it, randomness, side effects) happens once.
"""

from __future__ import annotations

from typing import Any

from ad_magic.engine import dual
from ad_magic.engine.dual import Dual
from ad_magic.trace.graph import Graph


def forward_passes(
    result: Any,
    seeds: dict[str, str | None],
    chosen: list[str] | None,
    max_forward: int,
    args: list[tuple[int, ...]] | None = None,
) -> None:
    """Tangents for each chosen seed (label -> its node id), or for all up to max_forward.

    args, if known, are each node's argument positions (the recorded program's)."""
    if chosen is not None:
        labels = [s for s in seeds if s in chosen or s.partition("[")[0] in chosen]
    elif len(seeds) <= max_forward:
        labels = list(seeds)
    else:
        labels = []
        result.notes.append(
            f"forward mode needs one pass per input: {len(seeds)} passes is more than "
            f"max_forward_passes={max_forward}, so pick seeds with --seed"
        )
    rows = Rows(result.graph, args)
    for label in labels:
        rows.tangents(seeds[label], label)


class Rows:
    """A graph as rows to evaluate: each node's op, Dual method and argument positions."""

    def __init__(self, graph: Graph, args: list[tuple[int, ...]] | None = None) -> None:
        self.graph = graph
        if args is None:
            index = {n.id: k for k, n in enumerate(graph.nodes)}.__getitem__
            args = [tuple(map(index, n.parents)) for n in graph.nodes]
        methods = {op: getattr(Dual, op.name) for op in {n.op for n in graph.nodes if n.parents}}
        self.rows = [
            (n.op, methods.get(n.op) if a else None, a)
            for n, a in zip(graph.nodes, args, strict=False)
        ]

    def duals(self, seed: str | None) -> list[Dual | float]:
        """The recorded program on Duals, seeded at one leaf (none: every derivative 0).

        What does not depend on the seed is a constant for this pass and stays
        a plain number (its recorded value), as one writes constants in a dual
        number computation; every node that does is a Dual.
        """
        out: list[Dual | float] = []
        append = out.append
        for node, (op, method, args) in zip(self.graph.nodes, self.rows, strict=True):
            if method is None:  # a leaf: only the seed carries a derivative, d(seed)/d(seed) = 1
                append(Dual(node.value, 1.0) if node.id == seed else node.value)
                continue
            a = out[args[0]]
            if len(args) == 1:
                append(method(a) if a.__class__ is Dual else node.value)
                continue
            b = out[args[1]]
            if a.__class__ is Dual:
                append(method(a, b))
            elif b.__class__ is Dual:
                append(dual.apply(op, (a, b)))
            else:
                append(node.value)
        return out

    def tangents(self, seed: str | None, label: str) -> None:
        """node.tangents[label] = d(node)/d(seed) for every node."""
        for node, d in zip(self.graph.nodes, self.duals(seed), strict=True):
            node.tangents[label] = d.deriv if isinstance(d, Dual) else 0.0


def forward_over_graph(graph: Graph, seed: str, label: str) -> None:
    """Forward mode on a recorded graph: node.tangents[label] = d(node)/d(seed)."""
    Rows(graph).tangents(seed, label)
