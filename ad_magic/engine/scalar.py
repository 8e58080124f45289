"""What `Value` (reverse mode) and `Dual` (forward mode) share.

Both are scalars that carry derivative information alongside a number. They
compare, format and convert the same way, hand numpy calls to the primitive
table, and get their operators from the table by the same wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from ad_magic.engine.ops import BINARY, UNARY, Op

# Called with every comparison of a Value or Dual while a %%grad trace records
# (symbol, the scalar, the other side, the outcome), so that finite
# differences of the recorded run can tell when a nudge would take the other branch.
on_compare: Callable[[str, Scalar, object, bool], None] | None = None


class Scalar:
    """Base of Value and Dual: comparisons, conversions and numpy dispatch."""

    __slots__ = ()
    mode: ClassVar[str]  # "reverse" or "forward"
    primal_name: ClassVar[str]  # the attribute that holds the number: "data" or "val"

    @property
    def primal(self) -> float:
        """The plain number this scalar carries."""
        return getattr(self, self.primal_name)

    def _cut(self, what: str) -> TypeError:
        """The error for a conversion that would cut this scalar out of the graph."""
        name = type(self).__name__
        return TypeError(
            f"{what.format(name=name)} would cut it out of the graph, so no derivative could flow "
            f"through it. Use .{self.primal_name} for the plain number if that is what you "
            "mean; keep the derivative by staying with traced operations."
        )

    def __float__(self) -> float:
        __tracebackhide__ = True  # IPython shows the user's line, not this one
        name = type(self).__name__
        raise TypeError(
            f"float() of a {name} (also math.sin() and friends) would cut it out of the "
            f"graph, so no derivative could flow through it. Use .{self.primal_name} for "
            "the plain number, or sin()/np.sin() instead of math.sin() to keep differentiating."
        )

    def __int__(self) -> int:
        raise self._cut("int() of a {name}")

    def __index__(self) -> int:
        raise self._cut("a {name} used as an integer (an index, range())")

    def __complex__(self) -> complex:
        raise self._cut("complex() of a {name}")

    def __round__(self, ndigits: int | None = None) -> Any:
        raise self._cut("round() of a {name}")

    def __trunc__(self) -> int:
        raise self._cut("math.trunc() of a {name}")

    def __floor__(self) -> int:
        raise self._cut("math.floor() of a {name}")

    def __ceil__(self) -> int:
        raise self._cut("math.ceil() of a {name}")

    def item(self) -> float:
        """As PyTorch's .item(), refused: it would end the graph (use .data/.val)."""
        raise self._cut(".item() of a {name}")

    def __bool__(self) -> bool:
        outcome = bool(self.primal)
        if on_compare is not None:
            on_compare("!=", self, 0.0, outcome)
        return outcome

    def __format__(self, spec: str) -> str:
        return format(self.primal, spec) if spec else str(self)

    def __lt__(self, other: object) -> bool:
        outcome = self.primal < plain(other)
        if on_compare is not None:
            on_compare("<", self, other, outcome)
        return outcome

    def __le__(self, other: object) -> bool:
        outcome = self.primal <= plain(other)
        if on_compare is not None:
            on_compare("<=", self, other, outcome)
        return outcome

    def __gt__(self, other: object) -> bool:
        outcome = self.primal > plain(other)
        if on_compare is not None:
            on_compare(">", self, other, outcome)
        return outcome

    def __ge__(self, other: object) -> bool:
        outcome = self.primal >= plain(other)
        if on_compare is not None:
            on_compare(">=", self, other, outcome)
        return outcome

    __hash__ = object.__hash__  # identity: nodes live in sets and dicts

    def __pos__(self) -> Scalar:
        return self

    def conjugate(self) -> Scalar:
        """The number itself: a real number is its own complex conjugate. numpy's var
        and std call it on each element of an object array (`h.var()`, `np.std(h)`)."""
        return self

    # numpy's dispatch (__array_ufunc__) is attached by functions.py, beside the
    # free functions it routes to.


def plain(x: object) -> Any:
    """The number inside a Value or Dual; anything else unchanged."""
    return x.primal if isinstance(x, Scalar) else x


def to_float(x: object, what: str) -> float:
    """A real number as a float, or a TypeError that says what was expected."""
    if isinstance(x, Real) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "biuf"
    ):
        return float(x)
    if isinstance(x, Scalar):
        raise TypeError(
            f"{what} needs a plain number, got a {type(x).__name__}; use its .{x.primal_name}"
        )
    raise TypeError(f"{what} needs a real number, got {type(x).__name__}: {x!r:.60}")


def refuse_mix(x: object, mode: str) -> None:
    """Raise if x is a scalar of the other mode: one operation cannot hold both."""
    if isinstance(x, Scalar) and x.mode != mode:
        raise TypeError(
            "cannot mix Value (reverse mode) and Dual (forward mode) in one operation; "
            "build the expression from one kind only"
        )


Method = Callable[..., Any]

# The classes install() gave methods to, with their method makers, so that a
# row added later (a student-defined primitive) reaches them too.
_INSTALLED: list[tuple[type, Callable[[Op], Method], Callable[[Op], tuple[Method, Method]]]] = []


def install(
    cls: type,
    unary: Callable[[Op], Method],
    binary: Callable[[Op], tuple[Method, Method]],
) -> None:
    """Give cls one method per primitive, and Python's operators where a row names one."""
    _INSTALLED.append((cls, unary, binary))
    for op in (*UNARY, *BINARY):
        _install_op(cls, unary, binary, op)


def _install_op(
    cls: type,
    unary: Callable[[Op], Method],
    binary: Callable[[Op], tuple[Method, Method]],
    op: Op,
) -> None:
    if op.arity == 1:
        method = unary(op)
        setattr(cls, op.name, method)
        if op.dunder:
            setattr(cls, op.dunder, method)
    else:
        method, reflected = binary(op)
        setattr(cls, op.name, method)
        if op.dunder:
            setattr(cls, op.dunder, method)
            setattr(cls, op.dunder.replace("__", "__r", 1), reflected)


def install_row(op: Op) -> None:
    """Give every installed class (Value, Dual) the method of a row added later."""
    for cls, unary, binary in _INSTALLED:
        _install_op(cls, unary, binary, op)


def uninstall_row(op: Op) -> None:
    """Take a row's method off every installed class again (a row without an operator)."""
    for cls, _, _ in _INSTALLED:
        if op.name in vars(cls):
            delattr(cls, op.name)
