"""Rendering benchmark: DOT + layout time per graph size, both layout backends, cold and warm.

Graphs are micrograd demo steps (micrograd's nn.py on ad_magic.Value, hinge
loss, L2 regularisation, backward) of growing size, from about 10 nodes up to
MLP(2, [16, 16, 1]) on 50 points, about 30,000 nodes. Each node is labelled
with the user-function calls that made it (MLP.__call__#k, Layer.__call__#k,
Neuron.__call__#k) and, outside calls, its source line, as %%grad's tracer
does. Graphs past the budget (150 boxes) are drawn grouped.

- cold: a fresh Python process, first graph drawn (imports not counted); for
  the WebAssembly backend with its compiled module in the disk cache (a new
  kernel) and, once, with an empty cache (the first graph on a machine).
- warm: the median of 5 repeats in one process.

    python benchmarks/bench_render.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench_engine import nn_for  # micrograd's own nn.py on a given Value class

from ad_magic.engine import value
from ad_magic.engine.value import Value, topological
from ad_magic.render.dot import build, seeds
from ad_magic.render.draw import config, with_modes
from ad_magic.render.groups import View
from ad_magic.render.layout import layout
from ad_magic.trace.graph import Graph

# name -> (hidden layer sizes, points); None for the small expression
SIZES: dict[str, tuple[list[int], int] | None] = {
    "expression": None,
    "mlp-100": ([3, 1], 2),
    "mlp-300": ([4, 4, 1], 3),
    "mlp-1000": ([8, 8, 1], 4),
    "mlp-30k": ([16, 16, 1], 50),
}


@contextlib.contextmanager
def labelled(classes: list[type], here: str) -> Iterator[dict[int, tuple[tuple[str, ...], int]]]:
    """While active, every new Value is noted as id -> (calls it was made in, line in `here`).

    Wraps the classes' __call__ to keep a stack of calls named like the tracer's
    ("Neuron.__call__#5") and hooks value._node, which every operation goes through.
    """
    made: dict[int, tuple[tuple[str, ...], int]] = {}
    stack: list[str] = []
    count = [0]
    originals = {cls: cls.__call__ for cls in classes}
    make = value._node

    def wrap(cls: type, call: Callable[..., Any]) -> Callable[..., Any]:
        def called(self: Any, *args: Any) -> Any:
            stack.append(f"{cls.__qualname__}.__call__#{count[0]}")
            count[0] += 1
            try:
                return call(self, *args)
            finally:
                stack.pop()

        return called

    def node(*args: Any) -> Value:
        v = make(*args)
        line = 0
        if not stack:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename != here:
                frame = frame.f_back
            line = frame.f_lineno if frame is not None else 0
        made[id(v)] = (tuple(stack), line)
        return v

    for cls, call in originals.items():
        cls.__call__ = wrap(cls, call)  # type: ignore[method-assign]
    value._node = node  # type: ignore[assignment]
    try:
        yield made
    finally:
        value._node = make
        for cls, call in originals.items():
            cls.__call__ = call  # type: ignore[method-assign]


def with_calls(root: Value, made: dict[int, tuple[tuple[str, ...], int]]) -> Graph:
    """Graph.from_value(root) with the calls and lines noted while it was built."""
    graph = Graph.from_value(root)
    for node, v in zip(graph.nodes, topological(root)[::-1], strict=True):
        calls, line = made.get(id(v), ((), 0))
        node.calls = calls
        node.line = line or None
    return graph


def demo_step(sizes: list[int], points: int, seed: int = 1) -> Graph:
    """micrograd's demo training step as a labelled graph."""
    nn = nn_for(Value)
    random.seed(seed)
    model = nn.MLP(2, sizes)
    xs = [[random.uniform(-1, 1), random.uniform(-1, 1)] for _ in range(points)]
    ys = [random.choice([-1.0, 1.0]) for _ in range(points)]
    with labelled([nn.MLP, nn.Layer, nn.Neuron], __file__) as made:
        inputs = [[Value(a), Value(b)] for a, b in xs]
        scores = [model(x) for x in inputs]
        losses = [(1 + -y * s).relu() for y, s in zip(ys, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
    total.backward()
    return with_calls(total, made)


def expression() -> Graph:
    """A small cell: y = tanh(w*x + b) * x, about 10 nodes."""
    with labelled([], __file__) as made:
        x, w, b = Value(1.5, "x"), Value(-0.5, "w"), Value(0.25, "b")
        h = (w * x + b).tanh()
        y = h * x + h**2
    y.backward()
    return with_calls(y, made)


def graph_named(name: str) -> Graph:
    spec = SIZES[name]
    return expression() if spec is None else demo_step(*spec)


def draw_time(graph: Graph) -> tuple[float, float, int]:
    """Seconds to build the DOT (grouping included), seconds to lay it out, boxes drawn."""
    start = time.perf_counter()
    source, boxes = build(graph, View(graph, config.budget), layout_text=True)
    built = time.perf_counter()
    svg = layout(source, backend=config.backend, timeout=config.timeout).decode()
    with_modes(svg, boxes, seeds(graph), "reverse", 0)
    return built - start, time.perf_counter() - built, len(boxes)


def one(name: str, backend: str, budget: int) -> dict[str, float]:
    """In this (fresh) process: the first draw, then warm repeats."""
    config.backend, config.budget, config.timeout = backend, budget, 120.0
    graph = graph_named(name)
    dot_s, cold, boxes = draw_time(graph)
    warm = [draw_time(graph)[1] for _ in range(5)]
    return {
        "nodes": len(graph),
        "boxes": boxes,
        "dot": dot_s,
        "cold": cold,
        "warm": statistics.median(warm),
    }


def fresh(name: str, backend: str, budget: int, cache: str | None = None) -> dict[str, float]:
    env = dict(os.environ)
    if cache is not None:
        env["XDG_CACHE_HOME"] = cache
    cmd = [sys.executable, __file__, "--one", name, backend, str(budget)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="skip the ungrouped rows")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]))))
        return

    backends = ["wasm"] + (["dot"] if shutil.which("dot") else [])
    rows = [(name, 150) for name in SIZES]
    if not args.quick:
        rows += [("mlp-300", 10**9), ("mlp-1000", 10**9)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; times in ms")
    header = f"{'graph':<10} {'nodes':>6} {'boxes':>6} {'DOT':>6}"
    for b in backends:
        header += f" {b + ' cold':>10} {b + ' warm':>10}"
    print(header)
    for name, budget in rows:
        results = {b: fresh(name, b, budget) for b in backends}
        first = results[backends[0]]
        line = f"{name:<10} {first['nodes']:>6} {first['boxes']:>6} {first['dot'] * 1e3:>6.0f}"
        for b in backends:
            line += f" {results[b]['cold'] * 1e3:>10.0f} {results[b]['warm'] * 1e3:>10.0f}"
        print(line)
    with tempfile.TemporaryDirectory() as empty:
        first_ever = fresh("expression", "wasm", 150, cache=empty)
    print(
        f"\nwasm, empty module cache (first graph on a machine, compiles Graphviz): "
        f"{first_ever['cold'] * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
