"""Arrays as tensors in a real browser, JupyterLab and Notebook 7: the numpy network of
tests/graphs.py shows a box per numpy call, labelled with its op and shapes, all in view
and readable at the default zoom beside the Jacobian, in the light and the dark theme, on
a wide (1280 px) and a narrow (720 px) page; tanh (16,) opens in place to blocks of four
elements, a block to its elements, each stepped at its level and readable.

Screenshots go to artifacts/tensors_*.png.
"""

from __future__ import annotations

from graphs import NUMPY_MLP, NUMPY_MLP_SETUP, NUMPY_MLP_TENSORS
from jupyter_harness import JupyterServer, NotebookPage
from playwright.sync_api import Locator, Page, expect
from test_widget_navigation import (
    first_view,
    inside_viewport,
    level_count,
    low_contrast,
    open_widget,
)

# Each group box's label: its text, rendered size in CSS px, whether it fits inside its
# box's outline and lies inside the graph's viewport.
LABEL_BOXES = """el => {
    const v = el.querySelector('.ad-viewport').getBoundingClientRect();
    return [...el.querySelectorAll('svg g.node.group')].map(g => {
        const texts = [...g.querySelectorAll('text')];
        const title = texts.slice(0, texts.findIndex(t => / nodes$/.test(t.textContent)));
        const rects = title.map(t => t.getBoundingClientRect());
        const s = g.querySelector(':scope > path, :scope > polygon').getBoundingClientRect();
        const t = title[0];
        return {
            text: title.map(t => t.textContent).join(' '),  // a long title takes two lines
            px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
            fits: rects.every(r => r.left >= s.left - 1 && r.right <= s.right + 1),
            seen: rects.every(r => r.left >= v.left - 1 && r.right <= v.right + 1
                && r.top >= v.top - 1 && r.bottom <= v.bottom + 1),
        };
    });
}"""


def tensor_boxes(w: Locator) -> list[dict[str, object]]:
    return list(w.evaluate(LABEL_BOXES))


def readable_and_seen(w: Locator, text: str) -> None:
    """The group boxes whose label starts with `text`: readable (12 px or more) and in view."""
    boxes = [b for b in tensor_boxes(w) if str(b["text"]).startswith(text)]
    assert boxes, text
    for box in boxes:
        assert float(str(box["px"])) >= 12 and box["seen"], box


def shot(nb: NotebookPage, w: Locator, name: str) -> None:
    """artifacts/tensors_<name>.png: the graph and the Jacobian beside (or under) it.
    (Notebook 7 shows a tall output in a scrolled box; for the picture it is unrolled, as
    a click on the output's prompt does.)"""
    w.evaluate(
        "el => el.closest('.jp-mod-outputsScrolled')?.classList.remove('jp-mod-outputsScrolled')"
    )
    stage = w.locator(".ad-stage")
    stage.scroll_into_view_if_needed()
    nb.screenshot(f"tensors_{name}", stage)


