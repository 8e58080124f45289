"""The primitive table: every row's value and partials, in both modes, against numbers."""

from __future__ import annotations

import math
import sys
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import central, points

from ad_magic import Dual, Value
from ad_magic.engine import dual as dual_mode
from ad_magic.engine import functions, value
from ad_magic.engine.ops import OPS, TABLE, fill

REQUIRED = {
    "add", "sub", "mul", "truediv", "pow", "neg", "abs", "exp", "log", "sqrt",
    "sin", "cos", "tan", "tanh", "sigmoid", "relu",
}  # fmt: skip

REFERENCE = {  # numpy's answer for every row that numpy has
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "neg": np.negative,
    "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "tanh": np.tanh,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "relu": lambda a: np.maximum(a, 0.0),
}  # fmt: skip


def rel_close(a: float, b: float, tol: float = 1e-5) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def test_table_has_every_required_primitive():
    assert set(OPS) >= REQUIRED


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
def test_row_is_complete(op):
    assert op.arity in (1, 2)
    assert len(op.derivs) == op.arity
    assert op.symbol and op.expr
    for i in range(op.arity):
        rule = op.rule(i)
        assert rule.startswith("d") and f"/d{'ab'[i]} = " in rule


def test_rule_reads_like_the_textbook():
    assert OPS["sin"].rule() == "d sin(a)/da = cos(a)"
    assert OPS["mul"].rule(1) == "d(a*b)/db = a"
    assert fill(OPS["sin"].derivs[0], {"a": "b"}) == "cos(b)"
    assert fill(OPS["pow"].derivs[0], {"a": "x", "b": "2"}) == "2*x**(2-1)"


@pytest.mark.parametrize(
    ("template", "names", "expected"),
    [
        ("b*a**(b-1)", {"a": "y_hat - t", "b": "2"}, "2*(y_hat - t)**(2-1)"),
        ("b*a**(b-1)", {"a": "-0.1", "b": "3"}, "3*(-0.1)**(3-1)"),  # not -(0.1**2)
        ("cos(a)", {"a": "x**2 + 1"}, "cos(x**2 + 1)"),  # a sole argument needs no brackets
        ("-a/b**2", {"a": "h'", "b": "W[0,1]"}, "-h'/W[0,1]**2"),
    ],
)
def test_fill_brackets_what_would_read_wrong(template, names, expected):
    assert fill(template, names) == expected
    if all(v.replace(".", "").lstrip("-").isdigit() for v in names.values()):
        assert eval(fill(template, names)) == eval(
            template, {}, {k: float(v) for k, v in names.items()}
        )


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_value_matches_numpy(op, data):
    args = data.draw(points(op))
    assert rel_close(op.fn(*args), float(REFERENCE[op.name](*map(np.float64, args))), 1e-12)


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_partials_match_central_differences(op, data):
    args = data.draw(points(op))
    y = op.fn(*args)
    for i, partial in enumerate(op.partials):
        assert rel_close(partial(*args, y), central(op.fn, args, i))


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_reverse_mode_row(op, data):
    args = data.draw(points(op))
    leaves = [Value(a) for a in args]
    out = value.apply(op, leaves)
    out.backward()
    assert out.data == op.fn(*args)
    for i, leaf in enumerate(leaves):
        assert rel_close(leaf.grad, central(op.fn, args, i))


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_forward_mode_row(op, data):
    args = data.draw(points(op))
    for i in range(op.arity):
        duals = [Dual(a, 1.0 if j == i else 0.0) for j, a in enumerate(args)]
        out = dual_mode.apply(op, duals)
        assert out.val == op.fn(*args)
        assert rel_close(out.deriv, central(op.fn, args, i))


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
def test_methods_operators_and_free_functions_use_the_row(op):
    args = [0.7, 1.3][: op.arity]
    expected = op.fn(*args)
    for cls, number in ((Value, "data"), (Dual, "val")):
        traced = [cls(a) for a in args]
        assert getattr(getattr(traced[0], op.name)(*traced[1:]), number) == expected
        if op.dunder:
            assert getattr(getattr(traced[0], op.dunder)(*traced[1:]), number) == expected
    if op.name in functions.FUNCTIONS:
        assert functions.FUNCTIONS[op.name](*args) == expected


