"""The table of primitives: every differentiable operation, defined once.

Each row gives an operation's value on floats, one local partial derivative
per argument, its display symbol and the rule in words. Reverse mode
(`Value`), forward mode (`Dual`), the free functions and the step narration
all read this table, so a new operation is one new row.

Partials are called with the argument values followed by the output value,
`d(a, y)` for a unary op and `d(a, b, y)` for a binary one, so that rules like
d exp(a)/da = exp(a) reuse the output instead of computing it again. Every
partial is written in operations of the table itself, so it works on floats
(the fast path) and equally on Values and Duals: called on Values it builds
the derivative as a graph, which is how second derivatives are made
(`backward(create_graph=True)`, nested Duals). A partial that is constant
where it exists (sign, step, max's pick) gives a plain number: its own
derivative is zero.

Domain edges behave like numpy: log(0) is -inf, sqrt(-1) is nan, 0 ** -1 is
inf, sin(inf) is nan, each with numpy's RuntimeWarning. The fast path uses
`math`; only when `math` refuses does the row fall back to numpy.

The partials keep full precision where the textbook form would not: tanh'
is sech(a)**2 (not 1 - tanh(a)**2, which is 0 from |a| = 19 on), sigmoid' is
sigmoid(a)*sigmoid(-a) (not y*(1 - y)). At a zero base the power rule takes
its limit: d(a**0)/da = 0, and d(0**b)/db = 0 for b >= 0 (PyTorch's and JAX's
convention; the exact one-sided limit is -inf at b = 0).

Both modes multiply along the graph with `chain`, where zero wins: a zero
adjoint or tangent passes on zero even through an infinite partial, and a
zero partial stops an infinite one, so reverse and forward mode agree.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Fn = Callable[..., float]


def _numpy_fallback(fast: Fn, slow: Callable[..., object]) -> Fn:
    """Use `fast` (math), and numpy's inf/nan-with-warning answer where math raises."""

    def guarded(*args: float) -> float:
        try:
            return fast(*args)
        except (ValueError, ZeroDivisionError, OverflowError):
            return float(slow(*(np.float64(a) for a in args)))  # type: ignore[arg-type]

    guarded.__name__ = getattr(fast, "__name__", "guarded")
    return guarded


_div = _numpy_fallback(lambda a, b: a / b, np.divide)
_pow = _numpy_fallback(math.pow, np.power)
_log = _numpy_fallback(math.log, np.log)
_sqrt = _numpy_fallback(math.sqrt, np.sqrt)
_exp = _numpy_fallback(math.exp, np.exp)
_sin = _numpy_fallback(math.sin, np.sin)
_cos = _numpy_fallback(math.cos, np.cos)
_tan = _numpy_fallback(math.tan, np.tan)


def chain(partial: float, factor: float) -> float:
    """One term of the chain rule, partial * factor, where zero wins over inf and nan."""
    return partial * factor if partial and factor else 0.0


def _number(x: Any) -> bool:
    """A plain number (float first: the fast path), not a traced Value or Dual."""
    return x.__class__ is float or not hasattr(x, "primal")


def _either(name: str, on_float: Fn) -> Fn:
    """on_float for a float, the row `name` (a method) for a Value or Dual: how a
    partial that needs cos(a) stays in the graph when a is traced."""

    def either(a: Any) -> Any:
        return on_float(a) if _number(a) else getattr(a, name)()

    either.__name__ = f"{name}_"
    return either


def _power(a: Any, b: Any) -> Any:
    return _pow(a, b) if _number(a) and _number(b) else a**b


def _sigmoid(a: float) -> float:
    # Two forms so that exp never overflows.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


_cos_ = _either("cos", _cos)
_sin_ = _either("sin", _sin)
_log_ = _either("log", _log)
_sigmoid_ = _either("sigmoid", _sigmoid)


def _sech2(a: Any) -> Any:
    if _number(a):
        # sech(a) = 2e/(1 + e**2) with e = exp(-|a|): no cancellation, no overflow.
        e = math.exp(-abs(a))
        s = 2.0 * e / (1.0 + e * e)
        return s * s
    # Traced: 4e/(1 + e)**2 with e = exp(-2a) or exp(2a), whichever is at most 1. Both
    # branches are the same smooth function (abs(a) would lose its derivatives at 0).
    e = (-2.0 * a).exp() if a >= 0 else (2.0 * a).exp()
    return 4.0 * e / (1.0 + e) ** 2


