"""Names for values nobody named: where they sit in the notebook's containers.

A model's parameters are made inside `MLP(...)` and never bound to a
variable of their own; they are found from the namespace, breadth first,
through lists, tuples, dicts, object arrays and the public attributes of
user objects: `n.layers[0].neurons[1].w[2]`. Each is then shortened to the
shortest ending that no other named value shares (`w[2]` for a single
neuron's weights, `layers[0].neurons[1].w[2]` in a network).
"""

from __future__ import annotations

import re
import types
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

_OPAQUE = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    type,
    str,
    bytes,
    int,
    float,
    complex,
    bool,
)
_SHELL = {"In", "Out", "exit", "quit", "get_ipython"}  # IPython's own variables
_BUDGET = 200_000  # objects looked at, at most
_WIDE = 10_000  # items of one container, at most


def _inside(obj: Any) -> Iterator[tuple[str, Any]]:
    """(path step, item) for what obj holds: '[3]', "['k']", '.w'."""
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj[:_WIDE]):
            yield f"[{i}]", item
    elif isinstance(obj, dict):
        for key, item in list(obj.items())[:_WIDE]:
            if isinstance(key, (str, int)):
                yield f"[{key!r}]", item
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object and obj.size <= _WIDE:
            for idx in np.ndindex(obj.shape):
                yield f"[{','.join(map(str, idx))}]", obj[idx]
    elif not isinstance(obj, _OPAQUE) and hasattr(obj, "__dict__"):
        for key, item in list(vars(obj).items())[:_WIDE]:
            if not key.startswith("_"):
                yield f".{key}", item


def paths(namespace: Mapping[str, Any], wanted: set[int]) -> dict[int, list[str]]:
    """id -> the shortest path from a public variable to each wanted object, as steps."""
    found: dict[int, list[str]] = {}
    seen: set[int] = set()
    queue: deque[tuple[Any, list[str]]] = deque()
    for key, obj in namespace.items():
        if not key.startswith("_") and key not in _SHELL and not isinstance(obj, _OPAQUE):
            queue.append((obj, [key]))
    budget = _BUDGET
    while queue and budget > 0 and len(found) < len(wanted):
        obj, path = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        budget -= 1
        if id(obj) in wanted:
            found[id(obj)] = path
            continue  # a value's own insides (its graph) are not walked
        for step, item in _inside(obj):
            if id(item) not in seen and not isinstance(item, _OPAQUE):
                queue.append((item, [*path, step]))
    return found


def short_names(found: dict[int, list[str]]) -> dict[int, str]:
    """Each path cut to its shortest ending that starts at a name and no other path shares.

    Paths of one shape (`n.layers[].neurons[].w[]`) are cut alike, so that a
    model's weights all read `layers[0].neurons[1].w[2]`, not some shorter.
    """
    shape = {k: re.sub(r"\[[^]]*\]", "[]", "".join(p)) for k, p in found.items()}
    depth = dict.fromkeys(shape.values(), 1)  # name steps kept, per shape
    while True:
        text = {k: _tail(p, depth[shape[k]]) for k, p in found.items()}
        owners: dict[str, list[int]] = {}
        for k, t in text.items():
            owners.setdefault(t, []).append(k)
        clash = {shape[k] for ks in owners.values() if len(ks) > 1 for k in ks}
        longer = {c for c in clash if any(_tail(found[k], depth[c] + 1) != text[k]
                                          for k in found if shape[k] == c)}  # fmt: skip
        if not longer:
            return text
        for c in longer:
            depth[c] += 1


def _tail(path: list[str], names: int) -> str:
    """The path from its names-th name step from the end (a variable or an .attr)."""
    starts = [i for i, step in enumerate(path) if i == 0 or step.startswith(".")]
    return "".join(path[starts[-min(names, len(starts))] :]).lstrip(".")


def names_of(namespace: Mapping[str, Any], wanted: set[int]) -> dict[int, str]:
    """id -> a readable name for each wanted object the namespace reaches."""
    return short_names(paths(namespace, wanted))


SHOWN, MOST = 6, 10  # a list longer than MOST shows its first SHOWN and how many more


def few(names: list[str], shown: int = SHOWN, most: int = MOST) -> str:
    """Names as one short line: all up to `most`, else the first `shown` and how many more
    (`a, b, c, d, e, f … and 35 more`), as numpy and PyTorch print long arrays."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} … and {len(names) - shown} more"