# -- domain edges: numpy's answers and warnings, never a crash ----------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda c: c(0.0).log(), -math.inf),
        (lambda c: c(-1.0).sqrt(), math.nan),
        (lambda c: c(0.0) ** -1, math.inf),
        (lambda c: 1 / c(0.0), math.inf),
        (lambda c: c(-8.0) ** (1 / 3), math.nan),
        (lambda c: c(1000.0).exp(), math.inf),
        (lambda c: c(math.inf).sin(), math.nan),
        (lambda c: c(-math.inf).cos(), math.nan),
        (lambda c: c(math.inf).tan(), math.nan),
        (lambda c: (c(1e300) * 1e300).sin(), math.nan),
    ],
    ids=[
        "log0",
        "sqrt-neg",
        "zero-pow-neg",
        "div0",
        "neg-pow-frac",
        "exp-overflow",
        "sin-inf",
        "cos-minus-inf",
        "tan-inf",
        "sin-overflowed",
    ],
)
@pytest.mark.parametrize("cls", [Value, Dual])
def test_domain_edges_follow_numpy(cls, make, expected):
    with pytest.warns(RuntimeWarning):
        out = make(cls)
    got = out.data if cls is Value else out.val
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_kinks_have_zero_derivative_at_zero(name):
    x = Value(0.0)
    getattr(x, name)().backward()
    assert x.grad == 0.0
    assert getattr(Dual(0.0, 1.0), name)().deriv == 0.0


def test_log_derivative_at_zero_is_inf_with_warning():
    x = Value(0.0)
    with pytest.warns(RuntimeWarning):
        y = x.log()
    with pytest.warns(RuntimeWarning):
        y.backward()
    assert x.grad == math.inf


def test_no_warning_on_ordinary_points():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = (Value(2.0) ** 3).log().sqrt() / Value(4.0)
        y.backward()
    assert y.data == pytest.approx(math.sqrt(math.log(8.0)) / 4)


def test_sigmoid_is_stable_far_out():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
@pytest.mark.parametrize("a", [1e300, -1e300, 1e22, 2.0**1000])
def test_trig_of_huge_numbers_is_the_float_answer(name, a):
    # math reduces huge arguments exactly; both modes and the free function agree with it.
    exact = float(getattr(mpmath, name)(mpmath.mpf(a)))
    d = getattr(Dual(a, 1.0), name)()
    assert getattr(Value(a), name)().data == d.val == functions.FUNCTIONS[name](a)
    assert abs(d.val - exact) <= 1e-15 * abs(exact)
    x = Value(a)
    getattr(x, name)().backward()
    assert x.grad == d.deriv


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
@pytest.mark.parametrize("cls", [Value, Dual])
def test_trig_derivative_at_inf_is_nan_with_warning(name, cls):
    with pytest.warns(RuntimeWarning):
        if cls is Value:
            x = Value(math.inf)
            getattr(x, name)().backward()
            got = x.grad
        else:
            got = getattr(Dual(math.inf, 1.0), name)().deriv
    assert math.isnan(got)


# -- precision at saturation and at zero -----------------------------------------

mpmath.mp.dps = 40
EXACT = {
    "tanh": lambda a: mpmath.sech(a) ** 2,
    "sigmoid": lambda a: mpmath.exp(-abs(a)) / (1 + mpmath.exp(-abs(a))) ** 2,
}


def both_modes(name: str, a: float) -> tuple[float, float]:
    x = Value(a)
    getattr(x, name)().backward()
    return x.grad, getattr(Dual(a, 1.0), name)().deriv


