"""Reverse mode: `Value`, a scalar that records the graph of operations made from it.

    >>> x = Value(1.5, label="x")
    >>> y = (x**2 + 1).sin()
    >>> y.backward()
    >>> round(x.grad, 8)
    -2.98238903

A node keeps its parents and the primitive that made it, nothing else: no
closure per node, so the graph has no reference cycles and a dropped graph is
freed by reference counting at once. The (at most two) parents live in two
slots rather than a tuple: one object per node for Python's cyclic garbage
collector to count and walk, not two, which is most of what the collector
costs a training step (`_prev` still gives them as a tuple, as in micrograd).
`backward()` walks the graph with an explicit stack and applies the chain
rule from the primitive table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any, ClassVar

from ad_magic.engine.ops import CONST, INPUT, Op, chain
from ad_magic.engine.scalar import Scalar, install, to_float

_new = object.__new__

# Called with every new Value while a %%grad trace records (see trace.py).
on_create: Callable[[Value], None] | None = None
# While a trace records: called with a Value and its number on each `.data` read from
# outside the engine, giving what the read returns; and with each new leaf and the
# number it was made from (see trace/reads.py: a leaf made from a read cuts the graph).
on_read: Callable[[Value, float], float] | None = None
on_leaf: Callable[[Value, object], None] | None = None


def _node(data: float, op: Op, a: Value | None = None, b: Value | None = None) -> Value:
    """A new graph node with parents a and b: the fast path every operation goes through."""
    v = _new(Value)
    v._data = data
    v.grad = 0.0
    v.label = ""
    v._a = a
    v._b = b
    v._fn = op
    if on_create is not None:
        on_create(v)
    return v


def lift(x: object) -> Value:
    """A Value as it is; a plain number as a constant node (NotImplemented otherwise,
    so that a Dual's reflected operator decides what a Value with a Dual means)."""
    if x.__class__ is Value:
        return x
    if isinstance(x, Real):
        return _node(float(x), CONST)
    return NotImplemented


class Value(Scalar):
    """A scalar in a computation graph, differentiated in reverse mode.

    `data` is the number, `grad` the derivative of the last `backward()`'s
    output with respect to it, `label` a name for display. Arithmetic with
    Python or numpy numbers on either side, `**`, `abs()` and the methods
    `exp log sqrt sin cos tan tanh sigmoid relu` all build new nodes.
    Comparisons compare `data` and return bool, so `if`/`while` work.
    """

    __slots__ = ("__weakref__", "_a", "_b", "_data", "_fn", "grad", "label")
    mode: ClassVar[str] = "reverse"
    primal_name: ClassVar[str] = "data"

    _data: float  # the number; `data` reads it (the engine reads the slot directly)
    grad: Any  # a float; a Value after backward(create_graph=True)
    label: str
    _a: Value | None  # the first parent, if any
    _b: Value | None  # the second parent, if any (a + a: both are a)
    _fn: Op

    def __init__(self, data: float, label: str = "") -> None:
        self._data = to_float(data, "Value")
        self.grad = 0.0
        self.label = label
        self._a = self._b = None
        self._fn = INPUT
        if on_create is not None:
            on_create(self)
        if on_leaf is not None:
            on_leaf(self, data)

    @property
    def data(self) -> float:
        """The number, as in micrograd (while a %%grad trace records, a float that
        remembers where it was read: see trace/reads.py)."""
        if on_read is None:
            return self._data
        return on_read(self, self._data)

    @data.setter
    def data(self, x: float) -> None:
        # A number read while tracing (a float subclass) is stored as the plain float.
        self._data = float(x) if x.__class__ is not float and isinstance(x, float) else x

    @property
    def primal(self) -> float:
        return self._data

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The parents in argument order, with repeats (a + a), as in micrograd."""
        a, b = self._a, self._b
        return () if a is None else (a,) if b is None else (a, b)

    @_prev.setter
    def _prev(self, parents: tuple[Value, ...]) -> None:
        if len(parents) > 2:
            raise ValueError(f"a Value has at most two parents, not {len(parents)}")
        self._a, self._b = (*parents, None, None)[:2]

    @property
    def _op(self) -> str:
        """The op's symbol ('' for a leaf), as in micrograd."""
        return self._fn.symbol

    @property
    def op(self) -> Op:
        """The primitive that made this node (ops.INPUT or ops.CONST for a leaf)."""
        return self._fn

    def backward(self, grad: float = 1.0, create_graph: bool = False) -> None:
        """Differentiate this node with respect to every node it depends on.

        Gradients accumulate into the leaves' `.grad`, as in micrograd and
        PyTorch: zero them (e.g. `p.grad = 0.0`) before a new pass. Interior
        nodes hold the adjoints of the latest pass.

        With create_graph=True every `.grad` becomes a Value, built by the
        table's derivative rules out of the nodes they read, so it can be
        differentiated in turn: after `y.backward(create_graph=True)`,
        `x.grad.backward()` leaves d²y/dx² in `x.grad`. (A leaf's `.grad` then
        depends on the leaf: a reference cycle, freed by the garbage collector;
        `ad_magic.gradients(y, x)` gives the same Values without storing them.)
        A leaf whose `.grad` is such a Value starts the next pass from zero.
        """
        order = topological(self)
        if create_graph:
            adjoints = propagate_graph(order, grad)
            for v in order:
                if v._a is not None:
                    v.grad = adjoints.get(v, 0.0)
                elif v._fn is not CONST and v in adjoints:
                    old = 0.0 if v.grad.__class__ is Value else v.grad
                    v.grad = adjoints[v] + old if old else adjoints[v]
            return
        for v in order:
            if v._a is not None or v.grad.__class__ is Value:
                v.grad = 0.0
        self.grad += grad
        propagate(order)

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self._data!r}, grad={self.grad!r}{name})"

    if TYPE_CHECKING:  # made from the primitive table by install() below

        def __add__(self, other: object) -> Value: ...
        def __radd__(self, other: object) -> Value: ...
        def __sub__(self, other: object) -> Value: ...
        def __rsub__(self, other: object) -> Value: ...
        def __mul__(self, other: object) -> Value: ...
        def __rmul__(self, other: object) -> Value: ...
        def __truediv__(self, other: object) -> Value: ...
        def __rtruediv__(self, other: object) -> Value: ...
        def __pow__(self, other: object) -> Value: ...
        def __rpow__(self, other: object) -> Value: ...
        def __neg__(self) -> Value: ...
        def __abs__(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...
        def tan(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def maximum(self, other: object) -> Value: ...
        def minimum(self, other: object) -> Value: ...


def propagate(order: list[Value]) -> None:
    """The backward pass over nodes in topological order, output first.

    Each node's .grad must hold d(out)/d(node) from its users by the time
    it is reached; it then passes its share to its parents.
    """
    for v in order:
        a = v._a
        g = v.grad
        if a is None or g == 0.0:
            continue
        # Chain rule: each parent p gains d(v)/d(p) * d(out)/d(v) (zero wins, see chain).
        op, y, b = v._fn, v._data, v._b
        if b is None:
            a.grad += chain(op.partials[0](a._data, y), g)
        else:
            x, z = a._data, b._data
            if a._fn is not CONST:
                a.grad += chain(op.partials[0](x, z, y), g)
            if b._fn is not CONST:
                b.grad += chain(op.partials[1](x, z, y), g)


def propagate_graph(
    order: list[Value], seed: float = 1.0, at: Callable[[Value, int], None] | None = None
) -> dict[Value, Value]:
    """The backward pass with Values for gradients: node -> d(out)/d(node) as a Value.

    order is topological(out). The same chain rule as `propagate`, but each
    local derivative is the row's partial called on the nodes themselves, so
    the gradients form a graph of their own, reading the original nodes.
    Constants get no gradient; a node the output does not reach is absent.
    at(v, i), if given, is told before the rule of v's argument i makes its nodes.
    """
    grads: dict[Value, Value] = {order[0]: lift(seed)}
    for v in order:
        g = grads.get(v)
        if g is None or not v._prev:
            continue
        op = v._fn
        for i, p in enumerate(v._prev):
            if p._fn is CONST:
                continue
            if at is not None:
                at(v, i)
            partial = op.partials[i](*v._prev, v)
            if partial.__class__ is float and not partial:
                continue  # a zero partial stops the flow, as `chain` does
            # Chain rule: p gains d(v)/d(p) * d(out)/d(v), both as Values.
            contribution = g * partial
            old = grads.get(p)
            grads[p] = contribution if old is None else old + contribution
    return grads


def topological(root: Value) -> list[Value]:
    """Every node `root` depends on, `root` first and each node before its parents.

    A depth-first search with an explicit stack instead of recursion, so depth
    is no limit. A node leaves the stack once all its parents have: a node
    has at most two parents, so rescanning them on each return costs little.
    """
    order: list[Value] = []
    seen = {root}
    stack = [root]
    while stack:
        v = stack[-1]
        a = v._a
        if a is not None and a not in seen:
            seen.add(a)
            stack.append(a)
            continue
        b = v._b
        if b is not None and b not in seen:
            seen.add(b)
            stack.append(b)
            continue
        order.append(stack.pop())
    order.reverse()
    return order


def apply(op: Op, args: Sequence[object]) -> Value:
    """op applied to Values and numbers, as a new node."""
    prev = tuple(lift(a) for a in args)
    if NotImplemented in prev:
        raise TypeError(f"{op.name}() got an argument that is neither a number nor a Value")
    return _node(op.fn(*(p._data for p in prev)), op, *prev)


def _unary(op: Op) -> Callable[[Value], Value]:
    fn = op.fn

    def method(self: Value) -> Value:
        return _node(fn(self._data), op, self)

    return method


def _binary(op: Op) -> tuple[Callable[[Value, object], Value], Callable[[Value, object], Value]]:
    fn = op.fn

    def method(self: Value, other: object) -> Value:
        b = lift(other)
        if b is NotImplemented:
            return NotImplemented
        return _node(fn(self._data, b._data), op, self, b)

    def reflected(self: Value, other: object) -> Value:
        a = lift(other)
        if a is NotImplemented:
            return NotImplemented
        return _node(fn(a._data, self._data), op, a, self)

    return method, reflected


install(Value, _unary, _binary)
