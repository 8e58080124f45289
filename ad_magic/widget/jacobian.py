"""The widget's Jacobian panel as plain data: J's names and cells, and what each mode costs.

`jacobian_state(result)` is what the browser needs to draw J beside the
graph and fill it as the passes end: a row per output (reverse mode, one
backward pass each), a column per input (forward mode, one pass each), the
numbers as shown (kept back as '?' while homework hides derivatives), and the
cost of the whole J three ways, with times once `--cost` measured them.
"""

from __future__ import annotations

from typing import Any

from ad_magic.classroom.homework import concealment
from ad_magic.trace.cost import plural, seconds
from ad_magic.trace.result import GradResult
from ad_magic.trace.steps import num

ROWS = 24  # outputs shown
COLS = 24  # inputs shown
WORK = 2_000_000  # node visits J's shown rows may take; past it the cells are left out


def jacobian_state(result: GradResult) -> dict[str, Any]:
    """J's shown rows and columns, its cells as text, and the cost of each mode."""
    hide = concealment(result)
    tape = result.tape
    m, n = tape.shape
    rows, cols = result.outputs[:ROWS], [name for name, _ in tape.inputs][:COLS]
    cells: list[list[str]] = []
    if len(rows) * len(tape.values) <= WORK:
        for k in range(len(rows)):
            adjoints = tape.backward(tape.outputs[k])
            cells.append(
                [hide.grad(num(0.0 if i is None else adjoints[i])) for _, i in tape.inputs[:COLS]]
            )
    cost = result.cost
    t = cost.times

    def passes(k: int) -> str:
        return plural(k, "pass", "passes")

    def timed(method: str) -> str:
        return seconds(t[method]) if method in t else ""

    # fmt: off
    return {
        "rows": rows,
        "cols": cols,
        "more_rows": m - len(rows),
        "more_cols": n - len(cols),
        "cells": cells,
        "shape": f"{m} × {n}",
        "cost": [
            ["reverse", f"{passes(cost.reverse_passes)}, one per output", cost.reverse_steps,
             timed("reverse")],
            ["forward", f"{passes(cost.forward_passes)}, one per input", cost.forward_steps,
             timed("forward")],
            ["finite differences",
             f"{plural(cost.runs, 'evaluation')} of the recorded program, two per input",
             None, timed("numeric")],
        ],
        "line": cost.line(),
    }
    # fmt: on
