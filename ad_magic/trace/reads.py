"""Numbers a traced cell reads out of its Values: where the graph is cut, which branch ran.

While `%%grad` runs a cell, `x.data` gives a `Read`: the same float, which
remembers the node it came from. Arithmetic on it keeps that origin (`x.data
* 2` is a Read of x too, not direct), so a new leaf made from it (`Value(x.data
* 2)`) is known to cut the graph there: the derivative through it is 0, and
the trace says so in a note naming the line. A comparison on a direct read
(`if x.data > 0:`, `max(x.data, y.data)`) is recorded like one on the Value
itself, so finite differences of the recorded program can tell when a nudge
would take the other branch. After the cell, `.data` is a plain float again.

What it cannot follow: numbers that leave through a function that returns a
plain float (`math.exp(x.data)`, `float(x.data)`, numpy). A leaf made from a
plain float equal to a number read in the cell (not a whole number, which
could as well be a count) is taken as made from that read.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ad_magic.engine import scalar
from ad_magic.engine.value import Value


class Read(float):
    """A Value's number as the cell read it: `node` is the Value (weakly held, so a number
    kept after the cell, `losses.append(loss.data)`, keeps no graph alive), `direct`
    whether the number is its .data itself (not computed from it)."""

    __slots__ = ("direct", "ref")
    ref: Callable[[], Value | None]
    direct: bool

    @property
    def node(self) -> Value | None:
        return self.ref()

    def _derived(self, x: Any) -> Any:
        if x.__class__ is not float:
            return x  # NotImplemented, or a Value / array: no longer a number read
        r = Read(x)
        r.ref, r.direct = self.ref, False
        return r

    def _other(self, other: Any) -> Any:
        """The other side of a comparison: a direct read's node, else the number."""
        if other.__class__ is Read and other.direct and other.node is not None:
            return other.node
        return other

    def _compare(self, symbol: str, other: Any, outcome: bool) -> bool:
        record = scalar.on_compare  # the trace's, while a cell is traced; else None
        if record is not None and self.direct and outcome is not NotImplemented:
            node = self.ref()
            if node is not None:
                record(symbol, node, self._other(other), outcome)
        return outcome

    def __bool__(self) -> bool:  # `if x.data:`
        return self._compare("!=", 0.0, float.__ne__(self, 0.0))

    __hash__ = float.__hash__

    # Comparisons and arithmetic: made below, from float's own.

    def __reduce__(self) -> Any:
        return (float, (float(self),))  # pickled, copied: a plain float


def _comparison(symbol: str, name: str) -> Callable[[Read, Any], Any]:
    compare = getattr(float, name)

    def method(self: Read, other: Any) -> Any:
        return self._compare(symbol, other, compare(self, other))

    return method


def _arithmetic(name: str) -> Callable[..., Any]:
    compute = getattr(float, name)

    def method(self: Read, *args: Any) -> Any:
        return self._derived(compute(self, *args))  # a number computed from the read

    return method


for _symbol, _name in (("<", "__lt__"), ("<=", "__le__"), (">", "__gt__"), (">=", "__ge__")):
    setattr(Read, _name, _comparison(_symbol, _name))
ARITHMETIC = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
    "__rpow__", "__neg__", "__pos__", "__abs__",
)  # fmt: skip
for _name in ARITHMETIC:
    setattr(Read, _name, _arithmetic(_name))


def read(node: Value, x: float) -> Read:
    """node's number x, as the cell reads it."""
    r = Read(x)
    r.ref, r.direct = weakref.ref(node), True
    return r
