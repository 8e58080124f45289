"""How a GradResult shows itself: a live widget, static HTML, or text.

In a notebook with a kernel a result is two outputs: first a static copy (SVG,
gradients, node table; `text/html`), then the live widget. The copy is for
every page where widgets cannot render: GitHub, an untrusted notebook, and
nbconvert's HTML, whose default path (`--execute`, widget state saved) picks
the widget view over any other representation in the same output and, offline,
has no widget manager to draw it. A separate output is the only way its
static copy is shown too. Where the widget does render (JupyterLab, Notebook 7,
VS Code, an nbconvert page whose html-manager loads) it hides its copy, found
by the `twin` token both carry. In terminal IPython it is text only, and nothing
is laid out.

A cell that is run again replaces its output, so the widgets it showed
before are closed: the kernel keeps one live widget per cell, not one per
run.
"""

from __future__ import annotations

import html
import uuid
from typing import Any

from IPython.display import publish_display_data

from ad_magic import render
from ad_magic.classroom.homework import concealment
from ad_magic.trace.result import GradResult, hooks
from ad_magic.trace.steps import num
from ad_magic.widget.second import panel, static_hessian
from ad_magic.widget.widget import GradWidget, conceal_svg

TABLE_ROWS = 60  # nodes listed in the static table before it says "and N more"
# The copy's graph and table scroll past these heights (px): Notebook 7 shows a cell's
# outputs in a short scroll box, the live widget's too, when they are taller than
# 1,820 px as they are added, and the copy is still shown then.
GRAPH_HEIGHT, TABLE_HEIGHT = 640, 320

# The cell being run (its id in the notebook, else its code) -> the widgets it showed.
_by_cell: dict[str, list[GradWidget]] = {}
_run: list[Any] = [None]  # the (cell, execute request) that last showed a widget


def current_cell() -> tuple[str, Any] | None:
    """The running cell's id (its code where the front end sends no id), and its request."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    parent = shell.get_parent() if hasattr(shell, "get_parent") else shell.parent_header
    if not isinstance(parent, dict):
        return None
    cell_id = (parent.get("metadata") or {}).get("cellId")
    code = (parent.get("content") or {}).get("code")
    key = f"id {cell_id}" if cell_id else f"code {code}" if code is not None else None
    return (key, (parent.get("header") or {}).get("msg_id")) if key else None


def shown_in_cell(widget: GradWidget) -> None:
    """Note a widget as the running cell's; close what an earlier run of the cell showed."""
    cell = current_cell()
    if cell is None:
        return
    key, request = cell
    earlier = _by_cell.get(key, [])
    if _run[0] != (key, request):  # the first display of this run: earlier runs' go
        for old in earlier:
            old.close()
        earlier = []
    _run[0] = (key, request)
    _by_cell[key] = [*earlier, widget]


def in_kernel() -> bool:
    """Whether a Jupyter kernel (and so a front end that can show widgets) is running."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def static_html(result: GradResult, graph_html: str | None = None, twin: str = "") -> str:
    """The graph as SVG, the gradients and a node table, as one HTML fragment.

    graph_html is the graph already drawn (the widget's), so it is not laid out twice;
    twin is the token of the widget that hides this copy when it renders.
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
    mark = f' data-ad-twin="{esc(twin)}"' if twin else ""
    more = len(result.nodes) - TABLE_ROWS
    if more > 0:
        rows += f'<tr><td colspan="6">… and {more} more nodes</td></tr>'
    return (
        f'<div class="ad-magic-static"{mark}>'
        f"<p><b>{esc(result.output)} = {hide.value(result.output, num(result.value))}</b></p>"
        f"<ul>{grads}{notes}</ul>"
        f'<div style="max-height:{GRAPH_HEIGHT}px;overflow:auto">'
        f"{graph_html or conceal_svg(render.to_html(result.graph), result)}</div>"
        f'<div style="max-height:{TABLE_HEIGHT}px;overflow:auto">'
        f'<table class="ad-table"><tr><th>node</th><th>name</th><th>op</th><th>value</th>'
        f"<th>grad</th><th>line</th></tr>{rows}</table></div>{static_hessian(result)}</div>"
    )


def _shown(g: Any) -> str:
    return num(g) if isinstance(g, float) else str(g)


def mimebundle(result: GradResult) -> dict[str, Any]:
    """What IPython displays for a result: in a kernel, the static copy is published
    first as an output of its own, and the widget view is returned."""
    if not in_kernel():
        return {"text/plain": result.summary()}
    result.widget = widget = GradWidget(result)
    shown_in_cell(widget)
    widget.twin = uuid.uuid4().hex
    static = static_html(result, widget.svg, widget.twin)  # one layout serves both
    publish_display_data({"text/html": static, "text/plain": result.summary()})
    shown = widget if result.second is None else panel(result, widget)
    view = shown._repr_mimebundle_()
    data = view[0] if isinstance(view, tuple) else view  # (data, metadata) in ipywidgets 8
    key = "application/vnd.jupyter.widget-view+json"
    bundle: dict[str, Any] = {"text/plain": repr(result)}
    if data and key in data:
        bundle[key] = data[key]
    return bundle


hooks.mimebundle = mimebundle  # how the trace layer's results show themselves
