"""Random expression trees at random points, large magnitudes included: reverse mode,
forward mode and %%grad (both of its passes) against each other and against mpmath.

Nothing here depends on luck: each example falls in one class, decided from the
exact values (mpmath, 60 digits) of every intermediate: each node's value, its
local partials, its derivative by x and the output's derivative by it.

- All normal floats: AD must be the chain rule evaluated exactly over the values
  the floats computed, to C ulps per operation of the terms' magnitude; where that
  differs from the exact derivative by less than 1e-13 (well conditioned), within
  1e-12 of the exact derivative (issue 12's bar).
- Only overflow: each mode exact (as above) or nan or ±inf.
- Underflow (a nonzero below the normal floats): nothing but %%grad == the engine;
  a wrong finite number is possible there, in every double-precision AD (README).
- A domain edge (log(0), 1/0): both modes equal in kind.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import mpmath
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import run

import ad_magic
from ad_magic import Dual, Value

MP = mpmath.mp.clone()  # its own precision, whatever other tests set
MP.dps = 60
UNARY = ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "neg", "abs", "relu"]
BINARY = ["add", "sub", "mul", "truediv", "pow", "ipow"]
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**", "ipow": "**"}
BIG = 1.7976931348623157e308
TINY = sys.float_info.min  # the smallest normal float
ULP = 2.0**-52
HUGE = MP.mpf(10) ** 1000

Tree = tuple[Any, ...]  # ("x",), ("c", 2.0), ("sin", t), ("add", t, t), ("ipow", t, 3)

numbers = (
    st.floats(-5.0, 5.0)
    | st.floats(-800.0, 800.0)
    | st.floats(allow_nan=False, allow_infinity=False)  # up to ±1.8e308
    | st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 30.0, 700.0, 1e300, -1e300, 1e-300])
)


def _extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    return (
        st.tuples(st.sampled_from(UNARY), children)
        | st.tuples(st.sampled_from(BINARY[:-1]), children, children)
        | st.tuples(st.just("ipow"), children, st.integers(-3, 4))
    )


def _on_x(tree: Tree) -> bool:
    """The output depends on x, and no binary op has two constant sides (that would be
    plain Python arithmetic: (-1.0)**1.5 is complex, 1.0/0.0 raises)."""
    if tree[0] == "x":
        return True
    if tree[0] == "c":
        return False
    sides = [t for t in tree[1:] if isinstance(t, tuple)]
    has_x = ["'x'" in repr(t) for t in sides]
    return any(has_x) and all(_on_x(t) or t[0] == "c" or _unary_of_constants(t) for t in sides)


def _unary_of_constants(tree: Tree) -> bool:
    return tree[0] == "c" or (tree[0] in UNARY and _unary_of_constants(tree[1]))


trees = st.recursive(
    st.just(("x",)) | st.tuples(st.just("c"), numbers), _extend, max_leaves=6
).filter(_on_x)


# -- the tree on floats: Values, Duals, and as cell source --------------------------------


def build(tree: Tree, x: Any, seen: dict[int, float] | None = None) -> Any:
    """The tree over x (a Value or Dual) with ad_magic's operators and free functions;
    `seen` gets each subtree's value as the floats computed it (by its id)."""
    out = _build(tree, x, seen)
    if seen is not None:
        seen[id(tree)] = float(getattr(out, "data", out))
    return out


def _build(tree: Tree, x: Any, seen: dict[int, float] | None) -> Any:
    kind = tree[0]
    if kind == "x":
        return x
    if kind == "c":
        return tree[1]
    if kind == "neg":
        return -build(tree[1], x, seen)
    if kind in UNARY:
        return getattr(ad_magic, kind)(build(tree[1], x, seen))
    a = build(tree[1], x, seen)
    if kind == "ipow":
        return a ** tree[2]
    b = build(tree[2], x, seen)
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    return a / b if kind == "truediv" else a**b


def source(tree: Tree) -> str:
    """The tree as Python source for a %%grad cell."""
    kind = tree[0]
    if kind == "x":
        return "x"
    if kind == "c":
        return f"({tree[1]!r})"
    if kind == "neg":
        return f"(-{source(tree[1])})"
    if kind in UNARY:
        return f"{kind}({source(tree[1])})"
    if kind == "ipow":
        return f"({source(tree[1])} ** {tree[2]})"
    return f"({source(tree[1])} {SYMBOL[kind]} {source(tree[2])})"


