"""Random expression trees at random points, large magnitudes included: reverse mode,
forward mode and %%grad (both of its passes) against each other and against mpmath.

Where every exact intermediate (each node's value, its derivative by x and the
output's derivative by it) is a normal float, the derivative must be within
1e-12 relative of the exact one; where the float evaluation itself cannot get
that close (cancellation: perturbing each intermediate by an ulp moves the exact
answer by more than 1e-14), within 16 times that spread. Where an intermediate
is not representable (overflow, underflow, a domain edge), all four must be
equal: both nan, both inf of one sign, both 0, or close finite numbers.
"""

from __future__ import annotations

import math
import random
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


def build(tree: Tree, x: Any) -> Any:
    """The tree over x (a Value or Dual) with ad_magic's operators and free functions."""
    kind = tree[0]
    if kind == "x":
        return x
    if kind == "c":
        return tree[1]
    if kind == "neg":
        return -build(tree[1], x)
    if kind in UNARY:
        return getattr(ad_magic, kind)(build(tree[1], x))
    a = build(tree[1], x)
    if kind == "ipow":
        return a ** tree[2]
    b = build(tree[2], x)
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
    intermediate is a normal float, with each node's value optionally nudged."""

    def __init__(self, nudge: random.Random | None = None) -> None:
        self.nudge = nudge
        self.representable = True  # every intermediate a normal float (or 0)
        self.finite = True  # every intermediate finite: no domain edge
        # A derivative by x that cancels to exactly 0 (x - x) and then meets an
        # infinite or nan partial: forward mode's zero wins (0), reverse mode
        # multiplies first and sums inf - inf (nan). See the README.
        self.cancelled_into_inf = False
        self.cancelled: set[int] = set()  # ids of subtrees whose derivative cancelled to 0
        # The derivative with every term's absolute value: what rounding in the chain
        # rule's sums is relative to (x/x at tiny x: 1/x - x/x**2, each 1e61, sum 0).
        self.mag: dict[int, Any] = {}
        self.size = 0

    def note(self, *numbers: Any) -> None:
        for z in numbers:
            if not MP.isfinite(z):
                self.representable = self.finite = False  # a domain edge: log(0), 1/0
            elif z != 0 and not TINY <= abs(z) <= BIG:
                self.representable = False  # finite, but past a float's range

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
        if self.nudge is not None and MP.isfinite(y):
            y *= 1 + self.nudge.choice((-1, 1)) * ULP
        self.size += 1
        pairs = zip(partials, tree[1:], strict=False)  # an ipow's exponent is no subtree
        self.mag[id(tree)] = sum(
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
        self.note(y, d, *partials)
        return y, d


def local(kind: str, a: Any, b: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """An op's exact value and partials; nan (as mpmath's nan) off the real domain."""
    nan = MP.nan
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
            da = MP.mpf(0) if b == 0 else (b * MP.power(a, b - 1) if b >= 1 else MP.inf)
            return y, (da, MP.mpf(0) if b >= 0 else MP.nan)
        if a > 0:
            y = MP.power(a, b)
            return y, (b * MP.power(a, b - 1) if b != 0 else MP.mpf(0), y * MP.log(a))
        if b == int(b) and a != 0:
            y = MP.power(a, b)
            return y, (b * MP.power(a, b - 1) if b != 0 else MP.mpf(0), nan)
        return nan, (nan, nan)  # a zero or negative base: an edge; only the modes are compared
    except (ValueError, ZeroDivisionError, OverflowError):
        return nan, (nan,) * (1 if b is None else 2)


# -- the four answers --------------------------------------------------------------------


def reverse(tree: Tree, x0: float) -> float:
    x = Value(x0, label="x")
    y = build(tree, x)
    y.backward()
    return x.grad


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


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees, x0=numbers)
def test_reverse_forward_and_grad_agree_with_mpmath(grad_shell, tree, x0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        answers = {"reverse": reverse(tree, x0), "forward": forward(tree, x0)}
        run(grad_shell, f"%%grad x={x0!r} --text\ny = {source(tree)}")
    g = grad_shell.user_ns["_grad"]
    answers["%%grad reverse"] = g.grads["x"]
    answers["%%grad forward"] = g.tangents["x"][g.graph.output]
    exact = Exact()
    _, d = exact.value(tree, MP.mpf(x0))
    exact.adjoints(tree, MP.mpf(x0), MP.mpf(1))
    kinds = {name: kind_of(z) for name, z in answers.items()}
    # %%grad runs the very engine: the same number, bit for bit (nan as nan).
    assert (
        kinds["reverse"] == kinds["%%grad reverse"] and kinds["forward"] == kinds["%%grad forward"]
    )
    assert repr(answers["reverse"]) == repr(answers["%%grad reverse"]), answers
    assert repr(answers["forward"]) == repr(answers["%%grad forward"]), answers
    if exact.cancelled_into_inf:
        event("a derivative cancelled to 0 meets inf: reverse may be nan (README)")
        assert kinds["reverse"] in (kinds["forward"], "nan"), (source(tree), x0, answers)
        return
    if not exact.finite:
        event("a domain edge (log(0), 1/0): the modes must be equal")
        assert kinds["reverse"] == kinds["forward"], (source(tree), x0, answers)
        if kinds["reverse"] == "finite":
            r, f = answers["reverse"], answers["forward"]
            assert abs(r - f) <= 1e-12 * abs(r), answers
        return
    if not exact.representable:
        event("an intermediate past a float's range: modes may round differently")
        return
    # How far one ulp of rounding in each intermediate can move the exact answer.
    spread = max(
        abs(Exact(random.Random(seed)).value(tree, MP.mpf(x0))[1] - d) for seed in range(3)
    )
    magnitude = exact.mag.get(id(tree), MP.mpf(1))
    spread += 2 * exact.size * ULP * magnitude  # the sums' rounding
    well_conditioned = spread <= 1e-14 * abs(d)
    event("well conditioned: 1e-12" if well_conditioned else "cancellation: 16x the spread")
    tol = 1e-12 * abs(d) if well_conditioned else max(1e-12 * abs(d), 16 * spread)
    for name, z in answers.items():
        assert abs(MP.mpf(z) - d) <= tol, (name, source(tree), x0, z, float(d), float(spread))
