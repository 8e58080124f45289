"""The chapter's example in a real browser: %%grad runs, its graph and gradient show.

JupyterLab and Notebook 7, each on a fresh server, in headless Chromium. One
notebook shows both displays of a GradResult: the live widget (the %%grad
cell's own output) and the static HTML fallback that nbconvert and GitHub show.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jupyter_harness import JupyterServer, NotebookPage, Stopwatch, record_timing
from playwright.sync_api import Locator, expect

CELLS = [
    "%load_ext ad_magic",
    "import sys, ad_magic\nprint(sys.executable)\nprint(ad_magic.__file__)",
    "%%grad x=1.5\ny = sin(x**2 + 1)",
    "from IPython.display import HTML\nfrom ad_magic.widget.display import static_html\n"
    "HTML(static_html(_grad))",
]
LOAD, WHERE, GRAD, STATIC = range(4)
NODES = [f"n{i}" for i in range(6)]  # x, 2, x**2, 1, x**2 + 1, y
CHECKOUT = Path(__file__).parents[2]


def assert_graph(output: Locator) -> Locator:
    """The output shows the example's graph: nodes n0..n5 visible, x's gradient written."""
    graph = output.locator("svg g.node").first.locator("xpath=ancestor::*[local-name()='svg'][1]")
    expect(graph).to_be_visible()
    titles = output.locator("svg g.node > title").all_text_contents()
    assert sorted(titles) == NODES
    for title in NODES:
        node = output.locator("svg g.node").filter(
            has=output.page.locator(f"title >> text={title}")
        )
        expect(node).to_be_visible()
    box = graph.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50
    expect(output).to_contain_text("-2.982")  # dy/dx, in x's box and the text
    return graph


@pytest.mark.parametrize("flavor", ["lab", "nb7"])
def test_example_shows_graph_and_gradient(
    flavor: str, request: pytest.FixtureRequest, jupyter_server: JupyterServer
) -> None:
    nb: NotebookPage = request.getfixturevalue(flavor)
    jupyter_server.write_notebook("chapter.ipynb", CELLS)
    nb.open("chapter.ipynb")
    watch = Stopwatch.visible(nb.page, ".jp-OutputArea .ad-magic svg g.node")
    nb.run_all(stopwatch=watch)
    record_timing(f"static_display[{flavor}]", "run_all_to_graph_visible", watch.wait())

    # The kernel is this interpreter, with this checkout's ad_magic.
    where = nb.output(WHERE).inner_text()
    assert sys.executable in where
    assert str(CHECKOUT / "ad_magic" / "__init__.py") in where

    live = nb.output(GRAD)
    widget = live.locator(".ad-magic")
    expect(widget).to_be_visible()  # the widget, not a fallback
    live_graph = assert_graph(widget)
    # Its static copy (for nbconvert and GitHub) is the output before it, hidden by the widget.
    copy = live.locator(".ad-magic-static")
    expect(copy).to_have_count(1)
    expect(copy).to_be_hidden()

    static = nb.output(STATIC)
    expect(static.locator(".ad-magic-static")).to_be_visible()
    assert_graph(static)
    expect(static.locator("table")).to_contain_text("sin")

    nb.screenshot(f"static_display_{flavor}")
    nb.screenshot(f"static_display_{flavor}_widget", widget)
    nb.screenshot(f"static_display_{flavor}_graph", live_graph)
    nb.assert_no_page_errors()