# -- the exact answer, with mpmath ---------------------------------------------------------


class Exact:
    """Forward and reverse mode in mpmath over a tree, noting whether every
    intermediate is a normal float. With `at`, each node's value is the float the
    engine computed (by subtree id) and only the chain rule is exact: the derivative
    of the program as the floats ran it, which AD must match to rounding."""

    def __init__(self, at: dict[int, float] | None = None) -> None:
        self.at = at
        self.representable = True  # every intermediate a normal float (or 0)
        self.finite = True  # every intermediate finite: no domain edge
        self.underflow = False  # an intermediate nonzero but below the normal floats
        # A derivative by x that cancels to exactly 0 (x - x) and then meets an
        # infinite or nan partial: forward mode's zero wins (0), reverse mode
        # multiplies first and sums inf - inf (nan). See the README.
        self.cancelled_into_inf = False
        self.cancelled: set[int] = set()  # ids of subtrees whose derivative cancelled to 0
        # The derivative with every term's absolute value: what rounding in the chain
        # rule's sums is relative to (x/x at tiny x: 1/x - x/x**2, each 1e61, sum 0).
        self.mag: dict[int, Any] = {}

    def note(self, *numbers: Any) -> None:
        for z in numbers:
            if not MP.isfinite(z):
                self.representable = self.finite = False  # a domain edge: log(0), 1/0
            elif z != 0 and abs(z) < TINY:
                self.representable, self.underflow = False, True  # 0 or subnormal in floats
            elif abs(z) > BIG:
                self.representable = False  # inf in floats

    def adjoints(self, tree: Tree, x: Any, adjoint: Any) -> None:
        """Reverse mode's intermediates: d out/d node for every node, noted."""
        self.note(adjoint)
        kind = tree[0]
        if kind in ("x", "c"):
            return
        vals = [self.value(tree[1], x)[0]]
        if kind == "ipow":
            vals.append(MP.mpf(tree[2]))
        elif kind not in UNARY:
            vals.append(self.value(tree[2], x)[0])
        _, partials = local(kind, *vals)
        for child, p in zip(tree[1:], partials, strict=False):
            if isinstance(child, tuple) and p != 0 and adjoint != 0:
                self.adjoints(child, x, adjoint * p)

    def value(self, tree: Tree, x: Any) -> tuple[Any, Any]:
        """(value, d value/dx) of the tree at x."""
        kind = tree[0]
        if kind == "x":
            return x, MP.mpf(1)
        if kind == "c":
            return MP.mpf(tree[1]), MP.mpf(0)
        args = [self.value(tree[1], x)]
        if kind == "ipow":
            args.append((MP.mpf(tree[2]), MP.mpf(0)))
        elif kind not in UNARY:
            args.append(self.value(tree[2], x))
        vals = [v for v, _ in args]
        y, partials = local(kind, *vals)
        if self.at is not None:
            y = MP.mpf(self.at[id(tree)])
        pairs = zip(partials, tree[1:], strict=False)  # an ipow's exponent is no subtree
        # b*a**(b-1) in floats: rounding b - 1 by an ulp moves a**(b-1) by |b-1| |ln a| ulps.
        weight = 1
        if kind in ("pow", "ipow") and vals[0] != 0 and MP.isfinite(vals[0]):
            weight = 1 + abs(vals[1] - 1) * abs(MP.log(abs(vals[0])))
        self.mag[id(tree)] = weight * sum(
            (abs(p) * self.mag.get(id(c), MP.mpf(c[0] == "x")) for p, c in pairs
             if isinstance(c, tuple) and p != 0),
            MP.mpf(0),
        )  # fmt: skip
        terms = [p * t for p, (_, t) in zip(partials, args, strict=True) if t != 0]
        d = sum(terms, MP.mpf(0))
        kids = [id(child) in self.cancelled for child in tree[1 : 1 + len(partials)]]
        for p, kid in zip(partials, kids, strict=True):
            if kid and not MP.isfinite(p):
                self.cancelled_into_inf = True
        if d == 0 and (
            any(terms) or any(k and p != 0 for p, k in zip(partials, kids, strict=True))
        ):
            self.cancelled.add(id(tree))  # a zero that cancellation made, not a zero partial
        # The partials by what depends on x (a constant exponent's may be nan: (-2)**b).
        self.note(y, d, *(p for p, c in zip(partials, tree[1:], strict=False) if _on(c)))
        return y, d


