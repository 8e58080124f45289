"""Arrays as tensors in a real browser: the numpy network of tests/graphs.py shows a box
per numpy call, labelled with its op and shapes, readable at the default zoom (all in view
after Fit), in the light and the dark theme, on a wide and a narrow page; one opens in
place to its elements.

Screenshots go to artifacts/tensors_*.png.
"""

from __future__ import annotations

from graphs import NUMPY_MLP, NUMPY_MLP_SETUP, NUMPY_MLP_TENSORS
from jupyter_harness import JupyterServer, NotebookPage
from playwright.sync_api import Locator, Page, expect
from test_widget_navigation import (
    first_view,
    inside_viewport,
    low_contrast,
    open_widget,
)

# Each group box's label: its text, rendered size in CSS px, whether it fits inside its
# box's outline and lies inside the graph's viewport.
LABEL_BOXES = """el => {
    const v = el.querySelector('.ad-viewport').getBoundingClientRect();
    return [...el.querySelectorAll('svg g.node.group')].map(g => {
        const t = g.querySelector('text');
        const r = t.getBoundingClientRect();
        const s = g.querySelector(':scope > path, :scope > polygon').getBoundingClientRect();
        return {
            text: t.textContent,
            px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
            fits: r.left >= s.left - 1 && r.right <= s.right + 1,
            seen: r.left >= v.left - 1 && r.right <= v.right + 1
                && r.top >= v.top - 1 && r.bottom <= v.bottom + 1,
        };
    });
}"""


def tensor_boxes(w: Locator) -> list[dict[str, object]]:
    return list(w.evaluate(LABEL_BOXES))


def check_tensors(nb: NotebookPage, w: Locator, name: str) -> None:
    """The first view: each tensor label drawn, readable, inside its box and in view;
    then the tanh box opens in place to its 16 elements and closes again."""
    boxes = first_view(w)
    assert boxes == 12, boxes  # 11 tensors and y
    labels = tensor_boxes(w)
    assert sorted(str(b["text"]) for b in labels) == sorted(NUMPY_MLP_TENSORS), labels
    for box in labels:  # readable at the default zoom, inside its box
        assert float(str(box["px"])) >= 12 and box["fits"], box
    bad = low_contrast(w)
    assert not bad, bad[:5]
    nb.screenshot(f"tensors_{name}", w)
    # Taller than the viewport on a narrow page: Fit shows every tensor at once.
    w.get_by_role("button", name="Fit", exact=True).click()
    assert all(box["seen"] for box in tensor_boxes(w)), tensor_boxes(w)
    nb.screenshot(f"tensors_{name}_fit", w)

    tanh = w.locator("svg g.node.group").filter(has_text="tanh (16,)")
    tanh.click()
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text("tanh (16,)")
    expect(w.locator("svg g.node.group").filter(has_text="tanh (16,)")).to_have_count(0)
    elements = w.locator("svg g.node").filter(has_text="(tanh)")
    expect(elements).to_have_count(16)  # h[0] (tanh) ... h[15] (tanh)
    assert inside_viewport(w, "svg g.node.output")
    nb.screenshot(f"tensors_{name}_tanh_open", w)
    w.get_by_role("button", name="Close tanh (16,)", exact=True).click()
    expect(w.locator("svg g.node.group").filter(has_text="tanh (16,)")).to_have_count(1)
    nb.assert_no_page_errors()


def test_tensors_light_wide(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    jupyter_server.write_notebook("net.ipynb", ["%load_ext ad_magic", NUMPY_MLP_SETUP, NUMPY_MLP])
    lab.open("net.ipynb")
    w = open_widget(lab, "tensors[lab] light wide", 2)
    check_tensors(lab, w, "light_wide")


def test_tensors_dark_narrow(jupyter_server: JupyterServer, lab: NotebookPage, page: Page) -> None:
    jupyter_server.set_theme("JupyterLab Dark")
    page.set_viewport_size({"width": 760, "height": 900})
    jupyter_server.write_notebook("net.ipynb", ["%load_ext ad_magic", NUMPY_MLP_SETUP, NUMPY_MLP])
    lab.open("net.ipynb")
    w = open_widget(lab, "tensors[lab] dark narrow", 2)
    assert lab.page.evaluate("document.body.dataset.jpThemeLight") == "false"
    check_tensors(lab, w, "dark_narrow")
