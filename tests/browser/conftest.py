"""Real-browser fixtures: an isolated Jupyter server, headless Chromium, and a notebook driver.

    def test_graph(jupyter_server, lab):              # or `nb7` for Notebook 7
        jupyter_server.write_notebook("t.ipynb", ["%load_ext ad_magic", "%%grad x=1.5\\n..."])
        lab.open("t.ipynb")                           # page loaded, kernel idle
        lab.run_all()                                 # Run menu > Run All Cells, waits for idle
        expect(lab.output(1).locator("g.node").first).to_be_visible()
        lab.screenshot("graph")                       # tests/browser/artifacts/graph.png
        lab.assert_no_page_errors()

Every test here is marked `browser` (deselect with `-m "not browser"` for a quick
local loop; `make test` and CI run them all). Chromium is Debian's
(`apt-get install -y chromium`, done by .ci/run); a missing one fails, never skips.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HERE,
    JupyterServer,
    NotebookPage,
    start_server,
    stop_server,
)
from playwright.sync_api import Browser, Page, sync_playwright

FAILED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs JupyterLab or Notebook 7 in Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def jupyter_server(tmp_path: Path) -> Iterator[JupyterServer]:
    """A fresh isolated Jupyter server for one test (a new kernel, no old widget state)."""
    proc, server = start_server(tmp_path)
    try:
        yield server
    finally:
        stop_server(proc, server)


# -- the browser ------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, shared by the session; each test gets its own context."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium "
            "(apt-get install -y chromium; .ci/run does it)",
            pytrace=False,
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page in its own context; a failed test leaves artifacts/FAILED-<test>.png."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    if request.node.stash.get(FAILED, False):
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        p.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"))
    context.close()


def _driver(page: Page, server: JupyterServer, flavor: str) -> Iterator[NotebookPage]:
    nb = NotebookPage(page, server, flavor)
    yield nb
    # Errors after the test's own check (or in a test that forgot it) fail too.
    late = [e for e in nb.unexpected_errors() if e in nb.errors[nb._checked :]]
    if late:
        pytest.fail("page errors:\n" + "\n".join(late), pytrace=False)


@pytest.fixture
def lab(page: Page, jupyter_server: JupyterServer) -> Iterator[NotebookPage]:
    """A JupyterLab page on a fresh server: `lab.open(name)`, `lab.run_all()`, ..."""
    yield from _driver(page, jupyter_server, "lab")


@pytest.fixture
def nb7(page: Page, jupyter_server: JupyterServer) -> Iterator[NotebookPage]:
    """The same driver for Notebook 7's page (/notebooks/NAME)."""
    yield from _driver(page, jupyter_server, "notebook")
