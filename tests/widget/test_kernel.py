"""%%grad in a real kernel (nbclient): one run per action, bounded memory and widgets.

The kernel runs this interpreter with this checkout first on its path. Cells
are executed one by one, as a student runs them; the widget's live input is
driven through its Python model (`_grad.widget.set_input`), which is what the
browser's slider message calls.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIG = (
    "%%grad x=0.5\nh = x\nfor i in range(200):\n    h = tanh(h * 0.9 + 0.1)\ny = h"  # 1,001 nodes
)


class Kernel:
    """A notebook kernel that runs cells one at a time and returns what they print."""

    def __init__(self, client: nbclient.NotebookClient) -> None:
        self.client = client
        self.count = 0

    def run(self, source: str) -> str:
        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.client.nb.cells) - 1)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, "\n".join(errors[0].traceback)
        return "".join(o.text for o in cell.outputs if o.get("name") == "stdout")

    def value(self, expression: str) -> object:
        return json.loads(self.run(f"import json\nprint(json.dumps({expression}))"))


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    env = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env]))
    try:
        client = nbclient.NotebookClient(nbformat.v4.new_notebook(), timeout=120,
                                         kernel_name="python3")  # fmt: skip
        with client.setup_kernel():
            k = Kernel(client)
            k.run("%load_ext ad_magic\nimport ad_magic, ipywidgets, os, psutil")
            assert k.value("ad_magic.__file__") == str(ROOT / "ad_magic" / "__init__.py")
            yield k
    finally:
        if env is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env


def test_one_execution_per_run_and_per_slider_move(kernel):
    kernel.run("data = [1., 2., 3., 4., 5., 6., 7., 8.]")
    cell = "%%grad x=1.0 w=2.0 --check\nd = data.pop()\ny = x*w*d"
    kernel.run(cell)
    assert kernel.value("len(data)") == 7
    kernel.run("_grad.widget.set_input('x', 3.0)")
    assert kernel.value("len(data)") == 6  # the move ran the cell once
    assert kernel.value("[d, _grad.grads['x'], _grad.grads['w'], y.data]") == [
        7.0, 14.0, 21.0, 42.0]  # fmt: skip
    assert kernel.value("_grad.check_table.ok()") is True  # --check carried over


LIVE = """[len(ipywidgets.Widget.widgets),
 sum(isinstance(o, (GradResult, GradWidget)) for o in gc.get_objects()),
 proc.memory_info().rss]"""


def test_reruns_free_old_results_and_close_old_widgets(kernel):
    kernel.run("proc = psutil.Process(os.getpid())\nimport gc")
    kernel.run("from ad_magic.trace.result import GradResult")
    kernel.run("from ad_magic.widget.widget import GradWidget")
    seen = []
    for k in range(40):
        kernel.run(BIG)
        if k in (9, 39):
            kernel.run("gc.collect()")
            seen.append(kernel.value(LIVE))
    (widgets, alive, before), (widgets_after, alive_after, after) = seen
    assert kernel.value("len(_grad.nodes)") == 1001
    assert widgets_after == widgets  # the cell's one live widget (and its layout), not 40
    assert alive_after == alive  # results and widgets of earlier runs were freed
    grown = (after - before) / 2**20
    assert grown < 15, f"30 more runs grew the kernel by {grown:.1f} MB"  # 1.3 MB a run leaked
