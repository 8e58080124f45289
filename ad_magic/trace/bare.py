"""Bare `%%grad`: a cell that makes its own leaves, as the micrograd lecture writes it.

With no inputs on the magic line, the inputs are found after the cell ran:
every leaf `Value` it created (`a = Value(2.0, label='a')`, or the weights an
`MLP(...)` made while it ran), in creation order, then the leaves made before
the cell that the output depends on (a model's parameters, when the cell
only trains it). Each is named by its label, else the variable it was bound
to, else the container that holds it (`layers[0].neurons[1].w[2]`), else its
node id; a name already taken goes to the first leaf that has it, the others
keep their node ids.

A live input of a bare cell (a slider) runs the cell again with the k-th
leaf it makes given the new number (`LeafRecorder`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import CodeType
from typing import Any

from ad_magic.engine.ops import INPUT
from ad_magic.engine.value import Value, topological
from ad_magic.trace.naming import names_of
from ad_magic.trace.recorder import Recorder


def found_leaves(made: Iterable[Any], outs: list[Value]) -> list[Value]:
    """The leaves the cell made, then those made before it that the outputs depend on."""
    mine = [v for v in made if v.__class__ is Value and v._fn is INPUT]
    ids = {id(v) for v in mine}
    older = []
    for out in outs:
        for v in topological(out)[::-1]:
            if v._fn is INPUT and id(v) not in ids:
                ids.add(id(v))
                older.append(v)
    return mine + older


def natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key reading numbers as numbers: w[2] before w[10]; no name last."""
    parts = re.findall(r"\d+|\D+", name) if name else ["\uffff"]
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def in_order(leaves: list[tuple[str, Value]], made: int) -> list[tuple[str, Value]]:
    """The cell's own leaves in creation order, then the older ones by name
    (layers[0].neurons[0].b, layers[0].neurons[0].w[0], ...)."""
    return leaves[:made] + sorted(leaves[made:], key=lambda leaf: natural(leaf[0]))


def leaf_names(
    leaves: list[Value], variables: Mapping[int, str], namespace: Mapping[str, Any]
) -> list[str]:
    """A name per leaf: label, variable, container path or '' (then its node id is used)."""
    wanted = {id(v) for v in leaves if not v.label and id(v) not in variables}
    held = names_of(namespace, wanted) if wanted else {}
    names: list[str] = []
    taken: set[str] = set()
    for v in leaves:
        name = v.label or variables.get(id(v)) or held.get(id(v), "")
        if name in taken:
            name = ""
        taken.add(name)
        names.append(name)
    return names


class LeafRecorder(Recorder):
    """A Recorder that gives the k-th leaf the cell makes a chosen number: a live input
    of a bare cell, moved before anything reads it."""

    def __init__(self, cell_codes: Iterable[CodeType], values: Mapping[int, float]) -> None:
        super().__init__(cell_codes)
        self.values = values  # k -> the k-th leaf's number
        self.leaves = 0

    def __call__(self, obj: Any) -> None:
        if obj._fn is INPUT and obj.__class__ is Value:
            if self.leaves in self.values:
                obj.data = self.values[self.leaves]
            self.leaves += 1
        super().__call__(obj)
