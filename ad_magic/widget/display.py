"""How a GradResult shows itself: a live widget, static HTML, or text.

In a notebook with a kernel, the output's mime bundle carries the widget
view and, beside it, a static SVG and node table for places where widgets
cannot render (nbconvert HTML, GitHub, an untrusted notebook). In terminal
IPython it is text only, and nothing is laid out.
"""

from __future__ import annotations

import html
from typing import Any

from ad_magic import render
from ad_magic.classroom.homework import concealment
from ad_magic.trace.result import GradResult, hooks
from ad_magic.trace.steps import num
from ad_magic.widget.widget import GradWidget, conceal_svg

TABLE_ROWS = 60  # nodes listed in the static table before it says "and N more"


def in_kernel() -> bool:
    """Whether a Jupyter kernel (and so a front end that can show widgets) is running."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def static_html(result: GradResult, graph_html: str | None = None) -> str:
    """The graph as SVG, the gradients and a node table, as one HTML fragment.

    graph_html is the graph already drawn (the widget's), so it is not laid out twice.
    """
    esc = html.escape
    hide = concealment(result)  # --quiz and --expect keep derivatives back
    grads = "".join(
        f"<li>d{esc(result.output)}/d{esc(name)} = {esc(hide.grad(_shown(g)))}</li>"
        for name, g in result.grads.items()
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in [*result.notes, result.forward_note] if n)
    rows = "".join(
        f"<tr><td>{esc(n.id)}</td><td>{esc(n.title)}</td><td>{esc(n.op.name)}</td>"
        f"<td>{hide.value(n.name, num(n.value))}</td><td>{hide.grad(num(n.grad))}</td>"
        f"<td>{n.line or ''}</td></tr>"
        for n in result.nodes[:TABLE_ROWS]
    )
    more = len(result.nodes) - TABLE_ROWS
    if more > 0:
        rows += f'<tr><td colspan="6">… and {more} more nodes</td></tr>'
    return (
        f'<div class="ad-magic-static">'
        f"<p><b>{esc(result.output)} = {hide.value(result.output, num(result.value))}</b></p>"
        f"<ul>{grads}{notes}</ul>"
        f"{graph_html or conceal_svg(render.to_html(result.graph), result)}"
        f'<table class="ad-table"><tr><th>node</th><th>name</th><th>op</th><th>value</th>'
        f"<th>grad</th><th>line</th></tr>{rows}</table></div>"
    )


def _shown(g: Any) -> str:
    return num(g) if isinstance(g, float) else str(g)


def mimebundle(result: GradResult) -> dict[str, Any]:
    """What IPython displays for a result."""
    bundle: dict[str, Any] = {"text/plain": result.summary()}
    if not in_kernel():
        return bundle
    result.widget = GradWidget(result)
    bundle["text/html"] = static_html(result, result.widget.svg)  # one layout serves both
    view = result.widget._repr_mimebundle_()
    data = view[0] if isinstance(view, tuple) else view  # (data, metadata) in ipywidgets 8
    key = "application/vnd.jupyter.widget-view+json"
    if data and key in data:
        bundle[key] = data[key]
    return bundle


hooks.mimebundle = mimebundle  # how the trace layer's results show themselves
