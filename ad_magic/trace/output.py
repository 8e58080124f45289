"""Which value of a cell is its output, when neither `-o` nor a final expression says.

A cell with loops binds many names many times: `for p in n.parameters():`
binds each parameter to `p`, a training loop binds `loss` once per step. The
output is the last binding of an operation node that depends on the inputs:
never a leaf (a parameter, an input), never a loop variable running over
Values made before the cell. When that is not simply the cell's last
binding, or the name was bound more than once, a note says which value was
taken and how to pick another.

`outputs(name, obj)` reads what the output is: a Value is a scalar output;
an array or list of Values, or the values of `-o y1,y2`, is a vector output
whose elements are named `p[0]`, `p[1]` after it (or `y1`, `y2`; `y[0]`
for a final expression that is not a name). Anything else is a one-line
`OutputError` that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from ad_magic.engine.ops import INPUT
from ad_magic.engine.value import Value


@dataclass(frozen=True)
class Choice:
    """The chosen output: its name, value and a note ('' when the choice is plain)."""

    name: str
    value: Value
    note: str


def depends_on(v: Value, wanted: Callable[[Value], bool]) -> bool:
    """Whether some ancestor of v (v included) is wanted: an explicit stack, no recursion."""
    seen = {v}  # a Value hashes by identity
    stack = [v]
    while stack:
        u = stack.pop()
        if wanted(u):
            return True
        a, b = u._a, u._b  # the parents (see Value._prev)
        if a is not None and a not in seen:
            seen.add(a)
            stack.append(a)
        if b is not None and b not in seen:
            seen.add(b)
            stack.append(b)
    return False


def choose(
    bound: list[tuple[str, Value, bool, int]],
    made: Collection[int],
    inputs: Collection[int] | None,
) -> Choice | None:
    """The last binding of an op node that depends on the inputs (ids of their leaves;
    None: any leaf), skipping loop variables over Values made before the cell (made:
    ids of the Values the cell made)."""
    if inputs is None:
        wanted: Callable[[Value], bool] = lambda u: u._fn is INPUT  # noqa: E731
    else:
        wanted = lambda u: id(u) in inputs  # noqa: E731
    for k in range(len(bound) - 1, -1, -1):
        name, v, loop, line = bound[k]
        if not v._prev or (loop and id(v) not in made) or not depends_on(v, wanted):
            continue
        times = sum(1 for b in bound if b[0] == name)
        later = {b[0] for b in bound[k + 1 :]}
        if not later and times == 1:
            return Choice(name, v, "")
        what = f"its last value, line {line}" if times > 1 else f"line {line}"
        passed = f", not {', '.join(sorted(later))}" if later else ""
        return Choice(name, v, f"the output is {name} ({what}){passed}; pick another with -o NAME")
    return None


class OutputError(Exception):
    """The output cannot be differentiated as it is (one line)."""


def output_names(out: str | None) -> list[str]:
    """The names of -o: 'y' -> ['y'], 'y1,y2' -> ['y1', 'y2']."""
    return [n.strip() for n in (out or "").split(",") if n.strip()]


def outputs(name: str, obj: Any) -> list[tuple[str, Value]]:
    """The output's elements as (name, Value): one for a scalar output, several for a
    vector output. A one-element array is a scalar output."""
    if isinstance(obj, tuple) and "," in name:  # -o y1,y2: one object per name
        found = []
        for n, o in zip(output_names(name), obj, strict=True):
            found += outputs(n, o)
        return found
    if isinstance(obj, (list, tuple)):
        try:
            obj = np.array(obj, dtype=object)
        except ValueError:  # ragged
            raise OutputError(f"the output {name or 'y'} is a ragged list: make it flat") from None
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        if obj.size == 1:
            return outputs(name, obj.reshape(()).item())
        found = []
        for idx in np.ndindex(obj.shape):
            label = f"{name if name.isidentifier() else 'y'}[{','.join(map(str, idx))}]"
            v = obj[idx]
            if not isinstance(v, Value):
                raise OutputError(
                    f"the output {label} = {v!r:.40} does not depend on any input; "
                    "a vector output is made of traced values"
                )
            found.append((label, v))
        return found
    if isinstance(obj, Value):
        return [(name, obj)]
    what = name or "the final expression"
    if isinstance(obj, np.ndarray):
        raise OutputError(
            f"the output {what} is an array of shape {obj.shape} of plain numbers: "
            "it does not depend on any input"
        )
    if name or obj is not None:
        raise OutputError(
            f"the output {what} = {obj!r:.40} does not depend on any input; "
            "use the inputs in the cell, or name the output with --out"
        )
    raise OutputError("the cell computed nothing from its inputs; assign a result, e.g. y = ...")
