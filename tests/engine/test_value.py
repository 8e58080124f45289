"""Reverse mode: Value's graph, backward pass, memory and micrograd compatibility."""

from __future__ import annotations

import gc
import importlib.util
import math
import random
import weakref

import numpy as np
import pytest

from ad_magic import Dual, Value, sigmoid, sin
from ad_magic.engine.value import topological


def test_chapter_function_and_derivative():
    x = Value(1.5, label="x")
    y = sin(x**2 + 1)
    y.backward()
    assert f"{y.data:.8f}" == "-0.10819513"
    assert f"{x.grad:.8f}" == "-2.98238903"
    assert x.grad == pytest.approx(math.cos(1.5**2 + 1) * 2 * 1.5, rel=1e-15)


def test_chapter_sigmoid_network():
    x, w, b = Value(2.0, "x"), Value(0.5, "w"), Value(-0.1, "b")
    y_hat = sigmoid(w * x + b)
    loss = (y_hat - 0.8) ** 2
    loss.backward()
    assert f"{y_hat.data:.6f}" == "0.710950"
    assert f"{loss.data:.6f}" == "0.007930"
    assert f"{w.grad:.8f}" == "-0.07319962"
    assert f"{b.grad:.8f}" == "-0.03659981"


def test_fan_out_counts_every_use():
    a = Value(3.0)
    b = a + a
    c = b + b
    assert b._prev == (a, a)  # both edges kept
    c.backward()
    assert a.grad == 4.0
    assert b.grad == 2.0


def test_reused_node_in_product():
    a = Value(3.0)
    y = a * a * a
    y.backward()
    assert a.grad == 27.0


def test_backward_accumulates_into_leaves_like_pytorch():
    x = Value(2.0)
    y = x * x + x
    y.backward()
    assert x.grad == 5.0
    y.backward()
    assert x.grad == 10.0  # exactly twice: interior adjoints restart each pass
    x.grad = 0.0
    y.backward()
    assert x.grad == 5.0


def test_constants_get_no_gradient():
    x = Value(2.0)
    y = x**3
    y.backward()
    exponent = y._prev[1]
    assert exponent.op.name == "const" and exponent.grad == 0.0
    assert x.grad == 12.0


def test_micrograd_attributes():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    assert c._op == "*" and set(c._prev) == {a, b}
    assert a._op == "" and a._prev == ()


def test_long_chain_has_no_recursion_limit():
    x = Value(0.3)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert len(topological(y)) == 200_001  # the chain and its constants
    y.backward()
    assert x.grad == 1.0
    del y  # freeing a deep chain must not overflow the C stack either


def build_and_drop() -> list[weakref.ref]:
    """Build a graph with fan-out, run backward, drop it; weak references to every node."""
    x = Value(1.5)
    y = x
    for i in range(50):
        y = sin(y * y + i) if i % 2 else (y - 1).tanh() / 2
    y.backward()
    return [weakref.ref(node) for node in topological(y)]


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        refs = build_and_drop()
        assert len(refs) > 200
        alive = [r() for r in refs if r() is not None]
        assert alive == []
    finally:
        gc.enable()


def test_comparisons_compare_data_and_return_bool():
    a, b = Value(1.0), Value(2.0)
    assert (a < b) is True and (a > b) is False and (a <= 1) is True and (b >= 3) is False
    assert (a < 2) is True and (a < 1) is False
    assert np.float64(0.5) < a and not np.float64(1.5) < a  # numpy answers np.bool_
    seen = {a, b}
    assert a in seen and Value(1.0) not in seen  # identity hashing


def test_control_flow_on_values():
    x = Value(-2.0)
    y = x * x if x < 0 else x
    while y > 1:
        y = y / 2
    y.backward()
    assert y.data == 1.0 and x.grad == pytest.approx(-1.0)


@pytest.mark.parametrize("convert", [float, math.sin, math.exp, math.sqrt])
def test_plain_float_conversion_is_refused_with_the_fix(convert):
    with pytest.raises(TypeError, match=r"cut it out of the graph.*\.data.*np\.sin"):
        convert(Value(0.5))


