"""Forward mode: `Dual`, a dual number carrying a value and its derivative.

    >>> x = Dual(1.5, 1.0)  # seed: dx/dx = 1
    >>> y = (x**2 + 1).sin()
    >>> round(y.val, 8), round(y.deriv, 8)
    (-0.10819513, -2.98238903)

Each operation computes its value and, by the chain rule, its derivative
from its arguments' derivatives, using the same primitive table as `Value`.
One pass gives the derivative with respect to one seeded input.

Higher derivatives nest: a Dual's `val` and `deriv` may themselves be Duals
(or Values), and the table's partials, written in its own operations, work on
them. Each differentiation gets its own perturbation `tag`; an operation
between Duals of different tags treats the one with the lower tag as a
constant of the other's perturbation, so nested derivatives cannot mix up
whose ε is whose (perturbation confusion). Duals made without a tag share
tag 0: fine for one derivative at a time, which is all plain forward mode does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any, ClassVar

from ad_magic.engine import value
from ad_magic.engine.ops import Op, chain
from ad_magic.engine.scalar import Scalar, install, refuse_mix, to_float
from ad_magic.engine.value import Value

_new = object.__new__

# Called with every Dual an operation makes while a %%grad trace records.
on_create: Callable[[Dual], None] | None = None


def _dual(val: Any, deriv: Any, tag: int = 0) -> Dual:
    d = _new(Dual)
    d.val = val
    d.deriv = deriv
    d.tag = tag
    if on_create is not None:
        on_create(d)
    return d


def _unpack(x: object, tag: int) -> tuple[float, float] | None:
    """(value, derivative) of a plain Dual of this tag or a plain number (derivative 0),
    else None: something the nested path has to handle."""
    if x.__class__ is Dual:
        val, deriv = x.val, x.deriv
        if x.tag == tag and val.__class__ is float and deriv.__class__ is float:
            return val, deriv
        return None
    if x.__class__ is float:
        return x, 0.0
    if isinstance(x, Real):
        return float(x), 0.0
    return None


def _nested(x: object) -> bool:
    """A Dual that holds Duals or Values: a number to differentiate again."""
    return x.__class__ is Dual and not (x.val.__class__ is float and x.deriv.__class__ is float)


def _part(x: Any, tag: int) -> tuple[Any, Any]:
    """x's value and derivative in the perturbation `tag`: anything else is a constant."""
    if x.__class__ is Dual and x.tag == tag:
        return x.val, x.deriv
    return (float(x) if isinstance(x, Real) else x), 0.0


class Dual(Scalar):
    """A dual number val + deriv·ε (ε² = 0): forward-mode differentiation.

    Seed an input with deriv=1.0 and every result's `deriv` is its derivative
    with respect to that input. Same operators and methods as `Value`.
    """

    __slots__ = ("deriv", "tag", "val")
    mode: ClassVar[str] = "forward"
    primal_name: ClassVar[str] = "val"

    val: Any  # a float, or a Dual of a lower tag or a Value when nested
    deriv: Any
    tag: int  # whose perturbation ε this is: 0 unless a nested differentiation chose one

    def __init__(self, val: Any, deriv: Any = 0.0, tag: int = 0) -> None:
        self.val = val if _traced(val) else to_float(val, "Dual")
        self.deriv = deriv if _traced(deriv) else to_float(deriv, "Dual's deriv")
        self.tag = tag

    @property
    def data(self) -> float:
        """The value, under Value's name, so cells that read `y.data` run in both modes."""
        return self.val

    def __repr__(self) -> str:
        tag = f", tag={self.tag}" if self.tag else ""
        return f"Dual(val={self.val!r}, deriv={self.deriv!r}{tag})"

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


def _traced(x: object) -> bool:
    return isinstance(x, (Dual, Value))


def apply(op: Op, args: Sequence[object]) -> Dual:
    """op applied to Duals, Values and numbers, nested Duals included.

    The Dual with the highest tag is differentiated: the result is a Dual of
    that tag whose value is op on the arguments' values and whose derivative
    is, by the chain rule, the sum of d op/d arg * d arg over the arguments
    that carry that tag's perturbation. Values and numbers go in as they are.
    """
    plain = _plain_pairs(args)
    if plain is None:
        return _apply_nested(op, args)
    pairs, tag = plain  # the usual case, floats only
    vals = [v for v, _ in pairs]
    y = op.fn(*vals)
    # Chain rule: dy = sum over arguments of (dy/d arg) * d arg. A zero
    # tangent adds nothing, even where the partial is infinite (see chain).
    t = 0.0
    for d, (_, tangent) in zip(op.partials, pairs, strict=True):
        if tangent:
            t += chain(d(*vals, y), tangent)
    return _dual(y, t, tag)


