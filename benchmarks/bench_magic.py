"""What %%grad costs: tracing a cell in both modes against running it plainly.

For the chapter's example and for a cell that makes about 5,000 nodes, in one
IPython shell: the plain cell on floats (math functions), the bare engine
(Value operations, nothing recorded), the reverse trace alone (recording
names, positions and calls, building the records, backward), and the whole
magic (reverse, one forward pass per input, both steps lists; no display).
Then the whole `%%grad` on micrograd's demo training step, about 33,000
nodes (micrograd's nn.py MLP(2, [16, 16, 1]) on ad_magic's Value, made
before the cell; 50 points, 4 of them inputs: 8 seeds for forward mode),
against the same step run plainly on Values, in CPU time: without display,
and with the first view a kernel shows (the widget and its static copy).
Last, the same step with nn.py's source in the cell, so the nodes made in its
functions carry their place in that code and its long lines open to terms:
the whole %%grad and the grouped view (`View`) against the imported model's.
Needs the bench extra.

    python benchmarks/bench_magic.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

from ad_magic import Value, sin, tanh
from ad_magic.engine import value
from ad_magic.render.groups import View
from ad_magic.trace.cellcode import BIND, compile_cell
from ad_magic.trace.recorder import Recorder
from ad_magic.trace.tracer import Input, Tracer
from ad_magic.widget.display import static_html
from ad_magic.widget.widget import GradWidget

CHAPTER = "chapter: y = sin(x**2 + 1)"
BIG = "~5,000 nodes: 1,000 x tanh(h*0.9 + 0.1)"
CELLS = {
    CHAPTER: (1.5, "y = sin(x**2 + 1)\n"),
    BIG: (0.3, "h = x\nfor i in range(1000):\n    h = tanh(h * 0.9 + 0.1)\n"),
}


def median_time(
    f: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """The median time of f by clock (wall time; time.process_time: CPU time)."""
    times = []
    for _ in range(repeat):
        start = clock()
        f()
        times.append(clock() - start)
    return statistics.median(times)


def measure(ip: InteractiveShell, x: float, cell: str, repeat: int) -> dict[str, float]:
    code = compile_cell(ip, cell)

    def plain() -> None:
        ip.run_cell(f"from math import sin, tanh\nx = {x}\n{cell}", silent=True)

    def engine() -> None:
        exec(
            code.body,
            {"sin": sin, "tanh": tanh, "x": Value(x), BIND: lambda n, o, loop=False: o},
        )

    def recorded() -> None:
        recorder = Recorder(code.codes)
        value.on_create = recorder
        try:
            engine()
        finally:
            value.on_create = None
            recorder.release()

    def reverse_trace() -> object:
        return Tracer(code, [Input("x", x)], dict(ip.user_ns)).trace(seeds=[], max_forward=0)

    def whole() -> None:
        result = ip.run_cell_magic("grad", f"x={x}", cell)
        result.steps("reverse")
        result.steps("forward")

    times = {"plain": median_time(plain, repeat)}
    ip.run_cell("del sin, tanh", silent=True)  # so that %%grad supplies its own
    for name, f in (("engine", engine), ("recorded", recorded), ("trace", reverse_trace),
                    ("magic", whole)):  # fmt: skip
        times[name] = median_time(f, repeat)
    times["nodes"] = len(reverse_trace().graph)  # type: ignore[attr-defined]
    return times


# The whole %%grad on this step as measured before (seconds, on the loaded 2-core machine):
# forward mode and --check over the recorded program, and the cell rerun on Duals per seed.
OLD_TRACE, OLD_RERUN = 6.7, 9.8
MLP_SETUP = """
import random
from micrograd import nn
nn.Value = Value  # micrograd's own nn.py on ad_magic's Value, as in bench_engine.py
random.seed(1)
model = nn.MLP(2, [16, 16, 1])
X = [[random.uniform(-1, 2), random.uniform(-1, 1)] for _ in range(50)]
ys = [1.0 if x0 + x1 > 0.5 else -1.0 for x0, x1 in X]
"""
MLP_STEP = """points = [list(row) for row in xs] + X[4:]
scores = list(map(model, points))
losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
data_loss = sum(losses) * (1.0 / len(losses))
reg_loss = 1e-4 * sum(p * p for p in model.parameters())
loss = data_loss + reg_loss
"""


def cpu_median(f: Callable[[], object], repeat: int) -> float:
    """The median CPU time of f: what the kernel spends, whatever else the machine runs."""
    return median_time(f, repeat, time.process_time)


class Collector:
    """A gc callback: the CPU time the garbage collector takes, and its full passes."""

    def __init__(self) -> None:
        self.time = 0.0
        self.full = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
            return
        self.time += time.process_time() - self._start
        self.full += info["generation"] == 2


def first_view(result: Any) -> None:
    """What a kernel shows for a result (display.mimebundle): the widget and its static
    copy from the same layout; closed again, as a re-run of the cell closes it."""
    widget = GradWidget(result)
    static_html(result, widget.svg, "bench")
    widget._repr_mimebundle_()
    widget.close()
    result.widget = None


def measure_mlp(ip: InteractiveShell, repeat: int) -> dict[str, float]:
    """The whole %%grad (8 seeds) on the MLP step, against the step on Values; CPU time."""
    ip.run_cell("from ad_magic import Value", silent=True)
    ip.run_cell(MLP_SETUP, silent=True)
    ip.run_cell("import numpy as np\nX4 = np.array(X[:4])", silent=True)

    def plain() -> None:
        ip.run_cell("xs = [list(map(Value, row)) for row in X[:4]]\n" + MLP_STEP, silent=True)

    def whole() -> None:
        ip.run_cell_magic("grad", "xs=X4", MLP_STEP)

    def shown() -> None:
        ip.run_cell_magic("grad", "xs=X4", MLP_STEP)
        first_view(ip.user_ns["_grad"])

    collector = Collector()
    times = {"plain": cpu_median(plain, repeat)}
    gc.callbacks.append(collector)
    try:
        times["magic"] = cpu_median(whole, repeat)
    finally:
        gc.callbacks.remove(collector)
    times["gc"] = collector.time / repeat
    times["full"] = collector.full / repeat
    times["shown"] = cpu_median(shown, repeat)
    result = ip.user_ns["_grad"]
    times["nodes"] = len(result.graph)
    times["seeds"] = len(result.seeds)
    return times


def measure_in_cell(ip: InteractiveShell, repeat: int) -> dict[str, float]:
    """The MLP step (model made before the cell) against the same with nn.py's source in
    the cell: the whole %%grad and the View of its graph, CPU time."""
    from micrograd import nn  # the bench extra

    source = inspect.getsource(nn).replace("from micrograd.engine import Value\n", "")
    in_cell = f"{source}\nrandom.seed(1)\nmodel = MLP(2, [16, 16, 1])\n{MLP_STEP}"
    times: dict[str, float] = {}
    for name, cell in (("imported", MLP_STEP), ("in_cell", in_cell)):
        times[name] = cpu_median(lambda c=cell: ip.run_cell_magic("grad", "xs=X4", c), repeat)
        graph = ip.user_ns["_grad"].graph
        times[f"{name}_view"] = cpu_median(lambda g=graph: View(g), repeat)
        times[f"{name}_groups"] = len(View(graph).groups)
    ip.run_cell(MLP_SETUP, silent=True)  # the model made before the cell again
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "ad_magic")
    print(f"{'cell':<40} {'nodes':>5} {'plain':>8} {'engine':>8} {'trace':>8} {'%%grad':>8}"
          f" {'%%grad/plain':>12}")  # fmt: skip
    results = {}
    for label, (x, cell) in CELLS.items():
        t = results[label] = measure(ip, x, cell, args.repeat)
        ms = {k: f"{v * 1e3:6.2f}ms" for k, v in t.items()}
        print(f"{label:<40} {int(t['nodes']):>5} {ms['plain']} {ms['engine']} {ms['trace']} "
              f"{ms['magic']} {t['magic'] / t['plain']:>11.1f}x")  # fmt: skip
    big = results[BIG]
    per = {k: big[k] / big["nodes"] * 1e6 for k in ("engine", "recorded", "trace")}
    print(f"\nper node of the {int(big['nodes'])}-node cell:")
    print(f"  bare Value operation, nothing recorded      {per['engine']:6.2f} us")
    print(
        f"  run while recording positions, names, calls {per['recorded']:6.2f} us  "
        f"{per['recorded'] / per['engine']:5.2f}x the bare operation (target <= 3x)"
    )
    print(f"  whole reverse trace (+ records, backward)   {per['trace']:6.2f} us  "
          f"{per['trace'] / per['engine']:5.2f}x")  # fmt: skip
    mlp = measure_mlp(ip, args.repeat)
    plain, magic, shown = mlp["plain"], mlp["magic"], mlp["shown"]
    load = os.getloadavg()[0]
    print(f"\nmicrograd step, {int(mlp['nodes'])} nodes, {int(mlp['seeds'])} seeds "
          f"(CPU time, median of {args.repeat}; load average {load:.1f}):")  # fmt: skip
    print(f"  the step on Values                    {plain:6.3f} s")
    print(f"  whole %%grad, no display              {magic:6.3f} s  {magic / plain:5.1f}x the step"
          f" (target < 0.6 s; measured before: {OLD_TRACE} s, {OLD_TRACE / magic:.0f}x this;"
          f" {OLD_RERUN} s rerunning the cell on Duals, {OLD_RERUN / magic:.0f}x)")  # fmt: skip
    print(f"    of which the garbage collector       {mlp['gc']:6.3f} s  (on average per run,"
          f" {mlp['full']:.1f} full passes)")  # fmt: skip
    print(f"  with the first view (widget, static)  {shown:6.3f} s  {shown / plain:5.1f}x the step"
          f" (the view alone {shown - magic:.3f} s)")  # fmt: skip
    t = measure_in_cell(ip, args.repeat)
    print("\nthe step with nn.py's source in the cell (its lines and terms grouped), CPU time:")
    for name, label in (("imported", "nn imported"), ("in_cell", "nn in the cell")):
        print(f"  {label:<15} whole %%grad {t[name]:6.3f} s  View {t[name + '_view']:6.3f} s"
              f"  ({int(t[name + '_groups'])} groups)")  # fmt: skip
    print(f"  in the cell / imported: %%grad {t['in_cell'] / t['imported']:4.2f}x, "
          f"View {t['in_cell_view'] / t['imported_view']:4.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
