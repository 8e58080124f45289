"""Higher derivatives: every row's second and third derivatives against HIPS autograd,
in reverse mode (create_graph) and forward mode (nested tagged Duals)."""

from __future__ import annotations

import gc
import math
import weakref

import autograd
import autograd.numpy as anp
import mpmath
import pytest
from hypothesis import assume, given, settings
from support import points

import ad_magic
from ad_magic import Dual, Value, derivative, gradients, sin
from ad_magic.engine import functions
from ad_magic.engine.ops import OPS, TABLE

AUTOGRAD = {  # each row written in autograd.numpy
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b, "pow": lambda a, b: a**b,
    "maximum": anp.maximum, "minimum": anp.minimum, "neg": anp.negative, "abs": anp.abs,
    "exp": anp.exp, "log": anp.log, "sqrt": anp.sqrt, "sin": anp.sin, "cos": anp.cos,
    "tan": anp.tan, "tanh": anp.tanh, "sigmoid": lambda a: 1 / (1 + anp.exp(-a)),
    "relu": lambda a: anp.maximum(a, 0.0),
}  # fmt: skip


def close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= 1e-8 * max(1.0, abs(theirs))


def autograd_tensor(f, args: tuple[float, ...], order: int) -> dict[tuple[int, ...], float]:
    """Every partial derivative of the given order, by autograd: index tuple -> number."""
    out = {}
    for idx in _indices(len(args), order):
        g = f
        for i in idx:
            g = autograd.grad(g, i)
        out[idx] = float(g(*args))
    return out


def mpmath_tensor(f, args: tuple[float, ...], order: int) -> dict[tuple[int, ...], float]:
    """Every partial derivative of the given order, by mpmath's numerical differentiation."""
    return {
        idx: float(mpmath.diff(f, args, tuple(idx.count(k) for k in range(len(args)))))
        for idx in _indices(len(args), order)
    }


def test_pow_mixed_third_partial_at_exponent_one():
    """d3(a**b)/da2 db at b = 1 is 1/a (autograd's where() gives a there)."""
    pow_row = next(op for op in TABLE if op.name == "pow")
    for mode in (reverse_tensor, forward_tensor):
        assert mode(pow_row, (2.0, 1.0), 3)[(0, 0, 1)] == pytest.approx(0.5, rel=1e-12)
        assert mode(pow_row, (0.5, 1.0), 3)[(0, 0, 1)] == pytest.approx(2.0, rel=1e-12)


def _indices(n: int, order: int) -> list[tuple[int, ...]]:
    idx: list[tuple[int, ...]] = [()]
    for _ in range(order):
        idx = [(*i, j) for i in idx for j in range(n)]
    return idx


def reverse_tensor(op, args: tuple[float, ...], order: int) -> dict[tuple[int, ...], float]:
    """The same partials by differentiating the backward pass again and again."""
    leaves = [Value(a) for a in args]
    out = {}
    for idx in _indices(len(args), order):
        g = functions.apply(op, *leaves)
        for i in idx:
            g = gradients(g, *leaves)[i]
        out[idx] = g.data
    return out


def forward_tensor(op, args: tuple[float, ...], order: int) -> dict[tuple[int, ...], float]:
    """The same partials by nesting derivative(): one tagged Dual per differentiation."""

    def partial(f, i):
        return lambda *xs: derivative(lambda t: f(*xs[:i], t, *xs[i + 1 :]), xs[i])

    out = {}
    for idx in _indices(len(args), order):
        f = lambda *xs: functions.apply(op, *xs)  # noqa: E731
        for i in idx:
            f = partial(f, i)
        out[idx] = float(f(*args))
    return out


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
def test_row_higher_derivatives_match_autograd(op, mode, order):
    tensor = reverse_tensor if mode == "reverse" else forward_tensor

    @settings(max_examples=8, deadline=None)
    @given(points(op))
    def check(args):
        # autograd's power rule is x**where(y, y-1, 1) * y: at exponents 0 and 1 exactly
        # its derivative by y is not the mixed partial, so mpmath is the reference there.
        if op.name == "pow" and args[1] in (0.0, 1.0):
            assume(args[0] > 0.0)
            theirs = mpmath_tensor(lambda a, b: a**b, args, order)
        else:
            theirs = autograd_tensor(AUTOGRAD[op.name], args, order)
        ours = tensor(op, args, order)
        bad = {i: (ours[i], theirs[i]) for i in theirs if not close(ours[i], theirs[i])}
        assert not bad, f"{op.name} at {args}: (ours, autograd) {bad}"

    check()


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
def test_every_partial_works_on_values_and_duals(op):
    """A partial called on traced arguments gives the float partial's number, in the graph."""
    args = tuple(0.7 + 0.4 * i for i in range(op.arity))
    y = op.fn(*args)
    for i, d in enumerate(op.partials):
        plain = d(*args, y)
        on_values = d(*(Value(a) for a in args), Value(y))
        on_duals = d(*(Dual(a, 1.0) for a in args), Dual(y, 1.0))
        for traced, number in ((on_values, "data"), (on_duals, "val")):
            got = getattr(traced, number) if isinstance(traced, (Value, Dual)) else traced
            assert got == pytest.approx(plain, rel=1e-12), (op.name, i)


def test_perturbation_confusion_is_avoided_by_tags():
    # d/dx [x * (d/dy (x*y))(1)] = d/dx [x * x] = 2x = 8 at x = 4.
    assert derivative(lambda x: x * derivative(lambda y: x * y, 1.0), 4.0) == 8.0


