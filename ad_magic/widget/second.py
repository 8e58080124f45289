"""The second-derivative panel of a `%%grad --order 2` display: the Hessian matrix and the
gradient computation drawn as a graph of its own.

`SecondPanel(result)` is a box of two widgets under the first-order display:
`HessianWidget` (a small anywidget, `second.js` beside it) shows the matrix,
and a `GradWidget` shows the gradient computation, grouped by the first-order
rule that made each part, whose forward passes (one per input) are the second
pass: step through one and its narration says how each Hessian entry of that
column comes about. Clicking an entry of the matrix turns the graph to that
entry's pass, at the step that finishes it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets as t

from ad_magic import render
from ad_magic.render.groups import View
from ad_magic.trace.result import GradResult
from ad_magic.trace.steps import GroupStep, Step, num
from ad_magic.widget.widget import GradWidget

HERE = Path(__file__).parent


class HessianWidget(anywidget.AnyWidget):
    """The Hessian as a table; a click on an entry is sent to Python as {"type": "entry"}."""

    # Text, not paths, as GradWidget's: a path makes anywidget connect every instance to
    # the file's change signal, which keeps every Hessian widget ever made alive.
    _esm = (HERE / "second.js").read_text(encoding="utf-8")
    _css = (HERE / "second.css").read_text(encoding="utf-8")

    output = t.Unicode("").tag(sync=True)
    labels: t.List[str] = t.List().tag(sync=True)
    rows: t.List[list[str]] = t.List().tag(sync=True)  # H as text, four significant digits
    picked: t.List[int] = t.List().tag(sync=True)  # [row, column] of the entry shown, or []
    note = t.Unicode("").tag(sync=True)  # why there is no matrix (too many inputs)


class SecondPanel(ipywidgets.VBox):
    """The Hessian matrix and, below it, the gradient computation's own display."""

    def __init__(self, result: GradResult, first: GradWidget | None = None) -> None:
        self.result = result
        self.matrix = HessianWidget(output=result.output, labels=result.second.labels)
        self.graph = GradWidget(result.second.result())
        self._fill()
        self.matrix.on_msg(self._on_msg)
        if first is not None:  # a live input re-traces the first widget: follow it
            first.observe(self._retraced, names=["records", "numbers"])
        super().__init__([self.matrix, self.graph])
        self.add_class("ad-second-panel")

    def _fill(self) -> None:
        second = self.result.second
        self.matrix.note = second.note
        self.matrix.rows = [] if second.note else [[num(x) for x in r] for r in second.hessian]
        self.matrix.picked = []

    def _retraced(self, change: Any) -> None:
        new = change["owner"].result
        if new is self.result:
            return
        new.second = self.result.second.again(new.graph, new.scalar_inputs)
        self.result = new
        self._fill()
        self.graph.view = View(new.second.graph, render.config.budget)
        self.graph._load(new.second.result(), layout=True)

    def _on_msg(self, widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("type") == "entry":
            self.show_entry(int(content["row"]), int(content["column"]))

    def show_entry(self, row: int, column: int) -> None:
        """Turn the graph to the pass seeded at input `column`, at the step that gives
        input `row`'s gradient its tangent: the entry H[row, column]."""
        second = self.result.second
        if not (0 <= row < len(second.labels) and 0 <= column < len(second.labels)):
            return
        self.matrix.picked = [row, column]
        seed, target = second.labels[column], second.grads[row]
        graph = self.graph
        if seed not in graph.seeds:
            return
        with graph.hold_trait_notifications():
            graph.mode, graph.seed = "forward", seed
            if target is not None:
                steps = graph._steps[f"forward:{seed}"]
                # the step at the graph's level that finishes it: a collapsed group's one
                # step stands for every step inside it
                graph.step = next(k for k, s in enumerate(steps) if _finishes(s, target))
                graph.selected = target


def _finishes(step: Step | GroupStep, target: str) -> bool:
    inner = step.steps if isinstance(step, GroupStep) else (step,)
    return any(s.node == target for s in inner)


def static_hessian(result: GradResult) -> str:
    """The Hessian as an HTML table, for where widgets cannot render ('' without one)."""
    second = result.second
    if second is None:
        return ""
    if second.note:
        return f"<p>{html.escape(second.note)}</p>"
    esc, labels = html.escape, second.labels
    head = "".join(f"<th>{esc(label)}</th>" for label in labels)
    rows = "".join(
        f"<tr><th>{esc(label)}</th>" + "".join(f"<td>{num(x)}</td>" for x in row) + "</tr>"
        for label, row in zip(labels, second.hessian, strict=True)
    )
    return (
        f"<p>Hessian of {esc(result.output)}:</p>"
        f'<table class="ad-table"><tr><th></th>{head}</tr>{rows}</table>'
    )


def panel(result: GradResult, first: GradWidget) -> ipywidgets.VBox:
    """The first-order display with the second-derivative panel under it."""
    return ipywidgets.VBox([first, SecondPanel(result, first)])
