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

    def __lt__(self, other: Any) -> bool:
        return self._compare("<", other, float.__lt__(self, other))

    def __le__(self, other: Any) -> bool:
        return self._compare("<=", other, float.__le__(self, other))

    def __gt__(self, other: Any) -> bool:
        return self._compare(">", other, float.__gt__(self, other))

    def __ge__(self, other: Any) -> bool:
        return self._compare(">=", other, float.__ge__(self, other))

    def __bool__(self) -> bool:
        return self._compare("!=", 0.0, float.__ne__(self, 0.0))

    __hash__ = float.__hash__

    def __add__(self, o: Any) -> Any:
        return self._derived(float.__add__(self, o))

    def __radd__(self, o: Any) -> Any:
        return self._derived(float.__radd__(self, o))

    def __sub__(self, o: Any) -> Any:
        return self._derived(float.__sub__(self, o))

    def __rsub__(self, o: Any) -> Any:
        return self._derived(float.__rsub__(self, o))

    def __mul__(self, o: Any) -> Any:
        return self._derived(float.__mul__(self, o))

    def __rmul__(self, o: Any) -> Any:
        return self._derived(float.__rmul__(self, o))

    def __truediv__(self, o: Any) -> Any:
        return self._derived(float.__truediv__(self, o))

    def __rtruediv__(self, o: Any) -> Any:
        return self._derived(float.__rtruediv__(self, o))

    def __pow__(self, o: Any, mod: Any = None) -> Any:
        return self._derived(float.__pow__(self, o, mod))

    def __rpow__(self, o: Any, mod: Any = None) -> Any:
        return self._derived(float.__rpow__(self, o, mod))

    def __neg__(self) -> Any:
        return self._derived(float.__neg__(self))

    def __abs__(self) -> Any:
        return self._derived(float.__abs__(self))

    def __reduce__(self) -> Any:
        return (float, (float(self),))  # pickled, copied: a plain float


def read(node: Value, x: float) -> Read:
    """node's number x, as the cell reads it."""
    r = Read(x)
    r.ref, r.direct = weakref.ref(node), True
    return r
