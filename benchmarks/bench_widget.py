"""Widget benchmark, the kernel's side: what opening a group and moving a slider cost.

On the graphs of tests/graphs.py traced by %%grad in a real IPython shell (the
1,500-node chain and the ~33,000-node MLP training step), the best of a few
repeats of each action as the browser asks for it (the widget's own message
handler), and the bytes of widget state it sends back:

- first view: `GradWidget(result)`, the layout of about 30 boxes included;
- opening a group and closing it again (the first group of the first view), laid
  out for the room the widget has in JupyterLab at 1280 px (832 x 688 px), as the
  browser tells it;
- a slider move on the chain: the cell run once more, then the update;
  the reference is the re-run alone (`tracer.retrace`), so the ratio says
  what the widget adds to it.

    python benchmarks/bench_widget.py [--repeat 5]

The browser's side (the message to the drawn boxes) is measured by
tests/browser/test_widget_navigation.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from graphs import CHAIN, MLP, TRAIN_STEP
from IPython.testing.globalipapp import start_ipython

from ad_magic.widget.widget import GradWidget

ROOM = (832.0, 688.0)  # the graph's width and height in JupyterLab at 1280 px, in px


def traced(ip: Any, cell: str) -> Any:
    line, body = cell.split("\n", 1)
    ip.run_cell_magic("grad", line.removeprefix("%%grad "), body)
    return ip.user_ns["_grad"]


def wire(w: GradWidget) -> list[int]:
    """Spy on the widget's comm: the byte size of each message it sends from now on."""
    sizes: list[int] = []
    w.comm.send = lambda data=None, metadata=None, buffers=None: sizes.append(  # type: ignore[method-assign]
        len(json.dumps(data, separators=(",", ":")))
    )
    return sizes


def timed(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ip = start_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "ad_magic")
    with open(os.devnull, "w") as quiet:
        sys.stdout, out = quiet, sys.stdout
        try:
            ip.run_cell(MLP)
            mlp = traced(ip, TRAIN_STEP)
            chain = traced(ip, CHAIN)
        finally:
            sys.stdout = out
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; the best of {args.repeat}")
    print(f"{'action':<34} {'nodes':>6} {'ms':>7} {'sent':>9} {'vs':>22}")

    def row(what: str, nodes: int, ms: float, sent: int, ref: str = "") -> None:
        print(f"{what:<34} {nodes:>6} {ms * 1e3:>7.1f} {sent:>8,}B {ref:>22}")

    first = timed(lambda: GradWidget(mlp).close(), args.repeat)
    w = GradWidget(mlp)
    w.set_width(*ROOM)  # as the browser tells it: the room of JupyterLab at 1280 px
    group = next(
        u for u in w.view.units() if u in w.view.groups and "MLP" in u + w.view.groups[u].title
    )
    sizes = wire(w)
    row("MLP step: first view", len(mlp.graph), first, 0)
    opened, closed = [], []
    for _ in range(args.repeat):
        sizes.clear()
        start = time.perf_counter()
        w._on_msg(w, {"type": "toggle", "group": group}, [])
        opened.append(time.perf_counter() - start)
        sent_open = sum(sizes)
        start = time.perf_counter()
        w._on_msg(w, {"type": "toggle", "group": group}, [])
        closed.append(time.perf_counter() - start)
    row("MLP step: open a group", len(mlp.graph), min(opened), sent_open)
    row(
        "MLP step: close it again",
        len(mlp.graph),
        min(closed),
        sum(sizes) - sent_open,
    )
    w.close()

    c = GradWidget(chain)
    sizes = wire(c)
    values = iter([0.5 + 0.01 * k for k in range(1, 2 * args.repeat + 2)])
    rerun = timed(lambda: chain.tracer.retrace({"x": next(values)}), args.repeat)
    sizes.clear()
    move = timed(
        lambda: c._on_msg(c, {"type": "input", "name": "x", "value": next(values)}, []),
        args.repeat,
    )
    sent = sum(sizes) // args.repeat
    row(
        "chain: slider move", len(chain.graph), move, sent, f"{move / rerun:.2f}x the re-run alone"
    )
    row("chain: the re-run alone", len(chain.graph), rerun, 0)
    c.close()


if __name__ == "__main__":
    main()
