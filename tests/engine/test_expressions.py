"""Random expression trees: reverse mode, forward mode and finite differences agree."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

import ad_magic
from ad_magic import Dual, Value, check_grad, exp, log, sqrt, tanh
from ad_magic.trace.graph import Graph
from ad_magic.trace.records import forward_over_graph

SAFE_UNARY = ["sin", "cos", "tanh", "sigmoid", "exp_small", "sqrt_pos", "log_pos", "square"]
BINARY = ["+", "-", "*", "/safe", "max_soft"]


def unary(name, a):
    """Free functions, so the same program runs on Values, Duals and floats."""
    if name == "exp_small":
        return exp(a * 0.3)
    if name == "sqrt_pos":
        return sqrt(a * a + 1)
    if name == "log_pos":
        return log(a * a + 0.5)
    if name == "square":
        return a**2
    return getattr(ad_magic, name)(a)


def binary(name, a, b):
    if name == "+":
        return a + b
    if name == "-":
        return a - b
    if name == "*":
        return a * b
    if name == "/safe":
        return a / (b * b + 1)
    return (a + 3) ** 1.5 - tanh(b) if a > -3 else a - b  # control flow on a traced value


@st.composite
def programs(draw):
    """A list of instructions over 3 inputs; each makes one node from earlier ones."""
    steps = []
    for i in range(draw(st.integers(1, 25))):
        k = 3 + i  # nodes so far
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(SAFE_UNARY)), draw(st.integers(0, k - 1))))
        else:
            steps.append(
                (
                    "b",
                    draw(st.sampled_from(BINARY)),
                    draw(st.integers(0, k - 1)),
                    draw(st.integers(0, k - 1)),
                )
            )
    return steps


def run(program, x, y, z):
    nodes = [x, y, z]
    for step in program:
        if step[0] == "u":
            nodes.append(unary(step[1], nodes[step[2]]))
        else:
            nodes.append(binary(step[1], nodes[step[2]], nodes[step[3]]))
    return nodes[-1] + nodes[0] * 0.0  # depends on x even when the program does not


inputs = st.floats(-2, 2, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(programs(), inputs, inputs, inputs)
def test_reverse_equals_forward(program, x0, y0, z0):
    leaves = [Value(x0), Value(y0), Value(z0)]
    out = run(program, *leaves)
    out.backward()
    for i, leaf in enumerate(leaves):
        duals = [Dual(v, 1.0 if j == i else 0.0) for j, v in enumerate((x0, y0, z0))]
        forward = run(program, *duals)
        assert forward.val == out.data
        assert math.isclose(leaf.grad, forward.deriv, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(programs(), inputs, inputs, inputs)
def test_reverse_matches_finite_differences(program, x0, y0, z0):
    result = check_grad(lambda x, y, z: run(program, x, y, z), x=x0, y=y0, z=z0)
    for entry in result.values():
        scale = max(1.0, abs(entry.numeric))
        if math.isfinite(entry.numeric) and scale < 1e4:
            assert entry.error <= 1e-4 * scale, result


@settings(max_examples=60, deadline=None)
@given(programs(), inputs, inputs, inputs)
def test_forward_over_a_recorded_graph_equals_reverse(program, x0, y0, z0):
    leaves = [Value(x0, "x"), Value(y0, "y"), Value(z0, "z")]
    out = run(program, *leaves)
    out.backward()
    graph = Graph.from_value(out)
    for node in graph.nodes:
        if node.kind == "input":
            forward_over_graph(graph, node.id, node.name)
            grad = next(leaf.grad for leaf in leaves if leaf.label == node.name)
            tangent = graph[graph.output].tangents[node.name]
            assert math.isclose(tangent, grad, rel_tol=1e-9, abs_tol=1e-9)
