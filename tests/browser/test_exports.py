"""Exports opened from disk in Chromium with the network cut off: no kernel, no server.

- nbconvert's HTML on its default path (`--execute`, widget state saved) and
  without widget state: the static copy shows the graph and the node table;
- the same page with the widget manager reachable (local copies of require.js,
  @jupyter-widgets/html-manager and anywidget's front end): the widget renders
  from the saved state, hides the static copy, and steps, switches mode and
  selects nodes with no kernel;
- the standalone page of `_grad.save("trace.html")`: steps, modes, selection;
- the animated SVG inside an <img>: it plays.

Screenshots go to tests/browser/artifacts/export_*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_harness import ARTIFACTS
from playwright.sync_api import Browser, Page, expect

CHECKOUT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
CELLS = ["%load_ext ad_magic", "%%grad x=1.5\na = x**2\nb = a + 1\ny = sin(b)"]
NODES = [f"n{i}" for i in range(6)]
# The widget manager nbconvert's page loads from a CDN, from the npm registry instead.
NPM = {"@jupyter-widgets/html-manager@1": "dist/embed-amd.js", "requirejs@2": "require.js"}
NPM_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ad_magic-tests"


def run(*args: str | Path, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}  # the kernel imports this checkout
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chapter.ipynb converted: default.html (`--execute`), nostate.html, local.html."""
    folder = tmp_path_factory.mktemp("nbconvert")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nbformat.write(nb, folder / "chapter.ipynb")
    nbconvert = [BIN / "jupyter", "nbconvert"]
    run(
        *nbconvert, "--to", "html", "--execute", "chapter.ipynb", "--output", "default", cwd=folder
    )
    run(
        *nbconvert, "--to", "notebook", "--execute", "chapter.ipynb", "--output", "run", cwd=folder
    )
    executed = nbformat.read(folder / "run.ipynb", as_version=4)
    assert "widgets" in executed.metadata  # nbclient saved the widget state
    del executed.metadata["widgets"]
    nbformat.write(executed, folder / "nostate.ipynb")
    run(*nbconvert, "--to", "html", "nostate.ipynb", cwd=folder)
    for name, path in NPM.items():
        shutil.copy(npm_file(name, path), folder / Path(path).name)
    anywidget = Path(__import__("anywidget").__file__).parent / "nbextension" / "index.js"
    shutil.copy(anywidget, folder / "anywidget.js")  # the Python package's own, same version
    run(*nbconvert, "--to", "html", "run.ipynb", "--output", "local",
        "--HTMLExporter.require_js_url=require.js",
        "--HTMLExporter.widget_renderer_url=embed-amd.js", cwd=folder)  # fmt: skip
    return folder


def npm_file(name: str, path: str) -> Path:
    """A file of an npm package, fetched once with `npm pack` into a cache folder."""
    folder = NPM_CACHE / name.replace("/", "+")
    if not (folder / "package" / path).exists():
        folder.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        assert npm, "npm is missing: apt-get install npm (.ci/run does it)"
        out = subprocess.run(
            [npm, "pack", name, "--json"], cwd=folder, capture_output=True, text=True, check=True
        )
        with tarfile.open(folder / json.loads(out.stdout)[0]["filename"]) as tar:
            tar.extractall(folder, filter="data")
    return folder / "package" / path


@pytest.fixture(params=["light", "dark"])
def offline(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page that can open file:// and nothing else; fails on any script error."""
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, color_scheme=request.param
    )
    context.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    scheme = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    page.screenshot(path=str(ARTIFACTS / f"export_{name}_{'dark' if scheme else 'light'}.png"),
                    full_page=True)  # fmt: skip


def assert_static(page: Page) -> None:
    static = page.locator(".ad-magic-static")
    expect(static).to_be_visible()
    assert sorted(static.locator("svg g.node > title").all_text_contents()) == NODES
    expect(static.locator("svg g.node").first).to_be_visible()
    rows = static.locator("table.ad-table tr")
    expect(rows).to_have_count(7)  # a head and six nodes
    expect(rows.nth(1)).to_contain_text("-2.982")  # x's gradient


def node(page: Page, node_id: str):
    return page.locator(".ad-magic svg g.node").filter(
        has=page.locator(f"title >> text={node_id}")
    )


