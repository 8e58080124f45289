"""The --order 2 panel in a real browser (JupyterLab, headless Chromium): the Hessian
matrix under the first-order widget, the gradient computation drawn by a second widget,
a click on an entry turning that graph to the entry's pass and step, in light and dark
themes, wide and narrow, on a small graph and a grouped large one.

Screenshots: artifacts/second_{light,dark}_{wide,narrow}.png and second_network_*.png.
"""

from __future__ import annotations

import json

from jupyter_harness import JupyterServer, NotebookPage
from playwright.sync_api import Locator, expect
from test_widget_navigation import wait_fitted

SMALL = "%%grad x=1.5 w=0.5 --order 2\ny = sin(x**2 * w + 1)"
# The kernel's numbers: the Hessian as the panel shows it, and the node of each gradient.
INFO = (
    "import json\nfrom ad_magic.trace.steps import num\n"
    "s = _grad.second\n"
    "print(json.dumps({'rows': [[num(v) for v in r] for r in _grad.hessian], "
    "'grads': s.grads, 'steps': {k: [[t.node, t.equation] for t in _grad.steps('second', k)] "
    "for k in s.labels}}))"
)
NETWORK = """\
import numpy as np
X = np.array([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8]])
t = np.array([1.0, -1.0, 0.5])"""
NETWORK_STEP = """\
%%grad W=np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]) v=np.array([0.7, -0.5, 0.2]) --order 2
h = np.tanh(X @ W)
loss = np.mean((h @ v - t) ** 2)"""


def panels(lab: NotebookPage, cell: int) -> tuple[Locator, Locator, Locator]:
    """The first-order widget, the Hessian matrix and the gradient computation's widget."""
    out = lab.output(cell)
    widgets = out.locator(".ad-magic")
    expect(widgets).to_have_count(2)
    return widgets.nth(0), out.locator(".ad-hessian"), widgets.nth(1)


def shoot(lab: NotebookPage, name: str, out: Locator) -> None:
    """The whole output, and the Hessian with the gradient computation's graph, wide and narrow."""
    for width, tag in ((1280, "wide"), (720, "narrow")):
        lab.page.set_viewport_size({"width": width, "height": 1100})
        out.scroll_into_view_if_needed()
        lab.screenshot(f"{name}_{tag}", out)
        second = out.locator(".ad-second-panel")
        second.scroll_into_view_if_needed()
        lab.screenshot(f"{name}_panel_{tag}", second)
    lab.page.set_viewport_size({"width": 1280, "height": 900})


def test_hessian_panel_small_graph(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    jupyter_server.write_notebook("second.ipynb", ["%load_ext ad_magic", SMALL, INFO])
    lab.open("second.ipynb")
    lab.run_all()
    kernel = json.loads(lab.output(2).inner_text())
    first, matrix, graph = panels(lab, 1)
    expect(first.locator("svg g.node").first).to_be_visible()
    cells = matrix.locator("td")
    expect(cells).to_have_count(4)
    assert [c.inner_text() for c in cells.all()] == [v for row in kernel["rows"] for v in row]
    expect(matrix.locator("th")).to_have_text(["", "x", "w", "x", "w"])
    expect(graph.locator("svg g.node").first).to_be_visible()
    expect(graph.locator(".ad-notes")).to_contain_text("Forward mode over it")

    # A click on H[x, w]: the graph turns to the pass seeded at w, at dy/dx's step.
    cells.nth(1).click()
    expect(cells.nth(1)).to_have_class("ad-picked")
    dydx = kernel["grads"][0]
    pass_w = kernel["steps"]["w"]
    k = next(i for i, (node, _) in enumerate(pass_w) if node == dydx)
    narration = graph.locator(".ad-narration")
    expect(narration).to_have_text(pass_w[k][1])
    assert pass_w[k][1].startswith("tangent(dy/dx) = ")
    assert pass_w[k][1].endswith(f"= {kernel['rows'][0][1]}")
    expect(graph.locator(".ad-seed")).to_have_value("w")
    expect(graph.locator("svg g.node.ad-current > title")).to_have_text(dydx)
    expect(graph.locator(".ad-counter")).to_have_text(f"step {k + 1} of {len(pass_w)}")
    # Stepping through the second pass follows the kernel's narration.
    graph.get_by_role("button", name="First step", exact=True).click()
    for node, equation in pass_w[:4]:
        expect(narration).to_have_text(equation)
        expect(graph.locator("svg g.node.ad-current > title")).to_have_text(node)
        graph.get_by_role("button", name="Next step", exact=True).click()
    cells.nth(1).click()  # again: back to the entry's step
    expect(narration).to_have_text(pass_w[k][1])
    shoot(lab, "second_light", lab.output(1))
    lab.assert_no_page_errors()


def test_hessian_panel_dark_and_grouped(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    jupyter_server.set_theme("JupyterLab Dark")
    info = (
        "import json\nprint(json.dumps([len(_grad.second.graph), "
        "sorted({n.calls[0].split('#')[0] for n in _grad.second.graph if n.calls})]))"
    )
    jupyter_server.write_notebook(
        "net.ipynb", ["%load_ext ad_magic", NETWORK, NETWORK_STEP, info, SMALL]
    )
    lab.open("net.ipynb")
    lab.run_all()
    expect(lab.page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
    n_nodes, rules = json.loads(lab.output(3).inner_text())
    assert n_nodes > 150 and len(rules) > 10
    _, matrix, graph = panels(lab, 2)
    expect(matrix.locator("td")).to_have_count(81)
    # Past the budget the gradient computation is drawn as groups, one per first-order rule
    # (in blocks of consecutive rules where there are more than fit side by side).
    groups = graph.locator("svg g.node:has(> title:text-matches('^g'))")
    expect(groups.first).to_be_visible()
    before = groups.count()
    # open it (by keyboard: the first view may have panned it out of the viewport);
    # the rules inside it appear as boxes of their own
    groups.first.focus()
    groups.first.press("Enter")
    expect(groups).not_to_have_count(before, timeout=30_000)
    wait_fitted(graph)  # the opened view fitted, not only its bottom in view
    shoot(lab, "second_network_open_dark", lab.output(2))
    titles = " ".join(graph.locator("svg g.node text").all_text_contents())
    assert "grad(" in titles and " += " in titles
    matrix.locator("td").nth(10).click()  # H[1, 1]: W[0,1]'s column
    expect(graph.locator(".ad-seed")).to_have_value("W[0,1]")
    # The entry's step at the level on screen: here inside a collapsed group, whose one
    # step stands for the tangents inside it (not the finished pass).
    expect(graph.locator(".ad-narration")).to_contain_text("tangents inside, the last ")
    expect(graph.locator(".ad-counter")).to_contain_text("step ")
    shoot(lab, "second_network_dark", lab.output(2))
    _, small_matrix, small_graph = panels(lab, 4)
    small_matrix.locator("td").nth(2).click()
    expect(small_graph.locator(".ad-narration")).to_contain_text("tangent(dy/dw) = ")
    shoot(lab, "second_dark", lab.output(4))
    lab.assert_no_page_errors()
