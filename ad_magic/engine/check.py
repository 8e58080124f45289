"""`check_grad`: compare automatic derivatives with central finite differences.

    >>> from ad_magic import check_grad, sin
    >>> check_grad(lambda x: sin(x**2 + 1), x=1.5).ok()
    True

Numerical differentiation needs two evaluations per input (2N in all) and is
only as good as its step allows; AD is exact to rounding. Comparing the two
is how a derivative rule, or a hand-derived gradient, gets tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ad_magic.engine.dual import Dual
from ad_magic.engine.scalar import Scalar, plain
from ad_magic.engine.value import Value


@dataclass(frozen=True)
class GradEntry:
    """One input's derivative two ways."""

    name: str
    ad: float
    numeric: float
    note: str = ""  # why the numeric estimate says nothing here (a nudge flips a branch)

    @property
    def error(self) -> float:
        return abs(self.ad - self.numeric)

    def close(self, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
        """Whether the two numbers agree within tolerance."""
        return bool(np.isclose(self.ad, self.numeric, rtol=rtol, atol=atol))

    def ok(self, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
        """Agreement, or no evidence against AD: a difference across a branch compares nothing."""
        return self.close(rtol, atol) or bool(self.note)


class GradCheck(Mapping[str, GradEntry]):
    """The result of `check_grad`: input name -> GradEntry, printable as a table."""

    def __init__(self, entries: list[GradEntry], h: float, mode: str) -> None:
        self._entries = {e.name: e for e in entries}
        self.h = h
        self.mode = mode

    def __getitem__(self, name: str) -> GradEntry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def ok(self, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
        """Whether every input's AD and numeric derivatives agree within tolerance."""
        return all(e.ok(rtol, atol) for e in self._entries.values())

    def __repr__(self) -> str:
        width = max([5, *(len(n) for n in self._entries)])
        head = f"{'input':<{width}}  {'AD (' + self.mode + ')':>18}  {'numeric':>18}  {'error':>9}"
        rows = [
            f"{e.name:<{width}}  {e.ad:>18.10g}  {e.numeric:>18.10g}  {e.error:>9.2e}"
            + (f"  ({e.note})" if e.note else "")
            for e in self._entries.values()
        ]
        return "\n".join([head, *rows, f"(central differences, h={self.h:g})"])


def _flat_inputs(inputs: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...]]]:
    """(display name, input name, index) for every scalar inside the inputs."""
    out: list[tuple[str, str, tuple[int, ...]]] = []
    for name, x in inputs.items():
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 0:
            out.append((name, name, ()))
        else:
            for idx in np.ndindex(arr.shape):
                out.append((f"{name}[{','.join(map(str, idx))}]", name, idx))
    return out


def _with(inputs: dict[str, Any], name: str, idx: tuple[int, ...], delta: float) -> dict:
    moved = dict(inputs)
    arr = np.array(inputs[name], dtype=float)
    arr[idx] += delta
    moved[name] = float(arr) if arr.ndim == 0 else arr
    return moved


def _as_float(y: Any) -> float:
    y = plain(y)
    if isinstance(y, np.ndarray) and y.size == 1:
        y = y.reshape(()).item()
    return float(plain(y))


def _traced(inputs: dict[str, Any], make: Callable[[float, str], Scalar]) -> dict[str, Any]:
    traced: dict[str, Any] = {}
    for name, x in inputs.items():
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 0:
            traced[name] = make(float(arr), name)
        else:
            leaves = np.empty(arr.shape, dtype=object)
            for idx in np.ndindex(arr.shape):
                leaves[idx] = make(float(arr[idx]), f"{name}[{','.join(map(str, idx))}]")
            traced[name] = leaves
    return traced


def _reverse(f: Callable[..., Any], inputs: dict[str, Any]) -> list[float]:
    traced = _traced(inputs, lambda v, label: Value(v, label=label))
    out = f(**traced)
    if isinstance(out, np.ndarray) and out.size == 1:
        out = out.reshape(()).item()
    if isinstance(out, Value):
        out.backward()
    return [
        (traced[name] if idx == () else traced[name][idx]).grad
        for _, name, idx in _flat_inputs(inputs)
    ]


def _forward(f: Callable[..., Any], inputs: dict[str, Any]) -> list[float]:
    derivs = []
    for _, seed_name, seed_idx in _flat_inputs(inputs):
        traced = _traced(inputs, lambda v, label: Dual(v, 0.0))
        seed = traced[seed_name] if seed_idx == () else traced[seed_name][seed_idx]
        seed.deriv = 1.0
        out = f(**traced)
        if isinstance(out, np.ndarray) and out.size == 1:
            out = out.reshape(()).item()
        derivs.append(out.deriv if isinstance(out, Dual) else 0.0)
    return derivs


def check_grad(
    f: Callable[..., Any], *, h: float = 1e-6, mode: str = "reverse", **inputs: Any
) -> GradCheck:
    """Derivatives of f at the inputs, by AD and by central differences.

    f is called with the inputs as keyword arguments: traced (Value leaves in
    reverse mode, one Dual pass per input in forward mode) for AD, plain
    floats for the numeric estimate (f(x+h) - f(x-h)) / 2h. Inputs may be
    numbers or arrays; f must return a scalar.
    """
    if not inputs:
        raise TypeError("check_grad needs at least one input, e.g. check_grad(f, x=1.5)")
    if not h > 0:
        raise ValueError(f"the step h must be positive, got {h!r}")
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    ad = (_reverse if mode == "reverse" else _forward)(f, inputs)
    entries = []
    for (label, name, idx), d in zip(_flat_inputs(inputs), ad, strict=True):
        up = _as_float(f(**_with(inputs, name, idx, h)))
        down = _as_float(f(**_with(inputs, name, idx, -h)))
        entries.append(GradEntry(label, float(d), (up - down) / (2 * h)))
    return GradCheck(entries, h, mode)