def _dpow_base(a: Any, b: Any, y: Any) -> Any:
    # The power rule b*a**(b-1); a constant power (b = 0) has derivative 0, even at a = 0.
    # Only that point is special-cased: elsewhere the rule stays a function of b, so its
    # own derivative by b (a mixed second partial, 1/a at b = 1, a = 1) is kept.
    # A constant exponent stays a number, so a**(b-1) has no exponent to differentiate.
    if getattr(b, "_fn", None) is CONST:
        b = b.primal
    if _number(b) and b == 0:
        return 0.0  # at every a: a subnormal a's a**-1 is inf, and 0 * inf would be nan
    if not (b or a):
        return 0.0
    if a and _number(a) and _number(b) and _number(y) and math.isfinite(y):
        try:
            return b * math.pow(a, b - 1.0)
        except (OverflowError, ValueError):
            # a**(b-1) overflows where a**b does not (x**x at a subnormal x: 1/x is past
            # the largest float, x**x is 1): the same number as b/a * a**b, if finite
            other = b / a * y
            if math.isfinite(other):
                return other
    return b * _power(a, b - 1.0)


def _dpow_exponent(a: Any, b: Any, y: Any) -> Any:
    # a**b*log(a); 0 at a zero base with b >= 0, as in PyTorch and JAX.
    if not a and b >= 0.0:
        return 0.0
    return y * _log_(a) if y else 0.0


def _sign(a: float) -> float:
    return 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)


def _step(a: float) -> float:
    return 1.0 if a > 0 else 0.0


def _pick(a: float, b: float) -> float:
    """d max(a, b)/da: 1 where a wins, 0 where b wins, a tie splits evenly (as in PyTorch)."""
    return 1.0 if a > b else (0.0 if a < b else 0.5)


@dataclass(frozen=True)
class Op:
    """One primitive: its value, local partial derivatives and how to show them."""

    name: str  # the method and free-function name, e.g. "sin"
    symbol: str  # what a graph node shows, e.g. "sin" or "*"
    expr: str  # the operation in terms of a (and b), e.g. "sin(a)" or "a*b"
    fn: Fn  # value on floats
    partials: tuple[Fn, ...]  # d out/d arg, called as (args..., out)
    derivs: tuple[str, ...]  # each partial as a formula in a, b and y (the output)
    ufunc: np.ufunc | None = None  # the numpy ufunc that dispatches to this row
    dunder: str | None = None  # the Python operator method, e.g. "__mul__"
    args: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", ("a", "b")[: len(self.partials)])

    @property
    def arity(self) -> int:
        return len(self.partials)

    def rule(self, i: int = 0) -> str:
        """The derivative rule for argument i in words, e.g. 'd sin(a)/da = cos(a)'."""
        return _rule(self.expr, self.args[i], self.derivs[i])

    def __repr__(self) -> str:
        return f"<op {self.name}>"


@functools.cache
def _rule(expr: str, arg: str, deriv: str) -> str:
    of = f" {expr}" if re.fullmatch(r"\w+\(a\)", expr) else f"({expr})"
    return f"d{of}/d{arg} = {deriv}"


def fill(template: str, names: dict[str, str]) -> str:
    """Put names or numbers in for a, b and y in a formula such as 'cos(a)'.

    What goes in is bracketed where the formula would otherwise read wrong:
    2*a**(2-1) with a = y_hat - t becomes 2*(y_hat - t)**(2-1), and with
    a = -0.5 it becomes 2*(-0.5)**(2-1). Sole arguments, cos(a), need none.
    """
    pieces = _pieces(template)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(piece)
            continue
        text = names.get(piece, piece)
        alone = pieces[i - 1].endswith("(") and pieces[i + 1].startswith(")")
        out.append(text if alone or _SIMPLE.fullmatch(text) else f"({text})")
    return "".join(out)


_SIMPLE = re.compile(r"[\w.\[\],']+")  # a name (h', W[0,1]) or a number that is not negative


@functools.cache
def _pieces(template: str) -> list[str]:
    """'cos(a)*b' as ['cos(', 'a', ')*', 'b', '']: text and letters, alternating."""
    return re.split(r"\b([aby])\b", template)


