"""Labels and a student's own Value class in the live widget, in JupyterLab.

- Bare %%grad over leaves whose labels differ from their variables (`a (v)`),
  one label that starts with "value " and one with a control character: each
  box reads label, value and gradient, and a live input rewrites only the value
  line (the label "value of w" stays).
- `%grad o --check` on the lecture's Value class with the missing `(1 - t**2)`
  factor: the flagged tanh node is drawn so, and its note is readable.

Light and dark themes, wide and narrow: artifacts/labels_*.png and
student_check_*.png.
"""

from __future__ import annotations

from jupyter_harness import JupyterServer, NotebookPage
from lecture import NEURON, lecture_value
from playwright.sync_api import Locator, expect

LABELS = r"""%%grad
w = Value(2.0, label='value of w')
v = Value(3.0, label='a')
z = Value(-1.0, label='nul\x00x')
y = w * v + z
y"""
STUDENT = lecture_value("tanh") + NEURON + "o = n.tanh(); o.label = 'o'\no.backward()"
# A live input runs the bare cell again, with whichever Value the namespace has by then:
# ad_magic's again after the student's class.
AGAIN = "from ad_magic import Value"
CELLS = ["%load_ext ad_magic", AGAIN, LABELS, STUDENT, "%grad o --check", AGAIN]
LOAD, IMPORT, BARE, CLASS, CHECK, _ = range(6)
NOTE = "tanh node o (n9): the gradient it passes to n (n8) is 1.0, the chain rule gives 0.5"
YOURS = "first wrong gradient, do/dn (n8): yours 1.0, chain rule 0.5, difference +0.5"


def box_lines(w: Locator, shown: str) -> list[str]:
    """The name, value and reverse-mode lines of the node box whose first line is `shown`
    (forward mode's lines follow, hidden in reverse mode)."""
    lines: list[list[str]] = w.locator("svg g.node").evaluate_all(
        "gs => gs.map(g => [...g.querySelectorAll('text')].map(t => t.textContent))"
    )
    found = [texts for texts in lines if texts and texts[0] == shown]
    assert len(found) == 1, (shown, lines)
    return found[0][:3]


def shoot(lab: NotebookPage, name: str, what: Locator) -> None:
    """The whole widget (a page tall enough for it: the notebook scrolls inside the page)."""
    for width, tag in ((1280, "wide"), (720, "narrow")):
        lab.page.set_viewport_size({"width": width, "height": 2000})
        what.scroll_into_view_if_needed()
        lab.screenshot(f"{name}_{tag}", what)
    lab.page.set_viewport_size({"width": 1280, "height": 1000})


def check_page(lab: NotebookPage, theme: str) -> None:
    w = lab.output(BARE).locator(".ad-magic")
    expect(w.locator("svg g.node")).not_to_have_count(0)
    assert box_lines(w, "value of w (w)") == ["value of w (w)", "value 2", "grad 3"]
    assert box_lines(w, "a (v)") == ["a (v)", "value 3", "grad 2"]
    assert box_lines(w, "nul\\x00x (z)") == ["nul\\x00x (z)", "value -1", "grad 1"]
    # The drawn SVG is well-formed XML (no raw NUL made it in).
    xml = w.locator("svg").first.evaluate("s => new XMLSerializer().serializeToString(s)")
    assert "\x00" not in xml
    parsed = w.locator("svg").first.evaluate(
        "s => new DOMParser().parseFromString(new XMLSerializer().serializeToString(s),"
        " 'image/svg+xml').querySelector('parsererror') === null"
    )
    assert parsed
    shoot(lab, f"labels_{theme}", w)

    s = lab.output(CHECK).locator(".ad-magic")
    expect(s.locator("svg g.node.ad-flagged")).to_have_count(1)
    flagged = s.locator("svg g.node.ad-flagged text").first
    expect(flagged).to_have_text("n (+)")  # the first node whose gradient is wrong
    note = s.locator(".ad-notes")
    expect(note).to_contain_text(NOTE)
    # Yours beside the chain rule's, for the first wrong gradient from the output.
    expect(note).to_contain_text(YOURS)
    expect(note).to_be_visible()
    assert note.evaluate("n => n.scrollWidth <= n.clientWidth + 1"), "the note is cut off"
    shoot(lab, f"student_check_{theme}", s)


def test_labels_and_a_student_check(jupyter_server: JupyterServer, lab: NotebookPage) -> None:
    jupyter_server.write_notebook("labels.ipynb", CELLS)
    lab.open("labels.ipynb")
    lab.run_all()
    check_page(lab, "light")

    # A live input rewrites the value line of "value of w", never its label.
    w = lab.output(BARE).locator(".ad-magic")
    number = w.get_by_role("spinbutton", name="value of w value")
    number.fill("2.5")
    number.press("Enter")
    lines = w.locator("svg g.node:has(text:text-is('value of w (w)')) text")
    expect(lines.nth(1)).to_have_text("value 2.5")
    assert box_lines(w, "value of w (w)") == ["value of w (w)", "value 2.5", "grad 3"]
    assert box_lines(w, "a (v)") == ["a (v)", "value 3", "grad 2.5"]
    lab.screenshot("labels_light_live", w)
    lab.assert_no_page_errors()

    jupyter_server.set_theme("JupyterLab Dark")
    lab.open("labels.ipynb")
    lab.run_all()
    expect(lab.page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
    check_page(lab, "dark")
    lab.assert_no_page_errors()
