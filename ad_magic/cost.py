"""The cost of derivatives, measured: reverse mode, forward mode and central differences.

`scaling(f, sizes)` builds f's graph for each number of parameters N in
sizes, and times the three ways to its whole Jacobian on that recorded
graph: reverse mode (one backward pass per output), forward mode (one pass
per parameter) and central differences (two evaluations per parameter). It
returns a `Scaling` table, shown in a notebook as a line chart of time
against N drawn by ad_magic itself, and as text elsewhere:

    >>> from ad_magic import sigmoid
    >>> from ad_magic.cost import scaling
    >>> table = scaling(lambda w: sigmoid(w.sum()), [1, 10, 100])
    >>> table.ratio()      # central differences / reverse mode, at each N

`count` and `measure` give the same numbers for one graph; `%%grad --cost`
uses them on the cell's own recorded program.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ad_magic.engine.value import Value
from ad_magic.render.chart import line_chart
from ad_magic.trace.cost import LABELS, METHODS, Cost, count, measure, seconds
from ad_magic.trace.graph import Graph, parents_first
from ad_magic.trace.jacobian import Jacobian, Tape

__all__ = ["Cost", "Jacobian", "Scaling", "Tape", "count", "measure", "scaling", "tape_of"]


def tape_of(outputs: Any, inputs: Any) -> Tape:
    """The tape of Values already computed: J's rows are outputs (a Value, or a list or
    array of them), its columns the input Values (array inputs element by element)."""
    roots = [v for v in np.asarray(outputs, dtype=object).flat if isinstance(v, Value)]
    if not roots:
        raise TypeError("the outputs hold no Value: build them from the inputs' Values")
    graph = Graph.from_values(roots)
    row = {id(v): n for v, n in zip(parents_first(roots), graph.nodes, strict=True)}
    leaves = list(np.asarray(inputs, dtype=object).flat)
    columns = [
        (leaf.label or f"x[{k}]", row[id(leaf)].id if id(leaf) in row else None)
        for k, leaf in enumerate(leaves)
    ]
    names = [r.label or f"y[{k}]" for k, r in enumerate(roots)]
    return Tape(graph, graph.outputs or [graph.output], columns, names)


@dataclass
class Row:
    """One N of a scaling table: the graph's size and the three methods' cost."""

    n: int
    nodes: int
    evaluate: float  # seconds for one evaluation of the recorded computation
    cost: Cost


class Scaling:
    """The three methods timed for growing N: a table, and a chart of it."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    @property
    def sizes(self) -> list[int]:
        return [r.n for r in self.rows]

    def times(self, method: str) -> list[float]:
        """Seconds for the whole Jacobian by method ("reverse", "forward", "numeric")."""
        return [r.cost.times[method] for r in self.rows]

    def ratio(self, method: str = "numeric", against: str = "reverse") -> list[float]:
        """How many times longer method took than against, at each N."""
        return [r.cost.ratio(method, against) for r in self.rows]

    def relative(self, method: str) -> list[float]:
        """method's time in evaluations of the function: the chapter's unit of cost."""
        return [r.cost.times[method] / r.evaluate for r in self.rows]

    def table(self) -> list[dict[str, Any]]:
        """The table as plain rows."""
        return [
            {
                "N": r.n,
                "nodes": r.nodes,
                "evaluation_s": r.evaluate,
                "reverse_passes": r.cost.reverse_passes,
                "reverse_steps": r.cost.reverse_steps,
                "reverse_s": r.cost.times["reverse"],
                "forward_passes": r.cost.forward_passes,
                "forward_steps": r.cost.forward_steps,
                "forward_s": r.cost.times["forward"],
                "numeric_runs": r.cost.runs,
                "numeric_s": r.cost.times["numeric"],
                "numeric_over_reverse": r.cost.ratio(),
            }
            for r in self.rows
        ]

    def text(self) -> str:
        head = (
            f"{'N':>6} {'nodes':>7} {'one run':>9} {'reverse':>10} {'forward':>10} "
            f"{'fin. diff.':>10} {'FD/reverse':>10}"
        )
        lines = [head]
        for r in self.rows:
            t = r.cost.times
            lines.append(
                f"{r.n:>6} {r.nodes:>7} {seconds(r.evaluate):>9} {seconds(t['reverse']):>10} "
                f"{seconds(t['forward']):>10} {seconds(t['numeric']):>10} "
                f"{r.cost.ratio():>9.1f}x"
            )
        return "\n".join(lines)

    def chart(self, relative: bool = True, background: str | None = None) -> str:
        """The table as an SVG line chart against N: time in evaluations of the function
        (relative, with the chapter's 2N beside it), else in seconds."""
        series = {LABELS[m]: self.relative(m) if relative else self.times(m) for m in METHODS}
        if relative:  # the chapter's count, for comparison
            series["2N evaluations"] = [2.0 * n for n in self.sizes]
        y_label = "time / one evaluation of f" if relative else "time (s)"
        return line_chart(
            self.sizes,
            series,
            title="All the derivatives: time against the number of parameters N",
            x_label="N (parameters)",
            y_label=y_label,
            background=background,
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        return f"<div>{self.chart()}</div><pre>{self.text()}</pre>"


def scaling(
    f: Callable[[np.ndarray], Any],
    sizes: Iterable[int],
    point: Callable[[int], np.ndarray] | None = None,
    budget: float = 0.2,
) -> Scaling:
    """Time reverse mode, forward mode and central differences on f for each N in sizes.

    f takes an array of N Values (the parameters, at point(N), by default
    evenly spaced in [-1, 1]) and returns a Value or an array or list of
    them. Each method computes the whole Jacobian on the recorded graph; the
    best of a few runs counts, within `budget` seconds per method.
    """
    rows = []
    for n in sizes:
        x0 = np.linspace(-1.0, 1.0, n) if point is None else np.asarray(point(n), dtype=float)
        w = np.empty(n, dtype=object)
        for k, v in enumerate(x0):
            w[k] = Value(float(v), label=f"w[{k}]")
        tape = tape_of(f(w), w)
        cost = measure(tape, budget)
        rows.append(Row(n, len(tape.values), cost.times["evaluation"], cost))
    return Scaling(rows)
