"""A traced result as one self-contained, interactive HTML page.

    >>> _grad.save("trace.html")          # or: %%grad x=1.5 --save trace.html

The page is the widget's own front end (`widget.js`, inlined unchanged) on a
small stand-in for the widget model (`page.js`), with the widget's state as
JSON: the SVG, every step of every pass, the node table and the source. It
needs no network and no kernel: opened from disk it steps forward and back,
plays, switches modes and seeds and selects nodes. Live inputs need the
kernel, so the page has none; collapsed groups stay closed. Without scripts
it shows the static graph and node table.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from comm import DummyComm

from ad_magic.trace.result import GradResult, hooks
from ad_magic.widget.display import static_html
from ad_magic.widget.widget import HERE, GradWidget

PAGE_CSS = """
body { margin: 16px; font-family: system-ui, sans-serif; background: #fff; color: #111827; }
h1 { font-size: 16px; font-weight: 600; }
@media (prefers-color-scheme: dark) {
  body { background: #111827; color: #e5e7eb; }
  .ad-magic .ad-table-box, .ad-magic .ad-canvas svg { background: #fff; color: #111827; }
  .ad-magic .ad-cost, .ad-magic .ad-notes, .ad-magic .ad-counter { color: #d1d5db; }
}
"""


def state_of(result: GradResult, mode: str = "reverse", seed: str | None = None) -> dict[str, Any]:
    """The widget's synced state for result, every pass whole, without live inputs.

    The widget is built on a comm that goes nowhere: no front end hears of it.
    """
    widget = GradWidget(result, comm=DummyComm())
    try:
        if mode == "forward" and result.seeds:
            widget.seed = seed if seed in result.seeds else result.seeds[0]
            widget.mode = "forward"
        names = [n for n in widget.trait_names(sync=True) if not n.startswith("_")]
        state = {name: getattr(widget, name) for name in names if name != "layout"}
        if result.quiz is None or result.quiz.done:  # an open quiz shows the answered steps
            state["archive"] = widget.passes()
        state["inputs"] = []
        return state
    finally:
        widget.close()


def _script_json(value: Any) -> str:
    """JSON for inside a <script> element: no '</' can end it early."""
    return json.dumps(value).replace("</", "<\\/")


def page_html(result: GradResult, mode: str = "reverse", seed: str | None = None) -> str:
    """The standalone page: widget.js on the result's state, all inlined."""
    state = state_of(result, mode, seed)
    esm = (HERE / "widget.js").read_text(encoding="utf-8")
    css = (HERE / "widget.css").read_text(encoding="utf-8")
    shim = (HERE / "page.js").read_text(encoding="utf-8")
    inputs = ", ".join(result.inputs)
    heading = f"{result.output} and its derivatives" + (f" by {inputs}" if inputs else "")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(heading)} · ad_magic</title>\n"
        f"<style>{css}{PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(heading)}</h1>\n"
        '<div id="ad-root"></div>\n'
        f'<div id="ad-static">{static_html(result, state["svg"])}</div>\n'
        f'<script type="application/json" id="ad-state">{_script_json(state)}</script>\n'
        f'<script type="application/json" id="ad-esm">{_script_json(esm)}</script>\n'
        f'<script type="module">\n{shim}</script>\n</body>\n</html>\n'
    )


def save_page(
    result: GradResult,
    path: str | os.PathLike[str],
    mode: str = "reverse",
    seed: str | None = None,
) -> Path:
    """Write the standalone page to path."""
    path = Path(path)
    path.write_text(page_html(result, mode, seed), encoding="utf-8")
    return path


hooks.savers[".html"] = save_page  # GradResult.save("trace.html")
