"""A Jupyter Book 2 (MyST) build of a demo notebook carries each %%grad graph.

The demo notebook is executed with nbclient, then `jupyter-book build --site`
(mystmd, from PyPI's `jupyter-book`, on the machine's Node.js) turns it into the
site content the book theme renders. Offline, the build stops where it fetches
the theme itself: the test checks that this is the only thing it could not
get, and that the content holds, for every %%grad cell, an output whose HTML
is the graph's SVG (the static copy; the widget view beside it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat

DEMO = Path(__file__).resolve().parent.parent / "demo_notebooks" / "01_the_chapter.ipynb"
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
THEME = "https://api.mystmd.org/templates/site/myst/book-theme"  # what an offline build lacks
MYST_YML = """version: 1
project:
  title: ad_magic demo
  toc:
    - file: chapter.ipynb
site:
  template: book-theme
"""


def outputs(tree: object) -> list[dict]:
    """The Jupyter outputs in a MyST page's tree, in page order."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if node.get("type") == "output":
                found.append(node["jupyter_data"])
            todo.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            todo.extend(reversed(node))
    return found


def test_a_book_of_the_chapter_demo_shows_every_grad_graph(tmp_path):
    nb = nbformat.read(DEMO, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(DEMO.parent)}}
    ).execute()
    grad_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%grad")]
    assert len(grad_cells) == 2
    nbformat.write(nb, tmp_path / "chapter.ipynb")
    (tmp_path / "myst.yml").write_text(MYST_YML)

    build = subprocess.run(
        [str(JUPYTER_BOOK), "build", "--site", "--ci"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = build.stdout + build.stderr
    if build.returncode != 0:  # offline: the theme is the one thing it could not fetch
        assert f"request to {THEME} failed" in log, log[-3000:]
    (page,) = (tmp_path / "_build" / "site" / "content").glob("*.json")
    shown = outputs(json.loads(page.read_text(encoding="utf-8")))
    graphs = [o["data"]["text/html"]["content"] for o in shown if "text/html" in o.get("data", {})]
    assert len(graphs) == len(grad_cells)
    for graph in graphs:
        assert "<svg" in graph and "<title>n0</title>" in graph and 'class="node' in graph
        assert 'class="ad-magic-static"' in graph and "<table" in graph
    widgets = [o for o in shown if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == len(grad_cells)
