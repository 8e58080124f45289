"""Forward mode: `Dual`, a dual number carrying a value and its derivative.

    >>> x = Dual(1.5, 1.0)  # seed: dx/dx = 1
    >>> y = (x**2 + 1).sin()
    >>> round(y.val, 8), round(y.deriv, 8)
    (-0.10819513, -2.98238903)

Each operation computes its value and, by the chain rule, its derivative
from its arguments' derivatives, using the same primitive table as `Value`.
One pass gives the derivative with respect to one seeded input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import TYPE_CHECKING, ClassVar

from ad_magic.engine.ops import Op, chain
from ad_magic.engine.scalar import Scalar, install, refuse_mix, to_float

_new = object.__new__

# Called with every Dual an operation makes while a %%grad trace records.
on_create: Callable[[Dual], None] | None = None


def _dual(val: float, deriv: float) -> Dual:
    d = _new(Dual)
    d.val = val
    d.deriv = deriv
    if on_create is not None:
        on_create(d)
    return d


def _unpack(x: object) -> tuple[float, float] | None:
    """(value, derivative) of a Dual or a plain number (derivative 0), else None."""
    if x.__class__ is Dual:
        return x.val, x.deriv
    if isinstance(x, Real):
        return float(x), 0.0
    refuse_mix(x, "forward")
    return None


class Dual(Scalar):
    """A dual number val + deriv·ε (ε² = 0): forward-mode differentiation.

    Seed an input with deriv=1.0 and every result's `deriv` is its derivative
    with respect to that input. Same operators and methods as `Value`.
    """

    __slots__ = ("deriv", "val")
    mode: ClassVar[str] = "forward"
    primal_name: ClassVar[str] = "val"

    val: float
    deriv: float

    def __init__(self, val: float, deriv: float = 0.0) -> None:
        self.val = to_float(val, "Dual")
        self.deriv = to_float(deriv, "Dual's deriv")

    @property
    def data(self) -> float:
        """The value, under Value's name, so cells that read `y.data` run in both modes."""
        return self.val

    def __repr__(self) -> str:
        return f"Dual(val={self.val!r}, deriv={self.deriv!r})"

    if TYPE_CHECKING:  # made from the primitive table by install() below

        def __add__(self, other: object) -> Dual: ...
        def __radd__(self, other: object) -> Dual: ...
        def __sub__(self, other: object) -> Dual: ...
        def __rsub__(self, other: object) -> Dual: ...
        def __mul__(self, other: object) -> Dual: ...
        def __rmul__(self, other: object) -> Dual: ...
        def __truediv__(self, other: object) -> Dual: ...
        def __rtruediv__(self, other: object) -> Dual: ...
        def __pow__(self, other: object) -> Dual: ...
        def __rpow__(self, other: object) -> Dual: ...
        def __neg__(self) -> Dual: ...
        def __abs__(self) -> Dual: ...
        def exp(self) -> Dual: ...
        def log(self) -> Dual: ...
        def sqrt(self) -> Dual: ...
        def sin(self) -> Dual: ...
        def cos(self) -> Dual: ...
        def tan(self) -> Dual: ...
        def tanh(self) -> Dual: ...
        def sigmoid(self) -> Dual: ...
        def relu(self) -> Dual: ...
        def maximum(self, other: object) -> Dual: ...
        def minimum(self, other: object) -> Dual: ...


def apply(op: Op, args: Sequence[object]) -> Dual:
    """op applied to Duals and numbers."""
    pairs = []
    for a in args:
        pair = _unpack(a)
        if pair is None:
            raise TypeError(f"{op.name}() got an argument that is neither a number nor a Dual")
        pairs.append(pair)
    vals = [v for v, _ in pairs]
    y = op.fn(*vals)
    # Chain rule: dy = sum over arguments of (dy/d arg) * d arg. A zero
    # tangent adds nothing, even where the partial is infinite (see chain).
    t = 0.0
    for d, (_, tangent) in zip(op.partials, pairs, strict=True):
        if tangent:
            t += chain(d(*vals, y), tangent)
    return _dual(y, t)


def _unary(op: Op) -> Callable[[Dual], Dual]:
    fn, (d,) = op.fn, op.partials

    def method(self: Dual) -> Dual:
        x, t = self.val, self.deriv
        y = fn(x)
        return _dual(y, chain(d(x, y), t) if t else 0.0)

    return method


def _binary(op: Op) -> tuple[Callable[[Dual, object], Dual], Callable[[Dual, object], Dual]]:
    fn, (da, db) = op.fn, op.partials

    def combine(a: float, ta: float, b: float, tb: float) -> Dual:
        y = fn(a, b)
        t = 0.0
        if ta:
            t += chain(da(a, b, y), ta)
        if tb:
            t += chain(db(a, b, y), tb)
        return _dual(y, t)

    def method(self: Dual, other: object) -> Dual:
        o = _unpack(other)
        return NotImplemented if o is None else combine(self.val, self.deriv, *o)

    def reflected(self: Dual, other: object) -> Dual:
        o = _unpack(other)
        return NotImplemented if o is None else combine(*o, self.val, self.deriv)

    return method, reflected


install(Dual, _unary, _binary)
