"""`--annotate`: a traced cell's source with the values and derivatives each line made.

    # %%grad x=1.5
    # y = -0.108195; grad = dy/d(node)
    # input x = 1.5, grad = -2.98239
    y = sin(x**2 + 1)
    #   x**2      = 2.25       grad = -0.99413
    #   ...

Plain-text comments, so the cell stays valid Python to paste into a report
or hand in; numbers to six significant digits, so the text is stable. The
nodes a call to a user function makes are summed up by its result, one
comment per call.
"""

from __future__ import annotations

import numpy as np

from ad_magic.classroom.homework import concealment
from ad_magic.trace.graph import Node
from ad_magic.trace.result import GradResult


def _n(x: float) -> str:
    return f"{x:.6g}"


def annotate(result: GradResult, line: str = "") -> str:
    """The cell's source, each line followed by comments for the nodes it made."""
    if result.tracer is None:
        raise ValueError("annotate() needs a %%grad cell; this graph was built outside one")
    hide = concealment(result)
    out = result.output
    text = [f"# %%grad {line}".rstrip(), f"# {out} = {hide.value(out, _n(result.value))}; "
            f"grad = d{out}/d(node)"]  # fmt: skip
    for name, g in result.grads.items():
        shown = np.array2string(g, precision=6) if isinstance(g, np.ndarray) else _n(g)
        inp = next(i for i in result.tracer.inputs if i.name == name)
        data = np.array2string(inp.data, precision=6) if isinstance(inp.data, np.ndarray) else (
            _n(inp.data))  # fmt: skip
        text.append(f"# input {name} = {data}, grad = {hide.grad(shown)}")
    by_line: dict[int, list[tuple[str, Node]]] = {}
    calls: dict[str, int] = {}  # outermost call -> how many nodes it made
    for node in result.graph:
        if node.kind != "op" or node.line is None:
            continue
        if node.calls:
            call = node.calls[0]
            calls[call] = calls.get(call, 0) + 1
            entries = by_line.setdefault(node.line, [])
            if entries and entries[-1][0] == call:
                entries.pop()  # keep only the call's latest node: its result
            entries.append((call, node))
        else:
            by_line.setdefault(node.line, []).append(("", node))
    for k, source in enumerate(result.tracer.lines, start=1):
        text.append(source)
        rows = [
            (_label(node, call, calls), hide.value(node.name, _n(node.value)),
             hide.grad(_n(node.grad)))
            for call, node in by_line.get(k, [])
        ]  # fmt: skip
        if not rows:
            continue
        indent = source[: len(source) - len(source.lstrip())]
        lw, vw = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
        text += [
            f"{indent}#   {lab:<{lw}} = {val:<{vw}}  grad = {grad}" for lab, val, grad in rows
        ]
    return "\n".join(text) + "\n"


def _label(node: Node, call: str, calls: dict[str, int]) -> str:
    if call:
        made = calls[call]
        func = call.split("#")[0]
        what = node.name or node.text or func
        return f"{what} ({func}: {made} node{'s' * (made != 1)})"
    return node.name or node.text or node.op.expr
