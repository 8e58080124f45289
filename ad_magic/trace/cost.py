"""What the Jacobian costs each way on one recorded computation: counted, and timed.

For a computation with N inputs and M outputs, reverse mode runs M backward
passes (a row of J each), forward mode N passes (a column each), and central
differences 2N evaluations of the whole computation. `count(tape)` gives the
passes and the chain-rule steps (primitive applications) each mode performs,
`measure(tape)` also times the three on the recorded program; neither runs the
student's cell again.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ad_magic.trace.jacobian import Tape

METHODS = ("reverse", "forward", "numeric")
LABELS = {"reverse": "reverse", "forward": "forward", "numeric": "finite differences"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 pass', '113 passes', with thousands separated."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def seconds(t: float) -> str:
    """A duration as people read it: µs, ms or s, three significant digits."""
    if t < 1e-3:
        return f"{t * 1e6:.3g} µs"
    if t < 1:
        return f"{t * 1e3:.3g} ms"
    return f"{t:.3g} s"


@dataclass
class Cost:
    """Passes and steps of each way to the Jacobian, and their times once measured."""

    outputs: int  # M, J's rows
    inputs: int  # N, J's columns
    reverse_passes: int
    reverse_steps: int
    forward_passes: int
    forward_steps: int
    runs: int  # evaluations of the whole computation central differences need: 2N
    times: dict[str, float] = field(default_factory=dict)  # method -> seconds, once measured

    def line(self) -> str:
        """E.g. 'J is 1 × 113: reverse 1 pass (997 steps), forward 113 passes
        (112,661 steps), finite differences 226 evaluations of the recorded program'."""
        t = {m: f" {seconds(self.times[m])}" if m in self.times else "" for m in METHODS}
        return (
            f"J is {self.outputs} × {self.inputs}: "
            f"reverse {plural(self.reverse_passes, 'pass', 'passes')} "
            f"({plural(self.reverse_steps, 'step')}){t['reverse']}, "
            f"forward {plural(self.forward_passes, 'pass', 'passes')} "
            f"({plural(self.forward_steps, 'step')}){t['forward']}, "
            f"finite differences {plural(self.runs, 'evaluation')} of the recorded program"
            f"{t['numeric']}"
        )

    def ratio(self, method: str = "numeric", against: str = "reverse") -> float:
        """How many times longer one method took than another (measured times)."""
        return self.times[method] / self.times[against]


def count(tape: Tape) -> Cost:
    """The passes and steps each mode needs for the whole Jacobian of tape."""
    m, n = tape.shape
    return Cost(
        outputs=m,
        inputs=n,
        reverse_passes=m,
        reverse_steps=sum(tape.reverse_steps(o) for o in tape.outputs),
        forward_passes=n,
        forward_steps=n * tape.forward_steps(),
        runs=2 * n,
    )


def timed(run: Callable[[], object], budget: float, repeat: int) -> float:
    """The best time of up to `repeat` calls of run, fewer once they used `budget` seconds."""
    best, spent = float("inf"), 0.0
    for _ in range(repeat):
        start = time.process_time()
        run()
        took = time.process_time() - start
        best, spent = min(best, took), spent + took
        if spent > budget:
            break
    return best


def measure(tape: Tape, budget: float = 0.2, repeat: int = 5) -> Cost:
    """count(tape) with each method's time for the whole Jacobian, and the time of one
    evaluation of the computation ("evaluation"), each the best of a few runs."""
    cost = count(tape)
    for method in METHODS:
        cost.times[method] = timed(functools.partial(tape.jacobian, method), budget, repeat)
    cost.times["evaluation"] = timed(tape.evaluate, budget / 4, 4 * repeat)
    return cost
