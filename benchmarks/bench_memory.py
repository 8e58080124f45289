"""What re-running a %%grad cell costs in memory: a real kernel, one cell run many times.

Runs a cell that makes 1,001 nodes RUNS times in a fresh kernel (nbclient,
this interpreter, this checkout first on the path), as a student re-running
it would, and prints the kernel's resident memory and the number of open
ipywidgets after the first 10 runs and after all of them.

    python benchmarks/bench_memory.py [--runs 300]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
CELL = "%%grad x=0.5\nh = x\nfor i in range(200):\n    h = tanh(h * 0.9 + 0.1)\ny = h"
PROBE = (
    "import gc, json\ngc.collect()\n"
    "print(json.dumps([proc.memory_info().rss, len(ipywidgets.Widget.widgets)]))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    client = nbclient.NotebookClient(
        nbformat.v4.new_notebook(), timeout=300, kernel_name="python3"
    )

    def run(source: str) -> str:
        cell = nbformat.v4.new_code_cell(source)
        client.nb.cells.append(cell)
        client.execute_cell(cell, len(client.nb.cells) - 1)
        return "".join(o.text for o in cell.outputs if o.get("name") == "stdout")

    with client.setup_kernel():
        run(
            "%load_ext ad_magic\nimport ipywidgets, os, psutil\nproc = psutil.Process(os.getpid())"
        )
        start = time.perf_counter()
        seen = {}
        for k in range(1, args.runs + 1):
            run(CELL)
            if k in (10, args.runs):
                seen[k] = json.loads(run(PROBE))
        seconds = time.perf_counter() - start
    (rss10, widgets10), (rss, widgets) = seen[10], seen[args.runs]
    print(f"{args.runs} runs of a 1,001-node %%grad cell in one kernel ({seconds:.0f} s):")
    print(f"  after 10 runs: {rss10 / 2**20:7.1f} MB, {widgets10} open widgets")
    print(f"  after {args.runs} runs: {rss / 2**20:6.1f} MB, {widgets} open widgets")
    print(f"  growth after the first 10 runs: {(rss - rss10) / 2**20:.1f} MB (target < 20 MB)")


if __name__ == "__main__":
    main()
