"""The straight-line program a traced run performed: finite differences without rerunning.

Every primitive the cell applied is in the trace with its arguments and its
value. `Program` keeps them as rows (op, argument rows, value): the graph's
nodes first, in the same order, then the nodes only the cell's comparisons
read. `central(row, h)` computes the program again with one leaf nudged by
+h and by -h, which is all a central difference needs; the cell itself never
runs again, so its side effects happen once.

A straight line is only what the cell computed at these inputs. The
comparisons the cell made on traced values (`if a < b:`, `max(a, b)`,
`while x:`) are recorded with their line and numbers, and so are the kinks of
the relu, abs, max and min rows; where a nudge would make one come out the
other way, the difference is across a branch and says nothing about the
derivative here, and `central` says so.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ad_magic.engine.ops import Op
from ad_magic.engine.value import Value
from ad_magic.trace.graph import Graph

Position = tuple[int, int, int, int] | None

# Which side of its kink a row's arguments are on.
KINKS: dict[str, Callable[..., object]] = {
    "relu": lambda a: a > 0,
    "abs": lambda a: (a > 0) - (a < 0),
    "maximum": lambda a, b: a >= b,
    "minimum": lambda a, b: a <= b,
}
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "!=": operator.ne,  # the truth of a value: `if a:`
}


@dataclass(frozen=True)
class Branch:
    """A comparison the cell made on a traced value: its rows (or a constant) and line."""

    symbol: str
    left: int  # the row compared
    right: int | None  # the row it was compared with, or None for a constant
    constant: float
    line: int | None

    def holds(self, values: Sequence[float]) -> bool:
        right = self.constant if self.right is None else values[self.right]
        return COMPARE[self.symbol](values[self.left], right)

    def describe(self, values: Sequence[float]) -> str:
        right = self.constant if self.right is None else values[self.right]
        what = "truth" if self.symbol == "!=" else f"{values[self.left]:g} {self.symbol} {right:g}"
        where = f" on line {self.line}" if self.line else ""
        return f"the comparison {what}{where}"


class Program:
    """Rows of (op, argument rows, value): the graph's nodes, then what comparisons read."""

    def __init__(
        self,
        ops: list[Op],
        args: list[tuple[int, ...]],
        values: list[float],
        lines: list[int | None],
        branches: list[Branch],
        output: int,
        leaves: dict[str, int],
    ) -> None:
        self.leaves = leaves  # input label -> its row (an input nothing read has none)
        self.ops = ops
        self.args = args
        self.values = values
        self.lines = lines
        self.branches = branches
        self.output = output

    @classmethod
    def record(
        cls,
        graph: Graph,
        values: list[Value],
        comparisons: Iterable[tuple[str, Value, Any, bool, Any]],
        where: Callable[[Any], Position],
        leaves: Iterable[tuple[str, Value]] = (),
    ) -> Program:
        """The program of a traced run: graph rows (values in graph order), then the
        nodes outside the graph that the recorded comparisons read."""
        rows = {id(v): k for k, v in enumerate(values)}
        ops = [n.op for n in graph.nodes]
        args: list[tuple[int, ...]] = [
            () if v._a is None
            else (rows[id(v._a)],) if v._b is None
            else (rows[id(v._a)], rows[id(v._b)])
            for v in values
        ]  # fmt: skip
        data = [n.value for n in graph.nodes]
        lines = [n.line for n in graph.nodes]

        def row(v: Value) -> int:
            """v's row, adding it and its ancestors (parents first) if they have none."""
            stack = [v]
            while stack:
                u = stack[-1]
                todo = [p for p in u._prev if id(p) not in rows]
                if todo:
                    stack.extend(todo)
                    continue
                stack.pop()
                if id(u) not in rows:
                    rows[id(u)] = len(ops)
                    ops.append(u._fn)
                    args.append(tuple(rows[id(p)] for p in u._prev))
                    data.append(u.data)
                    lines.append(None)
            return rows[id(v)]

        branches = []
        for symbol, left, right, _, site in comparisons:
            pos = where(site)
            line = pos[0] if pos else None
            if isinstance(right, Value):
                branches.append(Branch(symbol, row(left), row(right), 0.0, line))
            else:
                try:
                    constant = float(getattr(right, "primal", right))
                except (TypeError, ValueError):
                    continue  # compared with something that is not a number
                branches.append(Branch(symbol, row(left), None, constant, line))
        found = {label: rows[id(v)] for label, v in leaves if id(v) in rows}
        output = next(k for k, n in enumerate(graph.nodes) if n.id == graph.output)
        return cls(ops, args, data, lines, branches, output, found)

    def __len__(self) -> int:
        return len(self.ops)

    def run(self, moved: dict[int, float]) -> tuple[float, list[tuple[int, str]]]:
        """The output with some leaf rows moved to new values, and the branches that
        flipped (line, what), in the cell's line order.

        Only rows downstream of a moved leaf are computed again.
        """
        values = list(self.values)
        changed = bytearray(len(values))
        for k, v in moved.items():
            values[k] = v
            changed[k] = 1
        flips: list[tuple[int, str]] = []
        ops, args, old = self.ops, self.args, self.values
        for k, a in enumerate(args):
            if not a or not any(changed[i] for i in a):
                continue
            op = ops[k]
            new_args = [values[i] for i in a]
            values[k] = op.fn(*new_args)
            changed[k] = 1
            kink = KINKS.get(op.name)
            if kink is not None and kink(*new_args) != kink(*(old[i] for i in a)):
                where = f" on line {self.lines[k]}" if self.lines[k] else ""
                at = ", ".join(f"{old[i]:g}" for i in a)
                flips.append(
                    (self.lines[k] or 0, f"{op.name} at its kink{where} ({op.name}({at}))")
                )
        for b in self.branches:
            if b.holds(values) != b.holds(old):
                flips.append((b.line or 0, b.describe(old)))
        return values[self.output], sorted(flips, key=lambda flip: flip[0])

    def output_at(self, inputs: dict[str, float]) -> float:
        """The output with input leaves (by label) at other numbers."""
        return self.run({self.leaves[k]: v for k, v in inputs.items() if k in self.leaves})[0]

    def central(self, label: str, h: float) -> tuple[float, str]:
        """d(output)/d(input) by central differences, and why it says nothing if a branch flips."""
        row = self.leaves.get(label)
        if row is None:
            return 0.0, ""  # the run never read this input
        up, up_flips = self.run({row: self.values[row] + h})
        down, down_flips = self.run({row: self.values[row] - h})
        flips = list(dict.fromkeys(text for _, text in sorted(up_flips + down_flips)))
        note = ""
        if flips:
            more = f" (and {len(flips) - 1} more)" if len(flips) > 1 else ""
            note = f"a nudge of ±{h:g} flips {flips[0]}{more}"
        return (up - down) / (2 * h), note
