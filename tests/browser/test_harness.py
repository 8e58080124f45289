"""The harness itself: a cell that raises and an error in the page both fail a test."""

from __future__ import annotations

import time

import pytest
from jupyter_harness import JupyterServer, NotebookPage


def test_a_raising_cell_and_a_page_error_fail_the_test(
    jupyter_server: JupyterServer, lab: NotebookPage
) -> None:
    jupyter_server.write_notebook("bad.ipynb", ["1 / 0", "print('never run')"])
    lab.open("bad.ipynb")
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)stopped early.*ZeroDivisionError"):
        lab.run_all()
    assert time.monotonic() - started < 30  # it stops at the error, not at the timeout

    lab.assert_no_page_errors()
    lab.page.evaluate("() => { setTimeout(() => { throw new Error('boom') }); }")
    lab.page.evaluate("() => console.error('bang')")
    lab.page.wait_for_timeout(200)
    with pytest.raises(AssertionError, match=r"(?s)boom.*bang"):
        lab.assert_no_page_errors()
