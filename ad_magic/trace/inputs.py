"""What goes into a traced cell and what names come out of it.

`Input` is one `%%grad` input: a name and a number or an array of numbers,
made into leaves of whichever kind a run needs (Value, Dual or plain float).
`Bindings` is the callback the compiled cell reports its top-level
assignments to, so that each traced value is shown under its variable's name;
rebinding a name gives h, h', h'', then h@3. It also keeps every binding of a
Value in order (for choosing the output) and notes each line that rebinds a
declared input to a new leaf.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ad_magic.engine.ops import INPUT
from ad_magic.engine.tensor import Tensor, tensor
from ad_magic.engine.value import Value


@dataclass
class Input:
    """One %%grad input: a name and a number or an array of numbers."""

    name: str
    data: float | np.ndarray

    def scalars(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        """(display name, index) of each scalar: 'x' and (), or 'W[0,1]' and (0, 1)."""
        if isinstance(self.data, np.ndarray):
            for idx in np.ndindex(self.data.shape):
                yield f"{self.name}[{','.join(map(str, idx))}]", idx
        else:
            yield self.name, ()

    def make(self, leaf: Any) -> Any:
        """The input as traced objects: leaf(number, label) per scalar."""
        if not isinstance(self.data, np.ndarray):
            return leaf(self.data, self.name)
        out = np.empty(self.data.shape, dtype=object)
        for label, idx in self.scalars():
            out[idx] = leaf(float(self.data[idx]), label)
        return out


@dataclass
class Bindings:
    """The names the cell's top level bound traced values to, in order."""

    names: dict[int, str] = field(default_factory=dict)  # id(node) -> display name
    versions: dict[str, int] = field(default_factory=dict)  # name -> bindings so far
    last: str | None = None  # the last name bound to a traced value or array
    last_any: str | None = None  # the last name bound to anything
    # (name, value, a loop variable?, line) of each binding to a Value, in order
    bound: list[tuple[str, Value, bool, int]] = field(default_factory=list)
    declared: dict[str, set[int]] = field(default_factory=dict)  # input -> ids of its leaves
    rebound: dict[str, int] = field(default_factory=dict)  # input -> first line rebinding it

    def taken(self, names: list[str]) -> None:
        """Names already bound before the cell (the inputs): binding one again primes it."""
        for name in names:
            self.versions[name] = max(self.versions.get(name, 0), 1)

    def __call__(self, name: str, obj: Any, loop: bool = False) -> Any:
        """Note a binding; give back obj, an object array as a Tensor (a view of it)
        so that the numpy calls on an array the cell builds are seen as calls."""
        self.last_any = name
        if isinstance(obj, Value):
            self._name(obj, name)
            self.last = name
            line = sys._getframe(1).f_lineno  # the cell's line (BIND sits at the assignment)
            self.bound.append((name, obj, loop, line))
            leaves = self.declared.get(name)
            if leaves is not None and obj._fn is INPUT and id(obj) not in leaves:
                self.rebound.setdefault(name, line)
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            for idx in np.ndindex(obj.shape):
                item = obj[idx]
                if isinstance(item, Value):
                    self._name(item, f"{name}[{','.join(map(str, idx))}]")
                    self.last = name
            return obj if isinstance(obj, Tensor) else tensor(obj)
        return obj

    def loop_names(self) -> set[str]:
        """The names the cell bound to Values only as loop variables."""
        loop = {name for name, _, is_loop, _ in self.bound if is_loop}
        return loop - {name for name, _, is_loop, _ in self.bound if not is_loop}

    def variables(self) -> dict[int, str]:
        """id(node) -> its name, for nodes bound by more than a loop variable (a
        parameter that `for p in params:` runs over is not named p)."""
        loop = {id(v) for _, v, is_loop, _ in self.bound if is_loop}
        loop -= {id(v) for _, v, is_loop, _ in self.bound if not is_loop}
        return {k: name for k, name in self.names.items() if k not in loop}

    def _name(self, node: Value, name: str) -> None:
        if id(node) in self.names:
            return
        k = self.versions.get(name, 0)
        self.versions[name] = k + 1
        self.names[id(node)] = name if k == 0 else (name + "'" * k if k < 3 else f"{name}@{k}")
