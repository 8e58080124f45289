"""Graphs of other autograd engines' values: micrograd's, the lecture's, a student's own.

Anything with `data`, `grad`, `_prev` (a set or tuple of parents) and `_op`
(a string) is a micrograd-style value. `foreign_graph(root)` reads the graph
behind one into the same `Node` records a trace makes, keeping the values'
own `.grad` numbers, and maps each `_op` string to a row of the primitive
table (`+`, `*`, `**k`, `tanh`, `exp`, `ReLU`, `-`, `neg`, `/`, and any row by
name), so that ad_magic can say what every gradient should have been. An op
it cannot map is kept as a node of its own, drawn but not checked.

micrograd keeps parents in a set, so `a + a` has one parent: a binary op
with one parent is read as that parent used twice. A set has no order
either: for `-`, `/` and `**` the order that reproduces the node's `data` is
taken.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ad_magic.engine.ops import CONST, INPUT, OPS, Op
from ad_magic.engine.value import Value
from ad_magic.trace.graph import Graph, Node, label_and_var
from ad_magic.trace.naming import names_of
from ad_magic.trace.records import forward_over_inputs
from ad_magic.trace.result import GradResult

_ALIASES = {"+": "add", "*": "mul", "/": "truediv", "-": "sub", "neg": "neg", "**": "pow"}
_POWER = re.compile(r"\*\*\s*\(?\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*\)?")  # '**2', '**-1'


def is_foreign(obj: object) -> bool:
    """A micrograd-style value that is not ad_magic's own Value."""
    if isinstance(obj, (Value, type)):
        return False
    return all(hasattr(obj, a) for a in ("data", "grad", "_prev", "_op"))


def _nan(*args: float) -> float:
    return math.nan


def unknown_op(symbol: str, arity: int) -> Op:
    """A node whose `_op` no row of the table matches: drawn and named, never checked."""
    return Op(f"?{symbol}", symbol, f"{symbol}(...)", _nan, (_nan,) * arity, ("?",) * arity)


def is_unknown(op: Op) -> bool:
    return op.name.startswith("?")


def _row(symbol: str, parents: int) -> tuple[Op | None, float | None]:
    """The table's row for an `_op` string with this many parents, and a constant
    exponent for `**k`."""
    text = symbol.strip()
    power = _POWER.fullmatch(text)
    if power is not None and parents == 1:
        return OPS["pow"], float(power.group(1))
    name = _ALIASES.get(text) or _ALIASES.get(text.lower()) or text.lower()
    if name == "sub" and parents == 1:
        name = "neg"  # micrograd-style '-' with one parent is negation
    op = OPS.get(name) or next((o for o in OPS.values() if o.symbol == text), None)
    if op is None or parents > op.arity:
        return None, None
    return op, None


def _ordered(op: Op, parents: list[Any], data: float) -> list[Any]:
    """Parents in argument order: the order that gives the node's data, else as found."""
    if len(parents) != 2 or op.name in ("add", "mul"):
        return parents
    a, b = (_number(p.data) for p in parents)
    try:
        if not _close(op.fn(a, b), data) and _close(op.fn(b, a), data):
            return parents[::-1]
    except (ArithmeticError, ValueError):
        pass
    return parents


def _close(x: float, y: float) -> bool:
    return x == y or abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def _number(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(
            f"a micrograd-style value holds {type(x).__name__} {x!r:.40}, not a number"
        ) from None


def _parents(v: Any) -> list[Any]:
    prev = v._prev
    if not isinstance(prev, (set, frozenset, tuple, list)):
        raise TypeError(f"_prev should be a set or tuple of parents, not {type(prev).__name__}")
    return list(prev)


def _order(root: Any) -> list[Any]:
    """Every value root depends on, parents before children (an explicit stack)."""
    order: list[Any] = []
    seen = {id(root)}
    stack = [(root, iter(_parents(root)))]
    while stack:
        v, rest = stack[-1]
        for p in rest:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append((p, iter(_parents(p))))
                break
        else:
            order.append(v)
            stack.pop()
    return order


def foreign_graph(root: Any, namespace: Mapping[str, Any] | None = None) -> Graph:
    """The graph behind a micrograd-style value, with each value's own `.grad`.

    A value's `label`, if it has one, names it; where namespace reaches it
    (`o`, `n.layers[0].neurons[1].w[2]`), that name is kept beside the label,
    or names it if it has none.
    """
    order = _order(root)
    names = names_of(namespace or {}, {id(v) for v in order})
    nodes: list[Node] = []
    ids: dict[int, str] = {}

    def new(op: Op, parents: tuple[str, ...], value: float) -> Node:
        node = Node(f"n{len(nodes)}", op, parents, value)
        nodes.append(node)
        return node

    for v in order:
        parents = _parents(v)
        data = _number(v.data)
        symbol = str(v._op or "")
        if not parents:
            op, k = (INPUT, None) if not symbol else (unknown_op(symbol, 0), None)
        else:
            row, k = _row(symbol, len(parents))
            op = row or unknown_op(symbol or "?", len(parents))
        args = [ids[id(p)] for p in _ordered(op, parents, data)]
        if k is not None:  # micrograd's `**k`: the exponent is a constant of the node
            args.append(new(CONST, (), k).id)
        elif op.arity == 2 and len(args) == 1:
            args *= 2  # `a + a`: the parent set kept one of the two
        node = new(op, tuple(args), data)
        node.grad = _number(v.grad)
        label = getattr(v, "label", "")
        label = label if isinstance(label, str) else ""
        node.name, node.also = label_and_var(label, names.get(id(v), ""))
        ids[id(v)] = node.id
    return Graph(nodes, output=ids[id(root)])


def unmapped(graph: Graph) -> list[Node]:
    """The nodes whose op is not in the table."""
    return [n for n in graph if is_unknown(n.op)]


def graph_of_foreign(
    root: Any, name: str, namespace: Mapping[str, Any] | None = None, max_forward: int = 16
) -> GradResult:
    """A GradResult for a micrograd-style value: the graph with the student's own `.grad`.

    Forward mode runs over the graph by the table (one pass per input, up to
    max_forward) when every op is mapped.
    """
    graph = foreign_graph(root, namespace)
    out = graph[graph.output]
    if not out.name:
        out.name = name
    inputs: dict[str, str] = {}
    for n in graph:
        if n.kind == "input":
            inputs[n.name if n.name and n.name not in inputs else n.id] = n.id
    notes = []
    odd = unmapped(graph)
    if odd:
        ops = ", ".join(sorted({repr(n.op.symbol) for n in odd}))
        notes.append(f"ops ad_magic has no rule for, drawn but not checked: {ops}")
    result = GradResult(None, graph, inputs, notes)
    if odd:
        result.forward_note = "forward mode needs a rule for every op"
    else:
        forward_over_inputs(result, inputs, max_forward)
    return result
