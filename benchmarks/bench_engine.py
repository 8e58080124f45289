"""Engine benchmark: ad_magic.Value against micrograd on micrograd's own demo.

The training step of micrograd's demo notebook: MLP(2, [16, 16, 1]) from
micrograd's nn.py, 50 two-moons points, hinge loss with relu, L2
regularisation, backward, SGD update. Both engines run the same nn.py code,
the same data and the same initial weights in one process.

    python benchmarks/bench_engine.py [--steps 15]
    python benchmarks/bench_engine.py --against OLD_CHECKOUT [--steps 40]

With --against, the demo step of this ad_magic and of another checkout's
(e.g. `git worktree add /tmp/old main~3`) alternate step by step in one
process, timed by CPU time with gc.collect() between steps, and the ratio of
the medians is printed: a before/after comparison that load on the machine
affects alike.

Needs the bench extra: pip install -e .[bench]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

import micrograd.engine
import micrograd.nn
import numpy as np

import ad_magic


def nn_for(value_cls: type) -> ModuleType:
    """A private copy of micrograd's nn.py whose Value is value_cls."""
    spec = importlib.util.find_spec("micrograd.nn")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.Value = value_cls  # type: ignore[attr-defined]
    return module


def moons(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles with noise, labels -1/+1 (as sklearn's make_moons)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t_out, t_in = np.linspace(0, np.pi, half), np.linspace(0, np.pi, n - half)
    x = np.concatenate(
        [np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]]
    )
    x += rng.normal(scale=0.1, size=x.shape)
    y = np.concatenate([-np.ones(half), np.ones(n - half)])
    return x, y


class Demo:
    """micrograd's demo training loop for one engine."""

    def __init__(self, value_cls: type, x: np.ndarray, y: np.ndarray, seed: int = 1) -> None:
        self.Value = value_cls
        self.nn = nn_for(value_cls)
        random.seed(seed)
        self.model = self.nn.MLP(2, [16, 16, 1])
        self.x = [list(map(float, row)) for row in x]
        self.y = [float(v) for v in y]
        self.k = 0

    def loss(self):
        inputs = [list(map(self.Value, row)) for row in self.x]
        scores = list(map(self.model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(self.y, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in self.model.parameters())
        return data_loss + reg_loss

    def step(self):
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        rate = 1.0 - 0.9 * self.k / 100
        for p in self.model.parameters():
            p.data -= rate * p.grad
        self.k += 1
        return total


def count_nodes(root) -> int:
    seen, stack = {id(root)}, [root]
    while stack:
        for p in stack.pop()._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def step_times(demo: Demo, steps: int, collect_between: bool) -> list[float]:
    times = []
    for _ in range(steps):
        if collect_between:
            gc.collect()
        start = time.perf_counter()
        demo.step()
        times.append(time.perf_counter() - start)
    return times


def bytes_per_node(demo: Demo) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    total = demo.loss()
    total.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    n = count_nodes(total)
    return (peak - base) / n, n


def chain_backward(n: int) -> float:
    x = ad_magic.Value(0.5, label="x")
    y = x
    for _ in range(n):
        y = y.tanh()
    start = time.perf_counter()
    y.backward()
    return time.perf_counter() - start


def micrograd_depth_limit(depth: int) -> str:
    x = micrograd.engine.Value(0.5)
    y = x
    for _ in range(depth):
        y = y.relu()
    try:
        y.backward()
    except RecursionError:
        return f"RecursionError at depth {depth}"
    return f"ok at depth {depth}"


def load_copy(root: str) -> ModuleType:
    """The ad_magic package under root, imported afresh (the one imported before stays usable)."""
    for name in [n for n in sys.modules if n == "ad_magic" or n.startswith("ad_magic.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        module = importlib.import_module("ad_magic")
    finally:
        sys.path.remove(root)
    if not str(module.__file__).startswith(str(Path(root).resolve())):
        raise SystemExit(f"--against {root}: no ad_magic package there")
    return module


def compare(other_root: str, steps: int) -> None:
    """This ad_magic against another checkout's, alternating demo steps in one process."""
    x, y = moons(50)
    engines = {"this": ad_magic.Value, "other": load_copy(other_root).Value}
    demos = {name: Demo(cls, x, y) for name, cls in engines.items()}
    for demo in demos.values():
        demo.step()  # warm up
    times: dict[str, list[float]] = {name: [] for name in demos}
    for i in range(steps):
        for name in list(demos)[:: 1 if i % 2 else -1]:
            gc.collect()
            start = time.process_time()
            demos[name].step()
            times[name].append(time.process_time() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"micrograd demo step, {steps} alternating steps each (CPU time, gc.collect() between)")
    print(f"  this   ({Path(ad_magic.__file__).parent}): {medians['this'] * 1e3:8.2f} ms/step")
    print(f"  other  ({other_root}): {medians['other'] * 1e3:8.2f} ms/step")
    print(f"  this / other: {medians['this'] / medians['other']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="timed steps per engine")
    parser.add_argument("--chain", type=int, default=1_000_000, help="length of the chain")
    parser.add_argument("--against", help="another checkout's root: compare with its ad_magic")
    args = parser.parse_args()
    if args.against:
        compare(args.against, args.steps)
        return

    x, y = moons(50)
    engines = {"ad_magic": ad_magic.Value, "micrograd": micrograd.engine.Value}
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    print(f"micrograd demo step: MLP(2, [16, 16, 1]), {len(y)} points, {args.steps} steps each\n")

    medians: dict[str, float] = {}
    for label, collect in (
        ("gc on, as users run it", False),
        ("gc.collect() between steps, untimed", True),
    ):
        for name, cls in engines.items():
            demo = Demo(cls, x, y)
            demo.step()  # warm up
            medians[f"{name} / {label}"] = statistics.median(step_times(demo, args.steps, collect))
    for key, value in medians.items():
        print(f"  {key:<52} {value * 1e3:8.2f} ms/step")
    ours = medians["ad_magic / gc on, as users run it"]
    ours_collected = medians["ad_magic / gc.collect() between steps, untimed"]
    users = medians["micrograd / gc on, as users run it"]
    intrinsic = medians["micrograd / gc.collect() between steps, untimed"]
    print(f"\n  speed-up vs micrograd as users run it:   {users / ours:6.2f}x  (target >= 8x)")
    print(f"  speed-up vs micrograd's intrinsic cost:  {intrinsic / ours:6.2f}x  (target >= 3x)")
    print(f"  (ad_magic with the same untimed gc.collect(): {intrinsic / ours_collected:.2f}x)")

    print()
    sizes = {}
    for name, cls in engines.items():
        per_node, nodes = bytes_per_node(Demo(cls, x, y))
        sizes[name] = per_node
        print(f"  {name:<10} {nodes:7d} nodes/step  {per_node:7.1f} peak bytes/node")
    print(
        f"  memory ratio ad_magic/micrograd: {sizes['ad_magic'] / sizes['micrograd']:.2f}"
        "  (target <= 0.33)"
    )

    print()
    seconds = chain_backward(args.chain)
    print(f"  ad_magic backward of a {args.chain:,}-node chain: {seconds:.2f} s")
    print(f"  micrograd on a chain: {micrograd_depth_limit(2000)}")


if __name__ == "__main__":
    main()