@pytest.mark.parametrize("name", sorted(EXACT))
@settings(max_examples=300, deadline=None)
@given(a=st.floats(-700.0, 700.0) | st.sampled_from([10.0, 20.0, 30.0, 37.0, 354.0, -700.0]))
def test_saturating_derivatives_keep_full_precision(name, a):
    exact = EXACT[name](mpmath.mpf(a))
    reverse, forward = both_modes(name, a)
    assert reverse == forward
    if exact >= sys.float_info.min:  # a normal float: full precision
        assert abs(reverse - exact) <= 1e-13 * exact, (a, reverse, float(exact))
    else:  # subnormal or below: within one step of the subnormal grid
        assert abs(reverse - exact) <= 5e-324


def test_textbook_forms_would_have_failed_there():
    # The reason for the forms above: the textbook rules lose everything.
    assert 1 - math.tanh(20.0) ** 2 == 0.0 < both_modes("tanh", 20.0)[0]
    y = 1 / (1 + math.exp(-37.0))
    assert y * (1 - y) == 0.0 < both_modes("sigmoid", 37.0)[0]


@pytest.mark.parametrize("cls", [Value, Dual])
def test_polynomial_at_zero_has_the_linear_coefficient_as_derivative(cls):
    cs = [3.0, 5.0, 7.0, -2.0]
    if cls is Value:
        x = Value(0.0)
        sum(c * x**k for k, c in enumerate(cs)).backward()
        assert x.grad == cs[1]
    else:
        assert sum(c * Dual(0.0, 1.0) ** k for k, c in enumerate(cs)).deriv == cs[1]


@pytest.mark.parametrize(("n", "expected"), [(0, 0.0), (1, 1.0), (2, 0.0), (3, 0.0)])
def test_integer_powers_at_zero_follow_the_power_rules_limit(n, expected):
    x = Value(0.0)
    (x**n).backward()
    assert x.grad == expected == (Dual(0.0, 1.0) ** n).deriv


@pytest.mark.parametrize(("b", "expected"), [(0.0, 0.0), (2.0, 0.0), (0.5, 0.0)])
def test_zero_base_exponent_derivative_is_zero_as_in_pytorch_and_jax(b, expected):
    # d(0**b)/db: PyTorch and JAX give 0 for b >= 0 (the one-sided limit at b = 0 is -inf).
    x = Value(b)
    (0.0**x).backward()
    assert x.grad == expected
    assert (0.0 ** Dual(b, 1.0)).deriv == expected


@pytest.mark.parametrize(
    "make",
    [lambda x: x.exp() * 0.0, lambda x: 0.0 * x.exp(), lambda x: (x.exp() * 0.0).sin()],
    ids=["exp-times-zero", "zero-times-exp", "through-sin"],
)
def test_zero_times_inf_agrees_in_both_modes(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x = Value(1000.0)
        make(x).backward()
        forward = make(Dual(1000.0, 1.0)).deriv
    assert x.grad == forward == 0.0


@pytest.mark.parametrize("a", [0.0, 5e-324, 2.2e-309, -2.2e-309, 1.0])
def test_a_constant_zero_power_has_derivative_zero_at_every_base(a):
    """d(a**0)/da = 0, at a subnormal base too (a**-1 = inf there; 0 * inf is no answer)."""
    x = Value(a)
    (x**0).backward()
    assert x.grad == 0.0 and (Dual(a, 1.0) ** 0).deriv == 0.0


@pytest.mark.parametrize("a", [5e-324, 1e-310, 2.5e-308])
def test_x_to_the_x_at_a_subnormal_x_keeps_a_finite_derivative(a):
    """d(x**x)/dx = x**x (log x + 1): finite at a subnormal x, though the power rule's
    x**(x-1) = 1/x there is past the largest float (found by the mpmath property test)."""
    exact = float(mpmath.power(a, a) * (mpmath.log(a) + 1))
    x = Value(a)
    (x**x).backward()
    forward = (lambda d: d**d)(Dual(a, 1.0)).deriv
    assert x.grad == forward and math.isclose(x.grad, exact, rel_tol=1e-12), (x.grad, exact)
    b = Value(a)
    (b**2.0).backward()  # a power rule that does not overflow is computed as before
    assert b.grad == 2.0 * a