def power(a: Any, b: Any) -> Any:
    """a**b in mpmath; for an exponent past any float's size (an exact intermediate such as
    x**c**c), by exp(b log|a|) held within e**±1e6: far past the floats either way, where
    mpmath's exact integer power would run out of memory."""
    if abs(b) < 2**64:
        return MP.power(a, b)
    t = b * MP.log(abs(a))
    return MP.exp(max(min(t, MP.mpf(10**6)), MP.mpf(-(10**6))))


def _on(child: Any) -> bool:
    """A child that depends on x (not a constant, nor an ipow's integer exponent)."""
    return isinstance(child, tuple) and "'x'" in repr(child)


def local(kind: str, a: Any, b: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """An op's exact value and partials; nan (as mpmath's nan) off the real domain."""
    nan = MP.nan
    # An exact intermediate far past the floats (exp(exp(4e16))) is held at 1e1000: as far
    # past them for the classes above, and mpmath would run out of memory reducing it.
    a, b = (max(min(z, HUGE), -HUGE) if z is not None and MP.isfinite(z) else z for z in (a, b))
    try:
        if kind == "sin":
            return MP.sin(a), (MP.cos(a),)
        if kind == "cos":
            return MP.cos(a), (-MP.sin(a),)
        if kind == "tan":
            return MP.tan(a), (MP.sec(a) ** 2,)
        if kind == "exp":
            return MP.exp(a), (MP.exp(a),)
        if kind == "log":
            return (MP.log(a), (1 / a,)) if a > 0 else (nan, (nan,))
        if kind == "sqrt":
            return (MP.sqrt(a), (1 / (2 * MP.sqrt(a)),)) if a > 0 else (nan, (nan,))
        if kind == "tanh":
            return MP.tanh(a), (MP.sech(a) ** 2,)
        if kind == "sigmoid":
            e = MP.exp(-abs(a))  # s*(1 - s) in a form that needs no 600 digits at |a| = 700
            return 1 / (1 + MP.exp(-a)), (e / (1 + e) ** 2,)
        if kind == "neg":
            return -a, (MP.mpf(-1),)
        if kind == "abs":
            return abs(a), (MP.sign(a),)
        if kind == "relu":
            return max(a, 0), (MP.mpf(1 if a > 0 else 0),)
        if kind == "add":
            return a + b, (MP.mpf(1), MP.mpf(1))
        if kind == "sub":
            return a - b, (MP.mpf(1), MP.mpf(-1))
        if kind == "mul":
            return a * b, (b, a)
        if kind == "truediv":
            return (a / b, (1 / b, -a / b**2)) if b != 0 else (nan, (nan, nan))
        # pow, ipow: a real power only for a > 0, or an integer exponent; at a zero
        # base the conventions of ops.py (the power rule's limit, PyTorch's d/db)
        if a == 0:
            y = MP.mpf(1) if b == 0 else (MP.mpf(0) if b > 0 else MP.inf)
            da = MP.mpf(0) if b == 0 else (b * power(a, b - 1) if b >= 1 else MP.inf)
            return y, (da, MP.mpf(0) if b >= 0 else MP.nan)
        if a > 0:
            y = power(a, b)
            return y, (b * power(a, b - 1) if b != 0 else MP.mpf(0), y * MP.log(a))
        if b == int(b) and a != 0:
            y = power(a, b)
            return y, (b * power(a, b - 1) if b != 0 else MP.mpf(0), nan)
        return nan, (nan, nan)  # a zero or negative base: an edge; only the modes are compared
    except (ValueError, ZeroDivisionError, OverflowError):
        return nan, (nan,) * (1 if b is None else 2)


# -- the four answers --------------------------------------------------------------------


def forward(tree: Tree, x0: float) -> float:
    return build(tree, Dual(x0, 1.0)).deriv


def kind_of(z: float) -> str:
    if math.isnan(z):
        return "nan"
    if math.isinf(z):
        return "inf" if z > 0 else "-inf"
    return "0" if z == 0 else "finite"


@pytest.fixture(scope="module")
def grad_shell(shell):
    shell.reset(new_session=False)
    return shell


def op_count(tree: Tree) -> int:
    return (
        0
        if tree[0] in ("x", "c")
        else 1 + sum(op_count(t) for t in tree[1:3] if isinstance(t, tuple))
    )


# Each local partial is a few ulps off at most (libm and the table's forms) and each
# product and sum of the chain rule rounds once: C ulps per op of the terms' magnitude.
C = 8


@settings(
    max_examples=max(200, settings.default.max_examples),  # --hypothesis-profile thorough
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tree=trees, x0=numbers)
def test_reverse_forward_and_grad_agree_with_mpmath(grad_shell, tree, x0):
    floats: dict[int, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x = Value(x0, label="x")
        y = build(tree, x, floats)
        y.backward()
        answers = {"reverse": x.grad, "forward": forward(tree, x0)}
        run(grad_shell, f"%%grad x={x0!r} --text\ny = {source(tree)}")
    g = grad_shell.user_ns["_grad"]
    answers["%%grad reverse"] = g.grads["x"]
    answers["%%grad forward"] = g.tangents["x"][g.graph.output]
    kinds = {name: kind_of(z) for name, z in answers.items()}
    # %%grad runs the very engine: the same number (nan as nan; 0.0 as -0.0, the sign of
    # a zero derivative is not kept alike by the recorded program's forward pass).
    for mode in ("reverse", "forward"):
        a, b = answers[mode], answers[f"%%grad {mode}"]
        assert a == b or (kinds[mode] == kinds[f"%%grad {mode}"] == "nan"), answers
    X = MP.mpf(x0)
    exact = Exact()  # the true derivative d, every intermediate exact
    _, d = exact.value(tree, X)
    exact.adjoints(tree, X, MP.mpf(1))
    ran = Exact(floats)  # the chain rule, exact, over the values the floats computed
    _, ref = ran.value(tree, X)
    ran.adjoints(tree, X, MP.mpf(1))
    where = (source(tree), x0, answers, float(d))
    if exact.cancelled_into_inf:
        event("a derivative cancelled to 0 meets inf: reverse may be nan (README)")
        assert kinds["reverse"] in (kinds["forward"], "nan"), where
        return
    if not exact.finite:
        # An infinite partial met by two terms of opposite sign: forward mode sums them
        # first (inf * (a + b)), reverse mode multiplies first (inf * a + inf * b = nan).
        event("a domain edge (log(0), 1/0): the modes equal, or reverse nan")
        assert kinds["reverse"] in (kinds["forward"], "nan"), where
        if kinds["reverse"] == "finite":
            r, f = answers["reverse"], answers["forward"]
            assert abs(r - f) <= 1e-12 * abs(r), where
        return
    if not (exact.representable and ran.representable and ran.finite):
        if exact.underflow or ran.underflow:
            # A nonzero below 2.2e-308 rounds to 0 or to a subnormal of few digits; scaled
            # up again it is a wrong finite number (x*1e-300*1e-300*1e300*1e300: forward 0,
            # reverse inf; exact 1), in every double-precision AD (README).
            event("an intermediate underflows: %%grad is the engine, nothing more")
            return
        # Only overflow: what meets an inf is inf or nan; the rest is exact (README).
        event("an intermediate overflows: exact, or nan or inf")
        bound = C * op_count(tree) * ULP * ran.mag.get(id(tree), MP.mpf(1))
        for name, z in answers.items():
            exact_or_ran = abs(MP.mpf(z) - d) <= 1e-12 * abs(d) or abs(MP.mpf(z) - ref) <= bound
            assert kind_of(z) != "finite" or exact_or_ran, (name, *where)
        return
    # Every intermediate a normal float: AD is the chain rule over the values the floats
    # computed, to C ulps per op of the terms' magnitude, always...
    bound = C * op_count(tree) * ULP * ran.mag.get(id(tree), MP.mpf(1))
    for name, z in answers.items():
        assert abs(MP.mpf(z) - ref) <= bound, (name, *where, float(ref), float(bound))
    # ... and where neither the values' rounding nor the sums' cancellation matter
    # (both within 1e-13), the exact derivative to the 1e-12.
    if abs(ref - d) + bound <= 1e-13 * abs(d):
        event("well conditioned: 1e-12 of the exact derivative")
        for name, z in answers.items():
            assert abs(MP.mpf(z) - d) <= 1e-12 * abs(d), (name, *where)
    else:
        event("ill conditioned: exact for the values the floats computed")
