"""The Jacobian of a recorded computation, filled the way each mode fills it.

J[i, j] = d(output i)/d(input j). Reverse mode fills J a row at a time: one
backward pass from output i gives that output's derivative by every input.
Forward mode fills it a column at a time: one pass seeded at input j gives
every output's derivative by that input. Central differences need two
evaluations of the whole computation per input.

`Tape` is a recorded graph as flat rows (the primitive, the argument rows,
the recorded value), so that these passes are plain loops over numbers by the
same table of primitives that `Value` and `Dual` read. Nothing here runs the
student's cell again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ad_magic.engine.ops import CONST, INPUT, chain
from ad_magic.trace.graph import Graph
from ad_magic.trace.steps import num


@dataclass
class Jacobian:
    """J[i, j] = d(output i)/d(input j), with the names of its rows and columns.

    `np.asarray(J)` is the matrix; `J["y2", "x"]` reads a cell by names
    (or by numbers), `J.row("y2")` and `J.column("x")` a whole row or column.
    """

    values: np.ndarray  # outputs x inputs
    row_names: list[str]  # the outputs
    col_names: list[str]  # the inputs, array inputs element by element ("W[0,1]")

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.row_names), len(self.col_names))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def _index(self, names: list[str], key: str | int) -> int:
        if isinstance(key, str):
            if key not in names:
                raise KeyError(f"{key!r} is not one of {', '.join(names)}")
            return names.index(key)
        return int(key)

    def __getitem__(self, key: tuple[str | int, str | int]) -> float:
        row, col = key
        return float(
            self.values[self._index(self.row_names, row), self._index(self.col_names, col)]
        )

    def row(self, output: str | int) -> dict[str, float]:
        """d(output)/d(input) for every input."""
        i = self._index(self.row_names, output)
        return dict(zip(self.col_names, map(float, self.values[i]), strict=True))

    def column(self, input: str | int) -> dict[str, float]:
        """d(output)/d(input) for every output."""
        j = self._index(self.col_names, input)
        return dict(zip(self.row_names, map(float, self.values[:, j]), strict=True))

    def text(self, shown: Callable[[str], str] = str, max_cols: int = 8) -> str:
        """The matrix as a small table: rows are outputs, columns inputs (each number
        passed through shown, which may keep it back)."""
        cols = self.col_names[:max_cols]
        width = max([8, *(len(c) for c in cols)]) + 1
        left = max([1, *(len(r) for r in self.row_names)])
        lines = [" " * left + "".join(f"{c:>{width}}" for c in cols)]
        for i, r in enumerate(self.row_names):
            cells = "".join(f"{shown(num(float(v))):>{width}}" for v in self.values[i, :max_cols])
            lines.append(f"{r:<{left}}{cells}")
        if len(self.col_names) > max_cols:
            lines.append(f"({len(self.col_names) - max_cols} more columns)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        m, n = self.shape
        return f"Jacobian {m} x {n}:\n{self.text()}"


class Tape:
    """A recorded graph as rows: what each node computed from which rows.

    outputs are the node ids of J's rows; inputs are (column name, node id or
    None) for J's columns, None where the computation never read that input.
    """

    def __init__(
        self,
        graph: Graph,
        outputs: Sequence[str],
        inputs: Sequence[tuple[str, str | None]],
        output_names: Sequence[str] | None = None,
    ) -> None:
        row = graph.position
        nodes = graph.nodes
        self.ids = [n.id for n in nodes]
        self.fns = [n.op.fn for n in nodes]
        self.partials = [n.op.partials for n in nodes]
        self.args = graph.parent_positions
        self.values = [n.value for n in nodes]
        self.const = [n.op is CONST for n in nodes]
        self.ops = [k for k, n in enumerate(nodes) if n.op is not INPUT and n.op is not CONST]
        self.outputs = [row[o] for o in outputs]
        self.output_names = list(output_names or [graph[o].name or o for o in outputs])
        self.inputs = [(name, None if i is None else row[i]) for name, i in inputs]

    @classmethod
    def of(cls, graph: Graph, inputs: Sequence[tuple[str, str | None]] | None = None) -> Tape:
        """The tape of a graph: its outputs as rows, its input nodes (or inputs) as columns."""
        outputs = graph.outputs or [graph.output]
        if inputs is None:
            inputs = [(n.name or n.id, n.id) for n in graph if n.kind == "input"]
        return cls(graph, outputs, inputs)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.outputs), len(self.inputs))

    # -- the three ways to J -------------------------------------------------
    def evaluate(self, moved: dict[int, float] | None = None) -> list[float]:
        """Every row's value, computed again from the leaves (some moved to new values)."""
        values = list(self.values)
        for k, v in (moved or {}).items():
            values[k] = v
        fns, args = self.fns, self.args
        for k in self.ops:
            values[k] = fns[k](*[values[i] for i in args[k]])
        return values

    def forward(self, seed: int | None) -> tuple[list[float], list[float]]:
        """One forward pass seeded at row seed: every row's value and tangent, as a Dual run
        computes them (values are computed again too)."""
        values = list(self.values)
        tangents = [0.0] * len(values)
        if seed is not None:
            tangents[seed] = 1.0
        fns, args, partials = self.fns, self.args, self.partials
        for k in self.ops:
            a = args[k]
            x = [values[i] for i in a]
            y = values[k] = fns[k](*x)
            # Chain rule: tangent(node) = sum over arguments of d(node)/d(arg) * tangent(arg);
            # a zero tangent adds nothing, even through an infinite partial.
            t = 0.0
            for pos, i in enumerate(a):
                if tangents[i]:
                    t += chain(partials[k][pos](*x, y), tangents[i])
            tangents[k] = t
        return values, tangents

    def backward(self, out: int, values: Sequence[float] | None = None) -> list[float]:
        """One backward pass from row out: d(out)/d(row) for every row."""
        values = self.values if values is None else values
        adjoints = [0.0] * len(values)
        adjoints[out] = 1.0
        args, partials, const = self.args, self.partials, self.const
        for k in reversed(self.ops):
            g = adjoints[k]
            if not g:  # a zero adjoint passes on zero, even through an infinite partial
                continue
            a = args[k]
            x = [values[i] for i in a]
            for pos, i in enumerate(a):
                if not const[i]:
                    # Chain rule: each argument gains d(node)/d(arg) * d(out)/d(node).
                    adjoints[i] += chain(partials[k][pos](*x, values[k]), g)
        return adjoints

    def jacobian(self, mode: str = "reverse", h: float = 1e-6) -> Jacobian:
        """J by reverse mode (a row per pass), forward mode (a column per pass) or
        central differences ("numeric", two evaluations per column)."""
        m, n = self.shape
        J = np.zeros((m, n))
        if mode == "reverse":
            values = self.evaluate()
            for i, out in enumerate(self.outputs):
                adjoints = self.backward(out, values)
                J[i] = [0.0 if k is None else adjoints[k] for _, k in self.inputs]
        elif mode == "forward":
            for j, (_, k) in enumerate(self.inputs):
                if k is not None:
                    tangents = self.forward(k)[1]
                    J[:, j] = [tangents[o] for o in self.outputs]
        elif mode == "numeric":
            for j, (_, k) in enumerate(self.inputs):
                if k is not None:
                    up = self.evaluate({k: self.values[k] + h})
                    down = self.evaluate({k: self.values[k] - h})
                    J[:, j] = [(up[o] - down[o]) / (2 * h) for o in self.outputs]
        else:
            raise ValueError(f"mode is 'reverse', 'forward' or 'numeric', not {mode!r}")
        return Jacobian(J, list(self.output_names), [name for name, _ in self.inputs])

    # -- what each pass does -------------------------------------------------
    def reverse_steps(self, out: int) -> int:
        """The steps of the backward pass from out: its seed, then one per argument of
        each node out depends on (constants take none)."""
        needed = bytearray(len(self.values))
        needed[out] = 1
        steps = 1
        for k in reversed(self.ops):
            if needed[k]:
                for i in self.args[k]:
                    needed[i] = 1
                    steps += not self.const[i]
        return steps

    def forward_steps(self) -> int:
        """The steps of one forward pass: one per node that is not a constant."""
        return sum(1 for c in self.const if not c)
