"""`--expect`: a student's own answers, marked right or wrong without giving the right ones.

    %%grad x=1.5 --expect "dy/dx=-2.98, y=-0.108"

A spec is a comma-separated list of `dOUT/dNAME=NUMBER` (the derivative of
the output OUT by an input or a named node) and `NAME=NUMBER` (a value).
Each is right when it is within a tolerance of what the trace computed
(`close`); the computed number is kept back unless asked for (`reveal`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ad_magic.trace.graph import Node
from ad_magic.trace.result import GradResult

_NAME = r"[^\W\d]\w*(?:\[\d+(?:,\d+)*\])?"  # x, or an array input's element W[0,1]
_KEY = re.compile(rf"d({_NAME})/d({_NAME})|({_NAME})")


class ExpectError(ValueError):
    """A malformed or unanswerable --expect spec (one line, for a UsageError)."""


@dataclass(frozen=True)
class Expectation:
    """One stated answer and whether it is right."""

    what: str  # as the student wrote it, e.g. "dy/dx" or "y"
    expected: float
    right: bool
    actual: float | None = None  # the computed number, only when revealed

    def __str__(self) -> str:
        mark = "right" if self.right else "wrong"
        shown = f" (it is {self.actual:.6g})" if self.actual is not None and not self.right else ""
        return f"{self.what} = {self.expected:g}: {mark}{shown}"


def close(actual: float, expected: float, tol: float) -> bool:
    """Right within tol, relative to the number or absolute near zero."""
    return math.isclose(actual, expected, rel_tol=tol, abs_tol=tol)


def _split(spec: str) -> list[str]:
    """Items separated by commas outside brackets ('dy/dW[0,1]=3, y=2')."""
    items, depth, start = [], 0, 0
    for k, c in enumerate(spec):
        depth += (c == "[") - (c == "]")
        if c == "," and depth == 0:
            items.append(spec[start:k])
            start = k + 1
    return [*items, spec[start:]]


def parse(spec: str) -> dict[str, float]:
    """'dy/dx=-2.98, y=0.1' as {'dy/dx': -2.98, 'y': 0.1}; ExpectError if malformed."""
    spec = spec.strip()
    if len(spec) >= 2 and spec[0] == spec[-1] and spec[0] in "\"'":
        spec = spec[1:-1]  # IPython keeps the quotes of a quoted option value
    expected: dict[str, float] = {}
    for item in _split(spec):
        key, sep, number = (part.strip() for part in item.partition("="))
        key = key.replace(" ", "")
        if not sep or not _KEY.fullmatch(key):
            raise ExpectError(
                f"--expect: cannot read {item.strip()!r}; write dy/dx=NUMBER or y=NUMBER, "
                "separated by commas"
            )
        try:
            value = float(number)
        except ValueError:
            raise ExpectError(f"--expect {key}: {number!r} is not a number") from None
        if key in expected:
            raise ExpectError(f"--expect: {key} is given twice")
        expected[key] = value
    return expected


def names(key: str) -> tuple[str, ...]:
    """The names a key mentions: ('y', 'x') for 'dy/dx', ('y',) for 'y'."""
    match = _KEY.fullmatch(key)
    assert match is not None, key
    return tuple(n for n in match.groups() if n is not None)


def check_names(expected: dict[str, float], known: set[str]) -> None:
    """Before the cell runs: every name must be an input or something the cell assigns."""
    for key in expected:
        for name in names(key):
            if name.split("[")[0] not in known:
                raise ExpectError(
                    f"--expect {key}: {name} is neither an input nor assigned in the cell "
                    f"(known: {', '.join(sorted(known))})"
                )


def evaluate(
    result: GradResult, expected: dict[str, float], tol: float, reveal: bool
) -> list[Expectation]:
    """Each stated answer against the trace; ExpectError for a name it cannot answer.

    With a vector output, dOUT/dNAME may name any of the outputs (`dy2/dx`,
    `dp[1]/dz`): its row of J, or its backward pass for a named value.
    """
    nodes = {n.also: n for n in result.graph if n.also}  # a variable beside its label
    nodes |= {n.name: n for n in result.graph if n.name}
    values = {name: n.value for name, n in nodes.items()} | {result.output: result.value}
    outcomes = []
    for key, number in expected.items():
        actual = _actual(key, result, nodes, values)
        right = close(actual, number, tol)
        outcomes.append(Expectation(key, number, right, actual if reveal else None))
    return outcomes


def _flat(grads: dict[str, float | np.ndarray]) -> dict[str, float]:
    """Gradients by scalar input name: an array input's elements as W[0,1]."""
    flat: dict[str, float] = {}
    for name, g in grads.items():
        if isinstance(g, np.ndarray):
            for idx in np.ndindex(g.shape):
                flat[f"{name}[{','.join(map(str, idx))}]"] = float(g[idx])
        else:
            flat[name] = g
    return flat


def _actual(
    key: str, result: GradResult, nodes: dict[str, Node], values: dict[str, float]
) -> float:
    match = _KEY.fullmatch(key)
    assert match is not None
    out, wrt, name = match.groups()
    if name is not None:
        if name not in values:
            raise ExpectError(f"--expect {key}: the cell made no traced value named {name}")
        return values[name]
    outputs = result.outputs
    if out not in outputs:
        which = (
            f"the outputs are {', '.join(outputs)}"
            if len(outputs) > 1
            else f"the output is {outputs[0]}; write d{outputs[0]}/d{wrt}"
        )
        raise ExpectError(f"--expect {key}: {which}")
    first = out == result.output
    grads = _flat(result.grads if first else result.gradient(out))
    if wrt in grads:
        return grads[wrt]
    node = nodes.get(wrt)
    if node is None:
        hint = f"; write d{out}/d{wrt}[0] for an element" if f"{wrt}[0]" in grads else ""
        raise ExpectError(f"--expect {key}: no scalar input or traced value named {wrt}{hint}")
    return node.grad if first else result.adjoints(out)[node.id]