def assert_steps_toggles_selects(page: Page) -> None:
    """The widget, with no kernel behind it: stepping, modes, selection."""
    widget = page.locator(".ad-magic")
    expect(widget.locator("svg g.node")).to_have_count(6)
    page.get_by_role("button", name="First step").click()
    expect(widget.locator("g.node.ad-current > title")).to_have_text("n5")  # grad(y) = 1
    page.get_by_role("button", name="Next step").click()
    expect(widget.locator("g.node.ad-current > title")).to_have_text("n4")  # grad(b)
    expect(widget.locator(".ad-narration")).to_contain_text("grad(b) += cos(b) * grad(y)")
    page.get_by_role("button", name="Next step").click()
    expect(widget.locator("g.node.ad-current > title")).to_have_text("n2")
    page.get_by_role("button", name="Previous step").click()
    expect(widget.locator("g.node.ad-current > title")).to_have_text("n4")
    page.get_by_role("button", name="Forward").click()
    expect(widget.locator("svg.ad-forward")).to_have_count(1)
    page.get_by_role("button", name="Last step").click()
    expect(widget.locator(".ad-narration")).to_contain_text("tangent(y) =")
    expect(widget.locator(".ad-narration")).to_contain_text("= -2.982")
    page.get_by_role("button", name="Reverse").click()
    expect(widget.locator("svg.ad-reverse")).to_have_count(1)
    node(page, "n2").click()
    expect(widget.locator("g.node.ad-selected > title")).to_have_text("n2")
    expect(widget.locator("tr.ad-selected")).to_contain_text("pow")
    expect(widget.locator("mark.ad-span")).to_have_text("x**2")


def test_nbconvert_default_execute_path_shows_the_graph_offline(exported: Path, offline: Page):
    offline.goto((exported / "default.html").as_uri(), wait_until="load")
    assert offline.locator('script[type="application/vnd.jupyter.widget-state+json"]').count() == 1
    assert_static(offline)
    expect(offline.locator(".ad-magic")).to_have_count(0)  # no widget manager reachable
    shot(offline, "nbconvert_default")


def test_nbconvert_without_widget_state_shows_the_graph_offline(exported: Path, offline: Page):
    offline.goto((exported / "nostate.html").as_uri(), wait_until="load")
    assert offline.locator('script[type="application/vnd.jupyter.widget-state+json"]').count() == 0
    assert_static(offline)
    expect(offline.get_by_text("<GradResult y=-0.1082; grads: x=-2.982; 6 nodes>")).to_be_visible()
    shot(offline, "nbconvert_nostate")


def test_nbconvert_page_with_widget_manager_steps_from_saved_state(exported: Path, offline: Page):
    offline.goto((exported / "local.html").as_uri(), wait_until="load")
    expect(offline.locator(".ad-magic")).to_be_visible()
    expect(offline.locator(".ad-magic-static")).to_be_hidden()  # the widget hid its copy
    assert_steps_toggles_selects(offline)
    shot(offline, "nbconvert_widget")


@pytest.mark.parametrize("width", [600, 1100])
def test_standalone_page_steps_toggles_and_selects(shell, tmp_path, offline: Page, width):
    shell.run_cell("%%grad x=1.5\na = x**2\nb = a + 1\ny = sin(b)")
    path = shell.user_ns["_grad"].save(tmp_path / "trace.html")
    offline.set_viewport_size({"width": width, "height": 900})
    offline.goto(path.as_uri(), wait_until="load")
    expect(offline.locator(".ad-magic")).to_be_visible()
    expect(offline.locator("#ad-static")).to_have_count(0)  # replaced by the widget
    assert_steps_toggles_selects(offline)
    shot(offline, f"page_{width}")


def test_animated_svg_plays_inside_img(shell, tmp_path, offline: Page):
    shell.run_cell("%%grad x=1.5\na = x**2\nb = a + 1\ny = sin(b)")
    shell.user_ns["_grad"].save(tmp_path / "backward.svg", animate=True)
    (tmp_path / "img.html").write_text(
        '<!doctype html><body style="margin:0"><img src="backward.svg" width="900"></body>'
    )
    offline.goto((tmp_path / "img.html").as_uri(), wait_until="load")
    img = offline.locator("img")
    expect(img).to_be_visible()
    assert offline.evaluate("document.querySelector('img').naturalWidth") > 300
    # Frames of 1.2 s: two stills 1.2 s apart differ (the highlight moved).
    offline.wait_for_timeout(1800)
    first = img.screenshot()
    offline.wait_for_timeout(1200)
    second = img.screenshot()
    assert first != second
    shot(offline, "animated_svg")
