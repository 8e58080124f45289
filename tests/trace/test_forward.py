"""Forward mode over a recorded graph: the loop over partials gives exactly what Duals give.

trace/forward.py computes each pass as a loop over floats (the table's partials at the
recorded numbers, times the arguments' tangents). Here the same graph is evaluated on
`Dual` numbers node by node, by the engine's own `dual.apply`, and every tangent must be
the same float, including where a partial is infinite and the tangent through it is 0.
"""

from __future__ import annotations

import math

import pytest

from ad_magic import Value, sqrt
from ad_magic.engine import dual
from ad_magic.engine.dual import Dual
from ad_magic.engine.ops import CONST
from ad_magic.trace.graph import Graph
from ad_magic.trace.records import forward_over_graph
from ad_magic.trace.steps import ForwardPass, forward_steps


def on_duals(graph: Graph, seed: str) -> dict[str, float]:
    """Each node's tangent for seed, evaluating the graph on Duals (constants as numbers)."""
    out: dict[str, Dual | float] = {}
    for node in graph:
        if not node.parents:
            is_seed = node.id == seed
            out[node.id] = (
                Dual(node.value, 1.0 if is_seed else 0.0) if node.op is not CONST else node.value
            )
            continue
        args = [out[p] for p in node.parents]
        out[node.id] = dual.apply(node.op, args)
    return {k: d.deriv if isinstance(d, Dual) else 0.0 for k, d in out.items()}


def graphs() -> list[Value]:
    x, w, z = Value(0.0, label="x"), Value(1.5, label="w"), Value(-0.7, label="z")
    h = w
    for _ in range(5):
        h = (h * 0.9 + z).tanh() * w
    return [
        sqrt(x) * 0.0 + w * w,  # d sqrt(x)/dx is infinite at 0: the zero tangent wins
        (x * w).relu() + abs(z) / (w**2 + 1),
        (w.log() - z.exp()) ** 2 + h.maximum(z) - h.minimum(x),
        h + h,  # a node used twice
    ]


# sqrt's partial at 0 is numpy's inf, with its RuntimeWarning: expected here.
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("k", range(4))
def test_the_loop_gives_what_duals_give(k):
    graph = Graph.from_value(graphs()[k])
    for leaf in [n for n in graph if n.kind == "input"]:
        forward_over_graph(graph, leaf.id, leaf.name)
        reference = on_duals(graph, leaf.id)
        for node in graph:
            got, want = node.tangents[leaf.name], reference[node.id]
            assert got == want or (math.isnan(got) and math.isnan(want)), (node.id, leaf.name)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_a_forward_pass_made_when_read_is_the_list_of_steps():
    graph = Graph.from_value(graphs()[2])
    for leaf in [n for n in graph if n.kind == "input"]:
        forward_over_graph(graph, leaf.id, leaf.name)
    for seed in ("x", "w", "z"):
        steps = forward_steps(graph, seed)
        lazy = ForwardPass(graph, seed)
        assert len(lazy) == len(steps) == sum(n.op is not CONST for n in graph)
        assert lazy == steps and steps == lazy and list(lazy) == steps
        assert [lazy[k] for k in (-1, 0, 7)] == [steps[k] for k in (-1, 0, 7)]
        assert lazy[3:9] == steps[3:9] and len(lazy[3:9]) == 6
        assert lazy[3:9][-1] == steps[8] and lazy[3:9][1:2] == steps[4:5]
        assert lazy[3:9][0].equation == steps[3].equation
    assert ForwardPass(graph, "x") != ForwardPass(graph, "w")  # the numbers differ
    assert ForwardPass(graph, "x") != steps[:-1]
