"""Assertions for autograding: readable AssertionErrors about a %%grad result.

In an nbgrader test cell, after the student's `%%grad` cell:

    from ad_magic.classroom.testing import assert_grad, assert_matches_numeric
    assert_grad(_grad, x=-2.98238903, rtol=1e-6)   # the gradient by input name
    assert_value(_grad, -0.10819513)               # the output's value
    assert_matches_numeric(_grad)                  # AD agrees with finite differences

and for a student's own micrograd-style autograd, after their `loss.backward()`:

    assert_student_grads(loss)                     # every .grad as the chain rule gives it
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ad_magic.classroom.localcheck import check_nodes
from ad_magic.classroom.studentcheck import check_student, compared, first_wrong, fmt, who
from ad_magic.engine.value import Value
from ad_magic.trace.foreign import foreign_graph, is_foreign
from ad_magic.trace.graph import Graph
from ad_magic.trace.result import GradResult

__all__ = ["assert_grad", "assert_matches_numeric", "assert_student_grads", "assert_value"]


def _result(result: Any, helper: str) -> GradResult:
    if not isinstance(result, GradResult):
        raise TypeError(
            f"{helper} needs the GradResult of a %%grad cell (_grad), not {type(result).__name__}"
        )
    return result


def _show(x: Any) -> str:
    return np.array2string(np.asarray(x), precision=8) if np.ndim(x) else f"{float(x):.10g}"


def assert_grad(result: Any, rtol: float = 1e-6, atol: float = 1e-9, **expected: Any) -> None:
    """Each named input's gradient equals the expected number (or array) within tolerance."""
    result = _result(result, "assert_grad")
    if not expected:
        raise TypeError("assert_grad needs at least one expected gradient, e.g. x=-2.98")
    grads, out = result.grads, result.output
    problems = []
    for name, want in expected.items():
        if name not in grads:
            problems.append(f"no input named {name} (inputs: {', '.join(grads) or 'none'})")
            continue
        got, want = np.asarray(grads[name], dtype=float), np.asarray(want, dtype=float)
        if got.shape != want.shape:
            problems.append(f"d{out}/d{name} has shape {got.shape}, expected {want.shape}")
        elif not np.allclose(got, want, rtol=rtol, atol=atol):
            off = float(np.max(np.abs(got - want)))
            problems.append(
                f"d{out}/d{name} is {_show(got)}, expected {_show(want)} (off by {off:.3g})"
            )
    if problems:
        raise AssertionError(_message(problems, rtol, atol))


def assert_value(result: Any, expected: float, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """The output's value equals expected within tolerance."""
    result = _result(result, "assert_value")
    if not np.isclose(result.value, expected, rtol=rtol, atol=atol):
        problem = f"{result.output} is {_show(result.value)}, expected {_show(expected)}"
        raise AssertionError(_message([problem], rtol, atol))


def assert_matches_numeric(
    result: Any, h: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7
) -> None:
    """AD agrees with central differences: every input's gradient (re-running the cell on
    plain floats) and every node's local derivative rule (a student-defined one included)."""
    result = _result(result, "assert_matches_numeric")
    problems = []
    if result.tracer is not None:
        for e in result.check(h).values():
            if not e.ok(rtol, atol):
                problems.append(
                    f"d{result.output}/d{e.name}: AD gives {e.ad:.10g}, central differences "
                    f"{e.numeric:.10g} (off by {e.error:.3g})"
                )
    for c in check_nodes(result.graph, h, rtol):
        if not c.ok:
            node = result.graph[c.node]
            where = f" on line {node.line}" if node.line else ""
            problems.append(
                f"node {c.node} ({node.title}{where}): the rule {c.rule} gives {c.ad:.6g}, "
                f"numerically {c.numeric:.6g}"
            )
            break  # the first wrong rule; later nodes inherit its error
    if problems:
        raise AssertionError(_message(problems, rtol, atol, numeric=True))


def assert_student_grads(root: Any, tol: float = 1e-6) -> None:
    """Every `.grad` in the graph behind root, as the student's own `backward()` left it,
    equals what the chain rule gives (relative tol, absolute near zero).

    root is a micrograd-style value (data, grad, _prev, _op: micrograd's, the
    lecture's or the student's own class) or an ad_magic Value. The message
    names the first wrong node from the output and the likely mistake.
    """
    if isinstance(root, Value):
        graph = Graph.from_value(root)
    elif is_foreign(root):
        graph = foreign_graph(root)
    else:
        raise TypeError(
            "assert_student_grads needs a value with data, grad, _prev and _op, "
            f"not {type(root).__name__}"
        )
    check = check_student(graph, tol)
    if check.ok:
        return
    row = first_wrong(check)
    if row is None:
        raise AssertionError(f"wrong value: {check.diagnosis}")
    text = (
        f"wrong gradient at {who(graph[row.node])}: yours is {fmt(row.yours)}, the chain rule "
        f"gives {compared(row)} ({len(check.wrong)} of {len(check.rows)} gradients wrong)"
    )
    if check.diagnosis:
        text += f"\nlikely mistake: {check.diagnosis}"
    raise AssertionError(text)


def _message(problems: list[str], rtol: float, atol: float, numeric: bool = False) -> str:
    what = "AD disagrees with numerical differentiation" if numeric else "wrong answer"
    head = f"{what} (rtol={rtol:g}, atol={atol:g}):"
    if len(problems) == 1:
        return f"{head} {problems[0]}"
    return "\n".join([head, *(f"  - {p}" for p in problems)])
