"""Arrays a cell hands on without naming them are tensors too: `np.tanh(np.array([a, b]))`,
`np.array([x, y]) @ W`, `np.dot(np.array(...), np.array(...))` each record one numpy call
with its shapes and are drawn as one box, as on a named array; float arrays stay plain
numpy, the namespace holds what a plain run gives it, and the gradients are unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from support import failure, run, traced

from ad_magic.render import to_svg
from ad_magic.render.groups import View
from ad_magic.widget.widget import GradWidget

W23 = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.25]])

# (magic line, cell, the numpy calls recorded, the cell on floats)
CELLS: list[tuple[str, str, list[str], Callable[..., float]]] = [
    (
        "a=0.5 b=-1.0",
        "y = np.sum(np.tanh(np.array([a, b]) * 2))",
        ["multiply (2,), () → (2,)", "tanh (2,)", "sum (2,) → ()"],
        lambda a, b: np.sum(np.tanh(np.array([a, b]) * 2)),
    ),
    (
        "x=0.5 y=-1.0",
        "W = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.25]])\n"
        "out = np.array([x, y]) @ W\n"
        "loss = np.sum(out ** 2)",
        ["matmul (2,)·(2×3) → (3,)", "power (3,), () → (3,)", "sum (3,) → ()"],
        lambda x, y: np.sum((np.array([x, y]) @ W23) ** 2),
    ),
    (
        "x=0.5 y=-1.0 w1=2.0 w2=3.0",
        "np.dot(np.array([x, y]), np.array([w1, w2]))",
        ["dot (2,)·(2,) → ()"],
        lambda x, y, w1, w2: np.dot(np.array([x, y]), np.array([w1, w2])),
    ),
    (  # a list comprehension inside np.array, straight into numpy calls
        "x=np.array([0.5,-1.0,2.0])",
        "z = np.mean(np.exp(np.array([tanh(v) * 2 for v in x])))",
        ["exp (3,)", "mean (3,) → ()"],
        lambda x: np.mean(np.exp(np.array([np.tanh(v) * 2 for v in x]))),
    ),
    (  # a method on an unnamed array
        "a=0.5 b=-1.0 c=2.0",
        "y = np.stack([np.array([a, b]), np.array([b, c])]).prod(axis=0).sum()",
        ["prod (2×2) → (2,)", "sum (2,) → ()"],
        lambda a, b, c: np.stack([np.array([a, b]), np.array([b, c])]).prod(axis=0).sum(),
    ),
    (  # the items of a list comprehension handed on (Python's sum adds them)
        "a=0.5 b=-1.0 c=2.0",
        "rows = [[a, b], [b, c]]\ny = np.sum(sum([np.array(r) for r in rows]) * c)",
        [
            "add (), (2,) → (2,)",
            "add (2,)",
            "multiply (2,), () → (2,)",
            "sum (2,) → ()",
        ],
        lambda a, b, c: np.sum(sum([np.array(r) for r in [[a, b], [b, c]]]) * c),
    ),
    (  # a function of the cell given an unnamed array; both branches of an if-expression
        "a=0.5 b=-1.0",
        "def layer(v):\n"
        "    return np.tanh(v * 2)\n"
        "y = np.sum(layer(np.array([a, b]) if a > 0 else np.array([b, a])) - 1)",
        ["multiply (2,), () → (2,)", "tanh (2,)", "subtract (2,), () → (2,)", "sum (2,) → ()"],
        lambda a, b: np.sum(np.tanh(np.array([a, b]) * 2) - 1),
    ),
]


def calls(result: Any) -> list[str]:
    """The labels of the numpy calls a trace recorded (not its array inputs)."""
    return [op.label for op in result.graph.arrays if op.shapes]


def inputs_of(line: str) -> dict[str, Any]:
    return {k: eval(v, {"np": np}) for k, v in (item.split("=", 1) for item in line.split())}


def central(f: Callable[..., float], args: dict[str, Any], h: float = 1e-6) -> dict[str, Any]:
    """d f / d each argument (element by element for an array) by central differences."""
    grads: dict[str, Any] = {}
    for name, x in args.items():
        x = np.asarray(x, dtype=float)
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            g[i] = (f(**{**args, name: up}) - f(**{**args, name: down})) / (2 * h)
        grads[name] = g if x.shape else float(g)
    return grads


@pytest.mark.parametrize(
    ("line", "cell", "labels", "plain"),
    CELLS,
    ids=["tanh", "matmul", "dot", "comprehension", "method", "list-items", "function-ifexp"],
)
def test_arrays_handed_on_unnamed_record_their_numpy_calls(
    shell: Any, line: str, cell: str, labels: list[str], plain: Callable[..., float]
) -> None:
    result = traced(shell, line, cell)
    assert calls(result) == labels
    args = inputs_of(line)
    assert result.value == pytest.approx(float(plain(**args)), rel=1e-12)
    expected = central(lambda **kw: float(plain(**kw)), args)
    for name, grad in expected.items():
        np.testing.assert_allclose(result.grads[name], grad, rtol=1e-6, atol=1e-9)
    assert result.check().ok()
    # Forward mode (a pass per input element) gives the backward pass's derivatives.
    output = result.graph[result.graph.output]
    assert len(result.seeds) == sum(np.size(x) for x in args.values())
    for seed in result.seeds:
        name, _, index = seed.partition("[")
        grad = result.grads[name]
        if index:
            grad = grad[tuple(int(i) for i in index.rstrip("]").split(","))]
        assert output.tangents[seed] == pytest.approx(grad, rel=1e-12)


def test_the_first_view_draws_an_unnamed_array_as_boxes_by_numpy_call(shell: Any) -> None:
    cell = "W = np.linspace(-1, 1, 128).reshape(2, 64)\ny = np.sum(np.tanh(np.array([a, b]) @ W))"
    result = traced(shell, "a=0.5 b=-1.0", cell)
    graph = result.graph
    view = View(graph)
    assert view.grouped  # 449 nodes: past the budget
    drawn = [view.groups[u].label if u in view.groups else graph[u].name for u in view.units()]
    assert drawn == ["a", "b", "matmul (2,)·(2×64) → (64,)", "tanh (64,)", "sum (64,) → ()", "y"]
    assert sorted(view.names().values()) == sorted(drawn[2:5])
    svg = to_svg(graph, view)
    assert svg.count('class="node group tensor"') == 3  # drawn as tensors, as a named one is
    assert ">matmul (2,)·(2×64)</text>" in svg and ">tanh (64,)</text>" in svg
    # tanh (64,) opens in place to blocks of its elements, each a step at that level.
    w = GradWidget(result)
    tanh = next(g for g in w.view.groups.values() if g.label == "tanh (64,)")
    top = w.counts["reverse"]
    w.toggle(tanh.id)
    blocks = [w.view.groups[u] for u in w.view.units() if w.view.groups.get(u) in tanh.children]
    assert [g.label for g in blocks] == [f"tanh[{i}] … tanh[{i + 15}]" for i in (0, 16, 32, 48)]
    assert w.counts["reverse"] == top + 3
    w.toggle(tanh.id)
    assert w.counts["reverse"] == top
    W = np.linspace(-1, 1, 128).reshape(2, 64)
    d = 1 - np.tanh(np.array([0.5, -1.0]) @ W) ** 2
    np.testing.assert_allclose([result.grads["a"], result.grads["b"]], W @ d, rtol=1e-12)


def test_float_arrays_stay_plain_and_the_namespace_gets_what_a_plain_run_gives(
    shell: Any,
) -> None:
    cell = (
        "F = np.ones(3) * np.arange(3.0)\n"
        "held = [np.array([a, b]), np.arange(2.0) + 1]\n"
        "s = float(np.sum(np.sqrt(np.arange(4.0)) * 2))\n"
        "y = a * s + np.array([a, b]).sum()"
    )
    result = traced(shell, "a=0.5 b=-1.0", cell)
    ns = shell.user_ns
    assert type(ns["F"]) is np.ndarray and ns["F"].dtype == float
    assert list(ns["F"]) == [0.0, 1.0, 2.0]
    # An array a list holds is the plain array np.array made; a float array stays one.
    assert [type(x) for x in ns["held"]] == [np.ndarray, np.ndarray]
    assert ns["held"][1].dtype == float and list(ns["held"][1]) == [1.0, 2.0]
    assert ns["s"] == float(np.sum(np.sqrt(np.arange(4.0)) * 2))
    # Only the call on Values is recorded; nothing of the float arrays.
    assert calls(result) == ["sum (2,) → ()"]
    assert result.grads == pytest.approx({"a": ns["s"] + 1.0, "b": 1.0}, rel=1e-12)
    assert "__ad_magic_seen__" not in ns and "__ad_magic_bind__" not in ns


def test_a_function_the_cell_defines_works_after_it_and_grad_cells_nest(shell: Any) -> None:
    cell = "def f(v):\n    return np.sum(np.tanh(np.array(v)) * 2)\ny = f([a, b])"
    result = traced(shell, "a=0.5 b=-1.0", cell)
    # A function is left as written (it runs after the cell too): the array it builds
    # itself from a list is an object array, its calls not seen; the numbers are right.
    assert result.graph.arrays == [] and result.check().ok()
    assert run(shell, "z = f([0.5, -1.0])").success  # no name of the trace left in f
    assert shell.user_ns["z"] == pytest.approx(2 * np.sum(np.tanh([0.5, -1.0])))
    cell = (
        "get_ipython().run_cell_magic('grad', 'w=3.0', 'v = np.sum(np.array([w, w]) * 2)')\n"
        "y = np.sum(np.array([x, x]) ** 2)"
    )
    run(shell, f"%%grad x=2.0\n{cell}")
    outer = shell.user_ns["_grad"]
    assert calls(outer) == [
        "power (2,), () → (2,)",
        "sum (2,) → ()",
    ]
    assert outer.grads == {"x": 8.0} and shell.user_ns["w"].grad == 4.0
    assert "__ad_magic_seen__" not in shell.user_ns


def test_a_bare_cell_s_unnamed_arrays_are_tensors(shell: Any) -> None:
    shell.reset(new_session=False)
    run(shell, "import numpy as np\nfrom ad_magic import Value")
    cell = (
        "a = Value(0.5, label='a')\n"
        "b = Value(-1.0, label='b')\n"
        "y = np.sum(np.tanh(np.array([a, b]) * 2)) + np.array([a, b]).var()"
    )
    run(shell, f"%%grad\n{cell}")
    result = shell.user_ns["_grad"]
    assert calls(result) == [
        "multiply (2,), () → (2,)",
        "tanh (2,)",
        "sum (2,) → ()",
        "var (2,) → ()",
    ]

    def plain(a: float, b: float) -> float:
        return float(np.sum(np.tanh(np.array([a, b]) * 2)) + np.array([a, b]).var())

    expected = central(plain, {"a": 0.5, "b": -1.0})
    assert result.grads == pytest.approx(expected, rel=1e-6)
    assert result.check().ok()


def test_a_numpy_error_in_a_call_on_a_tensor_ends_at_the_cell_s_line(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.reset(new_session=False)
    run(shell, "import numpy as np")
    capsys.readouterr()
    cell = "h = a * 2\ny = np.sum(np.tanh(np.array([a, b]) @ np.ones((3, 2))))"
    error = failure(shell, f"%%grad a=0.5 b=1.0\n{cell}")
    assert isinstance(error, ValueError) and str(error).startswith("matmul: ")
    text = capsys.readouterr()
    shown = (text.out + text.err).split("Traceback")[-1]
    assert "----> 2 y = np.sum(np.tanh(np.array([a, b]) @ np.ones((3, 2))))" in shown
    assert "ad_magic" not in shown  # as a plain cell's: the cell's line, numpy's message
    assert "__ad_magic_seen__" not in shell.user_ns
    result = traced(shell, "a=0.5 b=1.0", "y = np.sum(np.array([a, b]) @ np.ones((2, 3)))")
    assert calls(result) == ["matmul (2,)·(2×3) → (3,)", "sum (3,) → ()"]  # the next one works
