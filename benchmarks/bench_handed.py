"""What seeing unnamed arrays costs: a %%grad cell's calls handed on through `seen`.

A `%%grad` cell passes the result of each call it hands on unnamed (an
argument, an operand, a method's object) through `engine.tensor.seen`, which
makes an object array a Tensor. This measures, against the same cell compiled
as IPython compiles it (no trace in either, so only the added calls differ):

- a loop on floats with three handed-on calls per round (the worst case: a
  cell that is all small calls);
- numpy on a float array of a million elements (the calls are a few, the
  arrays stay plain numpy and the results are the same);
- and, traced, `%%grad` of `np.sum(np.tanh(np.array(xs) @ W))` written with
  the array unnamed, against the same cell with it named (both record the
  numpy calls as tensors).

    python benchmarks/bench_handed.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from IPython.core.interactiveshell import InteractiveShell

from ad_magic.engine import tensor
from ad_magic.trace.cellcode import BIND, SEEN, compile_cell

FLOATS = "s = 0.0\nfor i in range(20000):\n    s = s + math.sin(float(i)) * abs(-0.5)\n"
ARRAYS = "s = float(np.sum(np.tanh(np.linspace(0.0, 1.0, 1_000_000) * 2.0) ** 2))\n"
UNNAMED = "y = np.sum(np.tanh(np.array([v * 2 for v in xs]) @ W))"
NAMED = "h = np.array([v * 2 for v in xs])\nz = h @ W\nt = np.tanh(z)\ny = np.sum(t)"


def best_time(f: Callable[[], object], repeat: int) -> float:
    """The shortest of repeat runs (the machine is shared: the least disturbed run)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_and_handed(ip: InteractiveShell, cell: str, repeat: int) -> tuple[float, float, Any]:
    """The cell compiled by IPython and by %%grad's compiler, run on floats: times, and
    the value of s from each (they must be equal)."""
    plain = ip.compile(ip.transform_cell(cell), "<plain>", "exec")
    handed = compile_cell(ip, cell).body
    ns_plain: dict[str, Any] = {"np": np, "math": __import__("math")}
    ns_handed = {**ns_plain, SEEN: tensor.seen, BIND: lambda name, obj, loop=False: obj}
    t_plain = best_time(lambda: exec(plain, ns_plain), repeat)
    t_handed = best_time(lambda: exec(handed, ns_handed), repeat)
    assert ns_plain["s"] == ns_handed["s"], (ns_plain["s"], ns_handed["s"])
    return t_plain, t_handed, ns_handed["s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "ad_magic")
    print(f"{'cell (no trace)':<36} {'IPython':>9} {'%%grad code':>12} {'ratio':>6}")
    for label, cell, calls in [
        ("floats: 60,000 calls handed on", FLOATS, 100000),
        ("numpy on a float array of 10^6", ARRAYS, 0),
    ]:
        plain, handed, _ = plain_and_handed(ip, cell, args.repeat)
        each = f"  {(handed - plain) / calls * 1e9:.0f} ns an added call" if calls else ""
        print(f"{label:<36} {plain * 1e3:7.2f}ms {handed * 1e3:10.2f}ms {handed / plain:6.2f}"
              f"{each}")  # fmt: skip
    print("(the added calls: the 60,000 handed on, and the loop's 40,000 bindings reported)")
    ip.run_cell("import numpy as np\nW = np.linspace(-1, 1, 256).reshape(16, 16)", silent=True)
    line = "xs=np.linspace(-1,1,16)"
    times = {}
    for label, cell in (("unnamed", UNNAMED), ("named", NAMED)):
        times[label] = best_time(lambda c=cell: ip.run_cell_magic("grad", line, c), args.repeat)
        result = ip.user_ns["_grad"]
        calls = [op.label for op in result.graph.arrays if op.shapes]
        print(f"\n%%grad, array {label}: {times[label] * 1e3:7.1f} ms, {len(result.graph)} nodes, "
              f"calls {calls}")  # fmt: skip
    print(f"unnamed / named: {times['unnamed'] / times['named']:.2f}")


if __name__ == "__main__":
    main()
