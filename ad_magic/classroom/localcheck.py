"""Checking each node's local derivative rule against a numeric estimate.

Comparing a cell's gradient with finite differences (`GradResult.check`)
shows that something is wrong, not where. Here every op node's partials,
from its row of the primitive table, are compared with a central difference
of the row's own `fn` at the node's recorded arguments, so the first node
whose rule disagrees can be marked in the graph (`Node.flagged`).

Where the row has no derivative to compare (a kink such as relu at 0, where
the one-sided differences differ, or the edge of its domain, where they are
not finite), the check is skipped rather than failed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ad_magic.engine.ops import Op
from ad_magic.trace.graph import Graph


@dataclass(frozen=True)
class NodeCheck:
    """One node's partial derivative for one argument, by its rule and numerically."""

    node: str  # node id
    arg: int  # the argument, 0 for a, 1 for b
    rule: str  # the table's rule, e.g. "d sin(a)/da = cos(a)"
    ad: float  # the rule's value at the node's arguments
    numeric: float  # the central difference of the row's fn there
    status: str  # "pass", "fail" or "skip" (no derivative there to compare)

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    @property
    def error(self) -> float:
        return abs(self.ad - self.numeric)


def check_partial(op: Op, args: list[float], i: int, h: float, tol: float) -> NodeCheck:
    """op's partial for argument i at args against (fn(a_i + h) - fn(a_i - h)) / 2h."""
    step = h * max(1.0, abs(args[i]))

    def at(delta: float) -> float:
        moved = list(args)
        moved[i] += delta
        return float(op.fn(*moved))

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        y, up, down = at(0.0), at(step), at(-step)
        ad = float(op.partials[i](*args, y))
    numeric = (up - down) / (2 * step)
    right, left = (up - y) / step, (y - down) / step
    scale = max(1.0, abs(numeric))
    if not all(map(math.isfinite, (y, up, down))) or abs(right - left) > 1e-3 * scale:
        status = "skip"
    else:
        status = "pass" if abs(ad - numeric) <= tol * scale else "fail"
    return NodeCheck("", i, op.rule(i), ad, numeric, status)


def check_nodes(graph: Graph, h: float = 1e-6, tol: float = 1e-5) -> list[NodeCheck]:
    """Every op node's partials (constants' excepted) checked; the first failing node flagged."""
    checks = []
    for node in graph:
        node.flagged = False
        if node.kind != "op":
            continue
        args = [graph[p].value for p in node.parents]
        for i, pid in enumerate(node.parents):
            if graph[pid].kind != "const":
                checks.append(replace(check_partial(node.op, args, i, h, tol), node=node.id))
    first = next((c for c in checks if not c.ok), None)
    if first is not None:
        graph[first.node].flagged = True
    return checks
