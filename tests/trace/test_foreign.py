"""Graphs of micrograd-style values: micrograd's own, the lecture's class, unknown ops."""

from __future__ import annotations

import math
import random

import pytest
from lecture import lecture_value
from micrograd.engine import Value as MicroValue
from micrograd.nn import MLP

import ad_magic.render  # noqa: F401  (registers drawing)
from ad_magic import Value
from ad_magic.trace.foreign import foreign_graph, graph_of_foreign, is_foreign
from ad_magic.trace.naming import names_of, short_names


def lecture_class():
    ns: dict = {}
    exec(lecture_value(), ns)
    return ns["Value"]


def test_micrograd_value_maps_every_op_and_keeps_its_grads():
    a, b = MicroValue(2.0), MicroValue(-3.0)
    c = a * b + a
    d = (c**2).relu() - a / b + (-b)
    d.backward()
    g = graph_of_foreign(d, "d", {"a": a, "b": b, "c": c})
    assert {n.op.name for n in g.nodes if n.kind == "op"} == {"add", "mul", "pow", "relu"}
    assert g.grads["a"] == a.grad and g.grads["b"] == b.grad  # the student's own numbers
    assert g.graph[g.graph.output].name == "d" and g.value == d.data
    # The same expression on ad_magic's Value gives the same gradients.
    x, y = Value(2.0), Value(-3.0)
    z = x * y + x
    w = (z**2).relu() - x / y + (-y)
    w.backward()
    assert (a.grad, b.grad) == pytest.approx((x.grad, y.grad), rel=1e-12)
    # Forward mode over the mapped graph agrees with the student's reverse pass.
    assert g.tangents["a"][g.graph.output] == pytest.approx(a.grad, rel=1e-12)


def test_a_plus_a_is_one_parent_used_twice():
    a = MicroValue(3.0)
    b = a + a  # micrograd's parent set keeps one a
    b.backward()
    graph = foreign_graph(b)
    node = graph[graph.output]
    assert node.parents == (graph.nodes[0].id,) * 2 and a.grad == 2


def test_sub_and_div_parents_ordered_by_value():
    cls = lecture_class()
    ns = {"Value": cls}
    exec("p = Value(5.0)\nq = Value(2.0)\nr = Value(p.data - q.data, (q, p), '-')\n"
         "s = Value(r.data / q.data, (q, r), '/')", ns)  # fmt: skip
    graph = foreign_graph(ns["s"], ns)
    by = {n.name: n for n in graph}
    assert by["r"].parents == (by["p"].id, by["q"].id)
    assert by["s"].parents == (by["r"].id, by["q"].id)
    assert by["s"].op.name == "truediv" and by["r"].op.name == "sub"


def test_lecture_labels_and_variables():
    cls = lecture_class()
    ns = {"Value": cls}
    exec("a = Value(2.0, label='a')\nv = Value(-3.0, label='b')\nw = Value(1.0)\n"
         "c = a * v + w; c.label = 'c'", ns)  # fmt: skip
    graph = foreign_graph(ns["c"], ns)
    shown = {n.shown for n in graph}
    assert {"a", "b (v)", "w", "c"} <= shown


def test_unknown_op_is_drawn_and_named_not_checked():
    cls = lecture_class()
    x = cls(2.0, label="x")
    y = cls(8.0, (x,), "cube", label="y")
    z = y * 2.0
    z.label = "z"
    g = graph_of_foreign(z, "z")
    node = next(n for n in g.nodes if n.name == "y")
    assert node.op.symbol == "cube" and node.kind == "op"
    assert any("'cube'" in note for note in g.notes)
    assert "forward mode needs a rule" in g.forward_note
    assert "y (cube)" in g.to_dot() and "<svg" in g.to_svg()


def test_is_foreign():
    assert is_foreign(MicroValue(1.0)) and is_foreign(lecture_class()(1.0))
    assert not is_foreign(Value(1.0)) and not is_foreign(MicroValue) and not is_foreign(1.0)


def test_bad_prev_and_data_are_type_errors():
    v = MicroValue(1.0)
    v._prev = 3
    with pytest.raises(TypeError, match="_prev should be a set or tuple"):
        foreign_graph(v)
    w = MicroValue("x")
    with pytest.raises(TypeError, match="not a number"):
        foreign_graph(w)


def test_model_parameters_named_by_container():
    random.seed(0)
    n = MLP(3, [4, 1])
    params = n.parameters()
    names = names_of({"n": n, "x": 3}, {id(p) for p in params})
    assert len(set(names.values())) == len(params) == len(names)
    assert names[id(n.layers[0].neurons[1].w[2])] == "layers[0].neurons[1].w[2]"
    assert names[id(n.layers[1].neurons[0].b)] == "layers[1].neurons[0].b"
    one = names_of({"neuron": n.layers[1].neurons[0]}, {id(p) for p in params})
    assert one[id(n.layers[1].neurons[0].w[3])] == "w[3]"


def test_short_names_lengthen_only_what_clashes():
    found = {1: ["n", ".a", "[0]", ".w", "[1]"], 2: ["n", ".b", "[0]", ".w", "[1]"], 3: ["u"]}
    assert short_names(found) == {1: "a[0].w[1]", 2: "b[0].w[1]", 3: "u"}


def test_deep_foreign_graph_needs_no_recursion():
    x = MicroValue(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0
    graph = foreign_graph(y)
    assert len(graph) == 10001 and math.isclose(graph[graph.output].value, 0.5)