@pytest.mark.parametrize(
    ("convert", "named"),
    [
        (int, "int() of a {}"),
        (round, "round() of a {}"),
        (lambda v: round(v, 2), "round() of a {}"),
        (math.floor, "math.floor() of a {}"),
        (math.ceil, "math.ceil() of a {}"),
        (math.trunc, "math.trunc() of a {}"),
        (complex, "complex() of a {}"),
        (lambda v: v.item(), ".item() of a {}"),
        (lambda v: [1, 2][v], "a {} used as an integer"),
        (lambda v: range(v), "a {} used as an integer"),
    ],
    ids=["int", "round", "round2", "floor", "ceil", "trunc", "complex", "item", "index", "range"],
)
@pytest.mark.parametrize("cls", [Value, Dual])
def test_each_conversion_names_what_was_called(cls, convert, named):
    with pytest.raises(TypeError) as err:
        convert(cls(0.5))
    message = str(err.value)
    assert message.startswith(named.format(cls.__name__)), message
    assert "cut it out of the graph" in message and f".{cls.primal_name}" in message
    assert "float()" not in message


def test_format_uses_data():
    v = Value(1 / 3, label="x")
    assert format(v, ".3f") == "0.333" and f"{v:8.2f}" == "    0.33"
    assert "label='x'" in repr(v) and "data=0.333" in repr(v)


def test_bool_is_truth_of_data():
    assert not Value(0.0) and Value(-1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(1.0) + Dual(1.0),
        lambda: Dual(1.0) * Value(1.0),
        lambda: sin(Value(1.0)) - Dual(2.0, 1.0),
        lambda: Value(1.0) ** Dual(2.0),
    ],
)
def test_mixing_modes_is_refused(make):
    with pytest.raises(TypeError, match="cannot mix Value"):
        make()


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], 1j])
def test_value_needs_a_real_number(bad):
    with pytest.raises(TypeError, match="Value needs a real number"):
        Value(bad)


def test_operators_with_numbers_on_either_side():
    v = Value(4.0)
    cases = {
        2 * v: 8.0, v - 1: 3.0, 1 - v: -3.0, 1 / v: 0.25, v / 2: 2.0, 2**v: 16.0,
        v**0.5: 2.0, -v: -4.0, abs(-v): 4.0, np.float64(2) * v: 8.0, v * np.float32(0.5): 2.0,
        np.int64(1) + v: 5.0, +v: 4.0,
    }  # fmt: skip
    for node, expected in cases.items():
        assert isinstance(node, Value) and node.data == expected


def load_micrograd_nn():
    """A private copy of micrograd's own nn.py, running on ad_magic.Value unchanged."""
    spec = importlib.util.find_spec("micrograd.nn")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.Value = Value
    return module


def test_micrograd_mlp_trains():
    nn = load_micrograd_nn()
    random.seed(0)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(20, 2))
    ys = np.where(xs[:, 0] * xs[:, 1] > 0, 1.0, -1.0)
    model = nn.MLP(2, [8, 8, 1])
    assert all(isinstance(p, Value) for p in model.parameters())

    def loss():
        scores = [model([Value(a), Value(b)]) for a, b in xs]
        losses = [(1 + -float(y) * s).relu() for y, s in zip(ys, scores, strict=True)]
        return sum(losses) * (1.0 / len(losses))

    history = []
    for _ in range(40):
        total = loss()
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        history.append(total.data)
    assert history[-1] < 0.5 * history[0]


def test_a_node_is_one_object_for_the_garbage_collector():
    # Its parents sit in two slots, not a tuple: one tracked allocation per node.
    import gc

    x = Value(0.5)
    gc.disable()
    try:
        before = len(gc.get_objects())
        y = x
        for _ in range(1000):
            y = y.tanh()
        made = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert 1000 <= made < 1050
    assert y._prev[0]._prev[0]._op == "tanh" and x._prev == ()