def check_tensors(nb: NotebookPage, w: Locator, name: str) -> None:
    """The first view beside the Jacobian: each tensor label drawn, readable, inside its box
    and in view at the default zoom; tanh (16,) opens in place to blocks of its elements,
    a block to its elements, each stepped at its level, all readable; and closes again."""
    boxes = first_view(w)
    assert boxes == 12, boxes  # 11 tensors and y
    labels = tensor_boxes(w)
    assert sorted(str(b["text"]) for b in labels) == sorted(NUMPY_MLP_TENSORS), labels
    for box in labels:  # readable at the default zoom, inside its box, all in view
        assert float(str(box["px"])) >= 12 and box["fits"] and box["seen"], box
    assert inside_viewport(w, "svg"), "the first view is not all on screen"
    assert w.locator(".ad-jacobian").is_visible()
    bad = low_contrast(w)
    assert not bad, bad[:5]
    shot(nb, w, name)
    top = level_count(w)
    assert top == 9, top  # as the README says

    w.locator("svg g.node.group").filter(has_text="tanh (16,)").click()
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text("tanh (16,)")
    quarters = [f"tanh[{i}] … tanh[{i + 3}]" for i in (0, 4, 8, 12)]
    for label in quarters:
        expect(w.locator("svg g.node.group").filter(has_text=label)).to_have_count(1)
        readable_and_seen(w, label)
    assert level_count(w) == top + 3  # a step per block where there was one for all 16
    shot(nb, w, f"{name}_tanh_open")

    w.locator("svg g.node.group").filter(has_text=quarters[1]).click()
    expect(w.locator(".ad-crumbs [aria-current='location']")).to_have_text(quarters[1])
    elements = w.locator("svg g.node").filter(has_text="(tanh)")
    expect(elements).to_have_count(4)  # h[4] (tanh) ... h[7] (tanh)
    seen = w.evaluate(
        """el => {
            const v = el.querySelector('.ad-viewport').getBoundingClientRect();
            return [...el.querySelectorAll('svg g.node')]
                .filter(g => g.textContent.includes('(tanh)'))
                .map(g => {
                    const r = g.getBoundingClientRect();
                    const t = g.querySelector('text');
                    return {
                        text: t.textContent,
                        top: r.top,
                        px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
                        seen: r.top >= v.top - 1 && r.bottom <= v.bottom + 1
                            && r.left >= v.left - 1 && r.right <= v.right + 1,
                    };
                });
        }"""
    )
    seen.sort(key=lambda e: e["top"])  # top to bottom in the order of the array
    assert [e["text"] for e in seen] == [f"h[{i}] (tanh)" for i in range(4, 8)], seen
    assert all(e["seen"] and e["px"] >= 12 for e in seen), seen
    assert level_count(w) == top + 3 + 3  # and a step per element in the opened block
    shot(nb, w, f"{name}_block_open")
    w.get_by_role("button", name=f"Close {quarters[1]}", exact=True).click()
    w.get_by_role("button", name="Close tanh (16,)", exact=True).click()
    expect(w.locator("svg g.node.group").filter(has_text="tanh (16,)")).to_have_count(1)
    assert level_count(w) == top
    nb.assert_no_page_errors()


def write_network(server: JupyterServer) -> None:
    server.write_notebook("net.ipynb", ["%load_ext ad_magic", NUMPY_MLP_SETUP, NUMPY_MLP])


def test_tensors_light_wide(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    write_network(jupyter_server)
    lab.open("net.ipynb")
    w = open_widget(lab, "tensors[lab] light wide", 2)
    check_tensors(lab, w, "light_wide")


def test_tensors_dark_narrow(jupyter_server: JupyterServer, lab: NotebookPage, page: Page) -> None:
    jupyter_server.set_theme("JupyterLab Dark")
    page.set_viewport_size({"width": 720, "height": 900})
    write_network(jupyter_server)
    lab.open("net.ipynb")
    # With the file browser open, a 720 px page leaves the notebook 350 px: closed, as on a
    # narrow screen one would, the widget is as wide as in Notebook 7.
    lab.page.keyboard.press("Control+b")
    expect(lab.page.locator("#jp-left-stack")).to_be_hidden()
    w = open_widget(lab, "tensors[lab] dark narrow", 2)
    assert lab.page.evaluate("document.body.dataset.jpThemeLight") == "false"
    check_tensors(lab, w, "dark_narrow")


def test_notebook7_tensors_light_narrow(
    jupyter_server: JupyterServer, nb7: NotebookPage, page: Page
) -> None:
    page.set_viewport_size({"width": 720, "height": 900})
    write_network(jupyter_server)
    nb7.open("net.ipynb")
    w = open_widget(nb7, "tensors[nb7] light narrow", 2)
    check_tensors(nb7, w, "nb7_light_narrow")


def test_notebook7_tensors_dark_wide(jupyter_server: JupyterServer, nb7: NotebookPage) -> None:
    jupyter_server.set_theme("JupyterLab Dark")
    write_network(jupyter_server)
    nb7.open("net.ipynb")
    w = open_widget(nb7, "tensors[nb7] dark wide", 2)
    check_tensors(nb7, w, "nb7_dark_wide")
