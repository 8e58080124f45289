"""The chapter's first section, measured: the whole gradient of an N-parameter model by
reverse mode, forward mode and central differences, for N = 1 ... 1,000.

The model is a logistic unit's squared error on one data point,
loss(w) = (sigmoid(w · x) - 0.8)², with N weights at evenly spaced points in
[-1, 1] and x evenly spaced in [-1/N, 1/N] (about 4N graph nodes).
Each method computes all N derivatives on the recorded graph (ad_magic's
`cost.scaling`): reverse mode one backward pass, forward mode N passes,
central differences 2N evaluations. Times are the best of a few runs; the
ratio of central differences to reverse mode is printed at each N, and the
chart (time in evaluations of the model, against N) is written as SVG.

    python benchmarks/bench_cost.py [--max 1000] [--svg docs/cost-scaling.svg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ad_magic import sigmoid
from ad_magic.cost import Scaling, scaling

SIZES = [1, 3, 10, 30, 100, 300, 1000]


def model(w: np.ndarray) -> object:
    x = np.linspace(-1.0, 1.0, len(w)) / len(w)  # w · x stays near 1/3: sigmoid not saturated
    return (sigmoid((w * x).sum()) - 0.8) ** 2


def report(table: Scaling) -> str:
    lines = [table.text(), ""]
    for row, ratio in zip(table.rows, table.ratio(), strict=True):
        rel = {m: row.cost.times[m] / row.evaluate for m in ("reverse", "forward", "numeric")}
        lines.append(
            f"N = {row.n:>5}: central differences take {ratio:8.1f}x reverse mode's time; "
            f"in evaluations of the model: reverse {rel['reverse']:.1f}, "
            f"forward {rel['forward']:.0f}, central differences {rel['numeric']:.0f} "
            f"(2N = {2 * row.n})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1000, help="largest N")
    parser.add_argument("--svg", type=Path, help="write the chart here")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per method and N")
    args = parser.parse_args()
    table = scaling(model, [n for n in SIZES if n <= args.max], budget=args.budget)
    print(report(table))
    if args.svg:
        args.svg.write_text(table.chart(background="white"), encoding="utf-8")
        print(f"\nchart written to {args.svg}")


if __name__ == "__main__":
    main()
