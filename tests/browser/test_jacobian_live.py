"""The widget's Jacobian panel in JupyterLab: J beside the graph, filled as the passes end.

Reverse mode fills a row per backward pass (the output picked in the "Pass"
list), forward mode a column per pass (per seed). Saves
artifacts/jacobian_{light,dark}_{wide,narrow}.png of the widget, and the README's
docs/jacobian.png when AD_MAGIC_UPDATE_DOCS=1 (or it is missing).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from jupyter_harness import JupyterServer, NotebookPage
from playwright.sync_api import Locator, expect

POLAR = "%%grad r=2.0 t=0.7 -o u,v\nu = r * cos(t)\nv = r * sin(t)"
J = {("u", "r"): "0.7648", ("u", "t"): "-1.288", ("v", "r"): "0.6442", ("v", "t"): "1.53"}
CHECKOUT = Path(__file__).parents[2]
PICTURE = CHECKOUT / "docs" / "jacobian.png"  # the README's, rewritten with AD_MAGIC_UPDATE_DOCS=1


def cells(panel: Locator) -> dict[tuple[str, str], str]:
    """What J's cells show, by (output, input)."""
    found = panel.evaluate(
        """el => [...el.querySelectorAll('td[data-row]')].map(
            td => [td.dataset.row, td.dataset.col, td.textContent])"""
    )
    return {(r, c): text for r, c, text in found}


def filled(panel: Locator, *keys: tuple[str, str]) -> None:
    """Exactly these cells show their number; the others a dot."""
    want = {k: (J[k] if k in keys else "·") for k in J}
    panel.page.wait_for_function(
        """([el, want]) => [...el.querySelectorAll('td[data-row]')].every(
            td => td.textContent === want[td.dataset.row + ' ' + td.dataset.col])""",
        arg=[panel.element_handle(), {f"{r} {c}": v for (r, c), v in want.items()}],
    )
    assert cells(panel) == want


def test_jacobian_fills_as_passes_end(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    jupyter_server.write_notebook("polar.ipynb", ["%load_ext ad_magic", POLAR])
    lab.open("polar.ipynb")
    lab.run_all()
    w = lab.output(1).locator(".ad-magic")
    panel = w.locator(".ad-jacobian")
    expect(panel).to_be_visible()
    # Every output drawn as one (green, double border); the panel under the graph in a
    # widget narrower than about 990 px (JupyterLab at 1280 px with its file browser
    # open), beside it in a wider one.
    expect(w.locator("svg g.node.output")).to_have_count(2)
    assert w.evaluate("el => el.getBoundingClientRect().width") < 990
    graph_box, panel_box = w.locator(".ad-viewport").bounding_box(), panel.bounding_box()
    assert graph_box and panel_box and panel_box["y"] >= graph_box["y"] + graph_box["height"] - 1
    lab.page.set_viewport_size({"width": 1700, "height": 900})
    w.page.wait_for_function(
        """([view, panel]) => panel.getBoundingClientRect().left >=
            view.getBoundingClientRect().right - 1""",
        arg=[w.locator(".ad-viewport").element_handle(), panel.element_handle()],
    )
    assert w.locator(".ad-viewport").evaluate("el => el.getBoundingClientRect().width") >= 720
    lab.page.set_viewport_size({"width": 1280, "height": 900})

    first, last = (
        w.get_by_role("button", name=n, exact=True) for n in ("First step", "Last step")
    )
    pick = panel.get_by_label("Pass")
    cost = panel.locator(".ad-j-cost")
    expect(cost).to_contain_text("reverse2 passes, one per output")
    expect(cost).to_contain_text(
        "finite differences4 evaluations of the recorded program, two per input"
    )

    # Not stepping: every pass has run, all of J shows.
    filled(panel, *J)
    # Reverse mode, output u's backward pass: at its first step nothing is done ...
    first.click()
    filled(panel)
    # ... at its last, u's row is.
    last.click()
    filled(panel, ("u", "r"), ("u", "t"))
    shot = lab.screenshot("jacobian_light_wide", w)
    if os.environ.get("AD_MAGIC_UPDATE_DOCS") == "1" or not PICTURE.exists():
        shutil.copyfile(shot, PICTURE)
    # v's pass comes after u's: stepping it, u's row stays and v's fills at its end.
    pick.select_option("v")
    first.click()
    expect(w.locator(".ad-narration")).to_have_text("grad(v) = 1")
    filled(panel, ("u", "r"), ("u", "t"))
    last.click()
    filled(panel, *J)

    # Forward mode: a column per seed.
    w.get_by_role("button", name="Forward", exact=True).click()
    expect(panel.locator(".ad-j-title")).to_contain_text("a column per forward pass")
    first.click()
    filled(panel)
    last.click()
    filled(panel, ("u", "r"), ("v", "r"))
    pick.select_option("t")
    first.click()
    filled(panel, ("u", "r"), ("v", "r"))
    last.click()
    filled(panel, *J)
    lab.screenshot("jacobian_forward_light_wide", w)

    # A live input runs the cell again: J follows (r = 3: dv/dt = 3 cos t, du/dt = -3 sin t).
    w.get_by_role("spinbutton", name="r value").fill("3")
    w.get_by_role("spinbutton", name="r value").press("Enter")
    want = {"u r": "0.7648", "u t": "-1.933", "v r": "0.6442", "v t": "2.295"}
    lab.page.wait_for_function(
        """([el, want]) => [...el.querySelectorAll('td[data-row]')].every(
            td => td.textContent === want[td.dataset.row + ' ' + td.dataset.col])""",
        arg=[panel.element_handle(), want],
    )

    # Narrow: the panel goes below the graph.
    lab.page.set_viewport_size({"width": 700, "height": 900})
    graph_box, panel_box = w.locator(".ad-viewport").bounding_box(), panel.bounding_box()
    assert graph_box and panel_box and panel_box["y"] >= graph_box["y"] + graph_box["height"] - 1
    lab.screenshot("jacobian_light_narrow", w)
    lab.assert_no_page_errors()

    # The dark theme, on a fresh page.
    jupyter_server.set_theme("JupyterLab Dark")
    lab.page.set_viewport_size({"width": 1280, "height": 900})
    lab.open("polar.ipynb")
    lab.run_all()
    expect(lab.page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
    w = lab.output(1).locator(".ad-magic")
    panel = w.locator(".ad-jacobian")
    filled(panel, *J)
    w.get_by_role("button", name="First step", exact=True).click()
    w.get_by_role("button", name="Last step", exact=True).click()
    filled(panel, ("u", "r"), ("u", "t"))
    lab.screenshot("jacobian_dark_wide", w)
    lab.page.set_viewport_size({"width": 900, "height": 900})  # the file browser is open here
    lab.screenshot("jacobian_dark_narrow", w)
    lab.assert_no_page_errors()
