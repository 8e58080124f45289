"""The passes' steps as a display reads them: made when read, equal to the lists.

`ReversePass` keeps the backward pass as columns and makes a `Step` when one is
read; `ForwardPass` does the same for a seed. Their numbers must be the chain
rule's: each node's last running total is its gradient (the engine's backward
pass, to rounding), each forward step's tangent the forward pass's.
"""

from __future__ import annotations

import math
import random

from ad_magic import Value
from ad_magic.trace.graph import Graph
from ad_magic.trace.records import forward_over_graph
from ad_magic.trace.steps import ForwardPass, Picked, ReversePass


def network(seed: int) -> Value:
    """A random graph over three inputs with fan-out, constants and reused nodes."""
    rnd = random.Random(seed)
    xs = [Value(rnd.uniform(-1, 1), label=name) for name in "abc"]
    pool = list(xs)
    for _ in range(40):
        a, b = rnd.choice(pool), rnd.choice(pool)
        pick = rnd.randrange(5)
        node = [a * b, a + b * 0.5, (a * 0.3).tanh(), a - b, a * a][pick]
        pool.append(node)
    return sum(pool[-8:], Value(0.0))


def test_the_last_running_total_of_each_node_is_its_gradient():
    for seed in range(5):
        out = network(seed)
        out.backward()
        graph = Graph.from_value(out)  # the records take each node's gradient
        steps = list(ReversePass(graph))
        last = {}
        for step in steps:
            last[step.node] = step.total
        for node in graph:
            if node.op.name != "const" and node.id in last:
                assert math.isclose(last[node.id], node.grad, rel_tol=1e-12, abs_tol=1e-12)
        # the seed first, then one step per (node, traced argument) of the output's past
        assert steps[0].edges == () and steps[0].total == 1.0
        flows = sum(1 for n in graph for p in n.parents if graph[p].op.name != "const")
        assert len(steps) == 1 + flows
        # fan-out: contribution k of n, in order, adding up to the total
        for node_id in {s.node for s in steps[1:]}:
            mine = [s for s in steps[1:] if s.node == node_id]
            assert [s.part for s in mine] == list(range(1, len(mine) + 1))
            assert {s.parts for s in mine} == {len(mine)}
            assert math.isclose(sum(s.value for s in mine), mine[-1].total, abs_tol=1e-12)


def test_read_by_place_slice_or_pick_the_steps_are_the_same():
    out = network(7)
    graph = Graph.from_value(out)
    lazy = ReversePass(graph)
    steps = list(lazy)
    assert lazy == steps and steps == lazy and len(lazy) == len(steps)
    assert lazy[-1] == steps[-1] and lazy[5:17] == steps[5:17] and lazy[5:17][3] == steps[8]
    assert lazy[5:17][2:4] == steps[7:9]
    picked = Picked(lazy, [1, 4, 9])
    assert picked == [steps[1], steps[4], steps[9]] and picked[1:] == [steps[4], steps[9]]
    assert picked != [steps[1], steps[4]]
    for leaf in [n for n in graph if n.kind == "input"]:
        forward_over_graph(graph, leaf.id, leaf.name)
    a, b = ForwardPass(graph, "a"), ForwardPass(graph, "b")
    assert a != b and a[-1].total == graph[graph.output].tangents["a"]