def _apply_nested(op: Op, args: Sequence[object]) -> Dual:
    """apply() where an argument holds Duals or Values, or Duals of several tags meet."""
    duals = [a for a in args if a.__class__ is Dual]
    if not duals:
        raise TypeError(f"{op.name}() got an argument that is neither a number nor a Dual")
    if not any(map(_nested, duals)):
        for a in args:
            if isinstance(a, Value):  # a Value cannot be a constant of a plain Dual's ε
                refuse_mix(a, "forward")
            elif not isinstance(a, (Dual, Real)):
                raise TypeError(f"{op.name}() got an argument that is neither a number nor a Dual")
    tag = max(d.tag for d in duals)
    parts = [_part(a, tag) for a in args]
    vals = [v for v, _ in parts]
    y = _call(op, vals)
    # The same chain rule, on whatever the values and tangents are.
    t: Any = 0.0
    for d, (_, tangent) in zip(op.partials, parts, strict=True):
        if _traced(tangent) or tangent:
            t = t + _times(d(*vals, y), tangent)
    return _dual(y, t, tag)


def _plain_pairs(args: Sequence[object]) -> tuple[list[tuple[float, float]], int] | None:
    """(value, tangent) of each argument and the tag, if all are numbers or float Duals of
    one tag (at least one Dual); else None."""
    pairs = []
    tag = None
    for a in args:
        if a.__class__ is Dual:
            val, deriv = a.val, a.deriv
            if val.__class__ is not float or deriv.__class__ is not float:
                return None
            if tag is None:
                tag = a.tag
            elif a.tag != tag:
                return None
            pairs.append((val, deriv))
        elif isinstance(a, Real):
            pairs.append((float(a), 0.0))
        else:
            return None
    return (pairs, tag) if tag is not None else None


def _times(partial: Any, tangent: Any) -> Any:
    """partial * tangent: by `chain` on floats (zero wins), as a traced product otherwise."""
    if partial.__class__ is float and tangent.__class__ is float:
        return chain(partial, tangent)
    return partial * tangent


def _call(op: Op, vals: list[Any]) -> Any:
    """op on values that may be floats, Duals of lower tags or Values."""
    if all(v.__class__ is float for v in vals):
        return op.fn(*vals)
    if any(v.__class__ is Dual for v in vals):
        return apply(op, vals)
    return value.apply(op, vals)


def _unary(op: Op) -> Callable[[Dual], Dual]:
    fn, (d,) = op.fn, op.partials

    def method(self: Dual) -> Dual:
        x, t = self.val, self.deriv
        if x.__class__ is not float or t.__class__ is not float:
            return apply(op, (self,))
        y = fn(x)
        return _dual(y, chain(d(x, y), t) if t else 0.0, self.tag)

    return method


def _binary(op: Op) -> tuple[Callable[[Dual, object], Dual], Callable[[Dual, object], Dual]]:
    fn, (da, db) = op.fn, op.partials

    def combine(a: float, ta: float, b: float, tb: float, tag: int) -> Dual:
        y = fn(a, b)
        t = 0.0
        if ta:
            t += chain(da(a, b, y), ta)
        if tb:
            t += chain(db(a, b, y), tb)
        return _dual(y, t, tag)

    def method(self: Dual, other: object) -> Dual:
        a, ta = self.val, self.deriv
        o = _unpack(other, self.tag)
        if o is None or a.__class__ is not float or ta.__class__ is not float:
            return _other(op, (self, other), other)
        return combine(a, ta, o[0], o[1], self.tag)

    def reflected(self: Dual, other: object) -> Dual:
        b, tb = self.val, self.deriv
        o = _unpack(other, self.tag)
        if o is None or b.__class__ is not float or tb.__class__ is not float:
            return _other(op, (other, self), other)
        return combine(o[0], o[1], b, tb, self.tag)

    return method, reflected


def _other(op: Op, args: tuple[object, object], other: object) -> Dual:
    """A binary op the fast path cannot do: nested, other tags, or not a number at all."""
    if isinstance(other, (Dual, Value, Real)):
        return apply(op, args)
    return NotImplemented


install(Dual, _unary, _binary)