# fmt: off
TABLE: tuple[Op, ...] = (
    Op("add", "+", "a + b", lambda a, b: a + b,
       (lambda a, b, y: 1.0, lambda a, b, y: 1.0), ("1", "1"), np.add, "__add__"),
    Op("sub", "-", "a - b", lambda a, b: a - b,
       (lambda a, b, y: 1.0, lambda a, b, y: -1.0), ("1", "-1"), np.subtract, "__sub__"),
    Op("mul", "*", "a*b", lambda a, b: a * b,
       (lambda a, b, y: b, lambda a, b, y: a), ("b", "a"), np.multiply, "__mul__"),
    Op("truediv", "/", "a/b", _div,
       (lambda a, b, y: _div(1.0, b), lambda a, b, y: _div(-y, b)), ("1/b", "-a/b**2"),
       np.true_divide, "__truediv__"),
    Op("pow", "**", "a**b", _pow,
       (_dpow_base, _dpow_exponent), ("b*a**(b-1)", "a**b*log(a)"), np.power, "__pow__"),
    Op("maximum", "max", "max(a, b)", lambda a, b: a if a >= b else b,
       (lambda a, b, y: _pick(a, b), lambda a, b, y: _pick(b, a)),
       ("[a > b]", "[b > a]"), np.maximum),
    Op("minimum", "min", "min(a, b)", lambda a, b: a if a <= b else b,
       (lambda a, b, y: _pick(b, a), lambda a, b, y: _pick(a, b)),
       ("[a < b]", "[b < a]"), np.minimum),
    Op("neg", "neg", "-a", lambda a: -a, (lambda a, y: -1.0,), ("-1",), np.negative, "__neg__"),
    Op("abs", "abs", "abs(a)", abs, (lambda a, y: _sign(a),), ("sign(a)",), np.absolute,
       "__abs__"),
    Op("exp", "exp", "exp(a)", _exp, (lambda a, y: y,), ("exp(a)",), np.exp),
    Op("log", "log", "log(a)", _log, (lambda a, y: _div(1.0, a),), ("1/a",), np.log),
    Op("sqrt", "sqrt", "sqrt(a)", _sqrt, (lambda a, y: _div(0.5, y),), ("1/(2*sqrt(a))",),
       np.sqrt),
    Op("sin", "sin", "sin(a)", _sin, (lambda a, y: _cos_(a),), ("cos(a)",), np.sin),
    Op("cos", "cos", "cos(a)", _cos, (lambda a, y: -_sin_(a),), ("-sin(a)",), np.cos),
    Op("tan", "tan", "tan(a)", _tan, (lambda a, y: 1.0 + y * y,), ("1 + tan(a)**2",),
       np.tan),
    Op("tanh", "tanh", "tanh(a)", math.tanh, (lambda a, y: _sech2(a),), ("1 - tanh(a)**2",),
       np.tanh),
    Op("sigmoid", "sigmoid", "sigmoid(a)", _sigmoid, (lambda a, y: y * _sigmoid_(-a),),
       ("sigmoid(a)*(1 - sigmoid(a))",)),
    Op("relu", "relu", "relu(a)", lambda a: 0.0 if a <= 0 else a, (lambda a, y: _step(a),),
       ("[a > 0]",)),
)
# fmt: on

OPS: dict[str, Op] = {op.name: op for op in TABLE}
BY_UFUNC: dict[np.ufunc, Op] = {op.ufunc: op for op in TABLE if op.ufunc is not None}
UNARY: tuple[Op, ...] = tuple(op for op in TABLE if op.arity == 1)
BINARY: tuple[Op, ...] = tuple(op for op in TABLE if op.arity == 2)


def add_row(op: Op) -> None:
    """Add a row for this session, or replace the row of that name (see primitives.py).

    OPS and BY_UFUNC change in place, since other modules hold them; TABLE,
    UNARY and BINARY are rebuilt, so read them as `ops.TABLE`.
    """
    global TABLE
    TABLE = (*(row for row in TABLE if row.name != op.name), op)
    _derive()


def remove_row(name: str) -> Op:
    """Take a row out of the table again; the row."""
    global TABLE
    op = OPS[name]
    TABLE = tuple(row for row in TABLE if row.name != name)
    _derive()
    return op


def _derive() -> None:
    global UNARY, BINARY
    OPS.clear()
    OPS.update((op.name, op) for op in TABLE)
    BY_UFUNC.clear()
    BY_UFUNC.update((op.ufunc, op) for op in TABLE if op.ufunc is not None)
    UNARY = tuple(op for op in TABLE if op.arity == 1)
    BINARY = tuple(op for op in TABLE if op.arity == 2)


# Leaves are not operations: an input (something to differentiate by) and a
# constant (a plain number lifted into the graph, never differentiated).
INPUT = Op("input", "", "a", float, (), ())
CONST = Op("const", "", "a", float, (), ())
