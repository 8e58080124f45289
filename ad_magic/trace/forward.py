"""Forward mode over a recorded program: one pass per seed input.

The trace recorded every primitive the cell applied, with its arguments and
its value. Forward mode evaluates that recorded program again, as dual
numbers do, by the same primitive table: the seed leaf's tangent is 1, every
other leaf's 0, and each node's tangent is the sum over its arguments of
d(node)/d(argument) * tangent(argument), the table's partial derivative at
the recorded numbers (which is all a `Dual`'s `deriv` computes). The values
are the recorded ones, so each pass is a plain loop over a list of floats;
the partials are computed once for every pass. The cell does not run again,
so whatever it does (labels, `.data` reads, Values made before it,
randomness, side effects) happens once.
"""

from __future__ import annotations

from typing import Any

from ad_magic.engine.ops import CONST
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
    if labels:
        rows = Rows(result.graph, args)
        for label in labels:
            rows.tangents(seeds[label], label)


class Rows:
    """A graph as rows to evaluate: each node's local partials by its traced arguments."""

    def __init__(self, graph: Graph, args: list[tuple[int, ...]] | None = None) -> None:
        self.graph = graph
        nodes = graph.nodes
        self.index = {n.id: k for k, n in enumerate(nodes)}
        if args is None:
            index = self.index.__getitem__
            args = [tuple(map(index, n.parents)) for n in nodes]
        values = [n.value for n in nodes]
        # Per node: (argument row, d(node)/d(argument)) for each argument that is not a
        # constant (a constant's tangent is 0 in every pass), at the recorded numbers.
        self.local: list[tuple[tuple[int, float], ...]] = []
        append = self.local.append
        for n, a in zip(nodes, args, strict=False):
            if not a:
                append(())
                continue
            y, partials = n.value, n.op.partials
            if len(a) == 1:
                i = a[0]
                append(() if nodes[i].op is CONST else ((i, partials[0](values[i], y)),))
                continue
            i, j = a
            x, z = values[i], values[j]
            da, db = partials
            if nodes[i].op is CONST:
                append(() if nodes[j].op is CONST else ((j, db(x, z, y)),))
            elif nodes[j].op is CONST:
                append(((i, da(x, z, y)),))
            else:
                append(((i, da(x, z, y)), (j, db(x, z, y))))

    def pass_for(self, seed: str | None) -> list[float]:
        """Every node's tangent, seeded at one leaf (none: every derivative 0).

        Nodes come parents first, so none before the seed depends on it.
        """
        tangent = [0.0] * len(self.local)
        start = self.index.get(seed, len(tangent)) if seed is not None else len(tangent)
        if start == len(tangent):
            return tangent
        tangent[start] = 1.0  # d(seed)/d(seed)
        local = self.local
        for k in range(start + 1, len(tangent)):
            t = 0.0
            for i, partial in local[k]:
                ti = tangent[i]
                # Chain rule: a zero tangent adds nothing, even through an infinite partial.
                if ti and partial:
                    t += partial * ti
            tangent[k] = t
        return tangent

    def tangents(self, seed: str | None, label: str) -> None:
        """node.tangents[label] = d(node)/d(seed) for every node."""
        for node, d in zip(self.graph.nodes, self.pass_for(seed), strict=True):
            node.tangents[label] = d


def forward_over_graph(graph: Graph, seed: str, label: str) -> None:
    """Forward mode on a recorded graph: node.tangents[label] = d(node)/d(seed)."""
    Rows(graph).tangents(seed, label)
