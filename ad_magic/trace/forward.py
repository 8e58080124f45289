"""Forward mode for a traced cell: one run per seed input, on Duals.

The cell runs again in a scratch copy of the namespace, printing suppressed,
with the seed input's Dual carrying derivative 1 and the others 0. The k-th
Dual an operation makes is the k-th op node of the reverse trace when the cell
is deterministic, which is checked value by value: if a rerun computes other
numbers (randomness, side effects), no tangents are shown and the result says
why, rather than showing wrong ones.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ad_magic.engine import dual
from ad_magic.engine.dual import Dual
from ad_magic.engine.value import Value
from ad_magic.trace.cellcode import quiet
from ad_magic.trace.graph import Node
from ad_magic.trace.inputs import Input, ignore
from ad_magic.trace.records import forward_over_graph


class Tracer(Protocol):
    """What forward mode needs of the tracer: its inputs, namespace and a way to run."""

    inputs: list[Input]
    snapshot: dict[str, Any]

    def run(self, ns: dict[str, Any], bind: Any) -> Any: ...


def forward_passes(
    tracer: Tracer,
    result: Any,
    records: dict[int, Node],
    ops: list[Value],
    seeds: list[str] | None,
    max_forward: int,
) -> None:
    """One Dual run per seed: each node's tangent, if the runs agree with the trace.

    The k-th Dual an operation makes in a run is the k-th op node of the
    trace, when the cell is deterministic: checked value by value.
    """
    scalars = [(label, inp, idx) for inp in tracer.inputs for label, idx in inp.scalars()]
    if seeds is not None:
        chosen = [s for s in scalars if s[0] in seeds or s[1].name in seeds]
    elif len(scalars) <= max_forward:
        chosen = scalars
    else:
        chosen = []
        result.notes.append(
            f"forward mode needs one pass per input: {len(scalars)} passes is more than "
            f"max_forward_passes={max_forward}, so pick seeds with --seed"
        )
    for label, seed_input, seed_idx in chosen:
        try:
            duals = dual_run(tracer, seed_input, seed_idx)
        except Exception as exc:  # e.g. the cell uses Values made before it (a model)
            over_graph(result, [c[0] for c in chosen])
            result.notes.append(
                f"forward mode ran over the recorded graph: the cell cannot run on Duals ({exc})"
            )
            return
        if len(duals) != len(ops) or not all(map(_same, duals, ops)):
            result.forward_note = (
                "forward mode: running the cell again gave different values "
                "(randomness or side effects?), so no tangents are shown"
            )
            break
        for node in result.graph.nodes:
            seeded = node.kind == "input" and node.name == label
            node.tangents[label] = 1.0 if seeded else 0.0
        for d, v in zip(duals, ops, strict=True):
            node = records.get(id(v))
            if node is not None:
                node.tangents[label] = d.deriv
    if result.forward_note:
        for node in result.graph.nodes:
            node.tangents.clear()


def over_graph(result: Any, labels: list[str]) -> None:
    """Tangents for each seed by forward mode over the trace's own graph."""
    by_name = {n.name: n.id for n in result.graph if n.kind == "input"}
    for node in result.graph.nodes:
        node.tangents.clear()
    for label in labels:
        forward_over_graph(result.graph, by_name.get(label, ""), label)


def dual_run(tracer: Tracer, seed_input: Input, seed_idx: tuple[int, ...]) -> list[Dual]:
    """Run the cell once on Duals seeded at one input; the Duals its operations made."""
    ns = dict(tracer.snapshot)
    for inp in tracer.inputs:
        seeded = inp is seed_input
        if isinstance(inp.data, np.ndarray):
            arr = inp.make(lambda v, label: Dual(v, 0.0))
            if seeded:
                arr[seed_idx] = Dual(float(inp.data[seed_idx]), 1.0)
            ns[inp.name] = arr
        else:
            ns[inp.name] = Dual(inp.data, 1.0 if seeded else 0.0)
    made: list[Dual] = []
    outer = dual.on_create
    dual.on_create = made.append
    try:
        with quiet():
            tracer.run(ns, ignore)
    finally:
        dual.on_create = outer
    return made


def _same(d: Dual, v: Value) -> bool:
    """The same number in both runs (nan included)."""
    return d.val == v.data or (d.val != d.val and v.data != v.data)