def test_untagged_nesting_confuses_the_perturbations():
    def untagged(f, x):  # the textbook's naive forward mode: every Dual shares one epsilon
        out = f(Dual(x, 1.0))
        return out.deriv if isinstance(out, Dual) else 0.0

    wrong = untagged(lambda x: x * untagged(lambda y: x * y, 1.0), 4.0)
    assert wrong == 5.0  # x*y = (4+e)(1+e) = 4 + 5e: the inner derivative took x's e too


def test_derivative_orders():
    f = lambda x: sin(x**2 + 1)  # noqa: E731
    u = 1.5**2 + 1
    assert derivative(f, 1.5, order=0).__class__ is float
    assert derivative(f, 1.5) == pytest.approx(2 * 1.5 * math.cos(u), rel=1e-14)
    assert derivative(f, 1.5, order=2) == pytest.approx(
        2 * math.cos(u) - 4 * 1.5**2 * math.sin(u), rel=1e-13
    )
    third = -12 * 1.5 * math.sin(u) - 8 * 1.5**3 * math.cos(u)
    assert derivative(f, 1.5, order=3) == pytest.approx(third, rel=1e-12)
    assert derivative(lambda x: 3.0, 1.0) == 0.0
    assert derivative(lambda x: x**5, 1.0, order=5) == pytest.approx(120.0)
    with pytest.raises(ValueError, match="order"):
        derivative(f, 1.0, order=-1)


def test_backward_create_graph_then_backward_again():
    x = Value(1.5, label="x")
    y = sin(x**2 + 1)
    y.backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Value)
    assert first.data == pytest.approx(derivative(lambda t: sin(t**2 + 1), 1.5), rel=1e-14)
    first.backward()  # x.grad held a Value: this pass starts it from zero
    assert x.grad.__class__ is float
    assert x.grad == pytest.approx(derivative(lambda t: sin(t**2 + 1), 1.5, order=2), rel=1e-13)


def test_create_graph_false_is_unchanged():
    def grads(create_graph):
        w, b = Value(0.5), Value(-0.1)
        loss = (ad_magic.sigmoid(w * 2.0 + b) - 0.8) ** 2 + w.relu() * b.exp()
        loss.backward(create_graph=create_graph)
        return w.grad, b.grad

    plain, traced = grads(False), grads(True)
    assert all(g.__class__ is float for g in plain)
    assert plain == tuple(g.data for g in traced)


def test_create_graph_accumulates_into_an_earlier_float_grad():
    x = Value(2.0)
    x.grad = 1.0
    (x * x).backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 5.0


def test_gradients_leave_grad_alone_and_free_their_graph():
    x = Value(0.3)
    y = ad_magic.tanh(x * 3.0)
    (g,) = gradients(y, x)
    assert x.grad == 0.0 and g.data == pytest.approx(3 * (1 - math.tanh(0.9) ** 2))
    gone = weakref.ref(g)
    del g
    assert gone() is None  # no cycle: freed by reference counting at once
    (zero,) = gradients(y, Value(1.0))
    assert zero.data == 0.0


def test_nested_duals_over_values_give_forward_over_reverse():
    # A Dual whose value and tangent are Values: the derivative is a graph.
    x = Value(0.5)
    y = (Dual(x, 1.0, tag=7) ** 3).deriv  # 3 x^2, as a Value
    assert isinstance(y, Value) and y.data == 0.75
    y.backward()
    assert x.grad == pytest.approx(3.0)  # d/dx 3x^2 = 6x


def test_a_plain_dual_and_a_value_still_refuse_to_mix():
    with pytest.raises(TypeError, match="cannot mix"):
        Value(1.0) * Dual(2.0, 1.0)
    with pytest.raises(TypeError, match="cannot mix"):
        ad_magic.maximum(Dual(2.0, 1.0), Value(1.0))


def test_student_primitive_rule_differentiates_again():
    @ad_magic.primitive(derivative=lambda a: 3 * a**2)
    def cube(a):
        return a**3

    try:
        assert derivative(cube, 2.0, order=2) == 12.0
        x = Value(2.0)
        cube(x).backward(create_graph=True)
        x.grad.backward()
        assert x.grad == 12.0
    finally:
        ad_magic.remove_primitive("cube")
    gc.collect()


def test_student_primitive_with_a_math_rule_says_what_to_do():
    @ad_magic.primitive(derivative=lambda a: math.cos(a))
    def wave(a):
        return math.sin(a)

    try:
        assert derivative(wave, 1.0) == pytest.approx(math.cos(1.0))
        with pytest.raises(TypeError, match="cannot be differentiated again"):
            derivative(wave, 1.0, order=2)
    finally:
        ad_magic.remove_primitive("wave")


@pytest.mark.parametrize("a", [30.0, -30.0, 300.0])
def test_traced_partials_keep_full_precision_at_saturation(a):
    for name in ("tanh", "sigmoid"):
        op = OPS[name]
        plain = op.partials[0](a, op.fn(a))
        traced = op.partials[0](Value(a), Value(op.fn(a))).data
        assert plain > 0 and traced == pytest.approx(plain, rel=1e-13), name


def test_higher_derivatives_at_zero_are_the_smooth_ones():
    # tanh''' (0) = -2 and sigmoid''(0) = 0: no kink in how the partials are written.
    assert derivative(ad_magic.tanh, 0.0, order=3) == pytest.approx(-2.0, rel=1e-14)
    x = Value(0.0)
    (g,) = gradients(ad_magic.tanh(x), x)
    (h,) = gradients(g, x)
    (k,) = gradients(h, x)
    assert (g.data, h.data, k.data) == (1.0, 0.0, pytest.approx(-2.0, rel=1e-14))
    assert derivative(ad_magic.sigmoid, 0.0, order=3) == pytest.approx(-1 / 8, rel=1e-14)
