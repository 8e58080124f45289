"""One run of the cell per %%grad: forward mode and --check read the recorded program.

Driven through a real IPython shell. The cell's side effects happen once,
gradients by input come from the leaves the magic made whatever the cell did
to the containers holding them, and forward tangents and central differences
from the record agree with running the cell again (the old way) wherever
running it again is harmless.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import run

from ad_magic.engine.check import check_grad
from ad_magic.engine.functions import FUNCTIONS
from ad_magic.trace.cellcode import BIND


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    shell.run_cell("import numpy as np")
    return shell


# -- side effects happen once ----------------------------------------------------------


@pytest.mark.parametrize("check", ["", " --check"])
def test_the_cell_runs_once(ip, check):
    run(ip, "data = [1., 2., 3., 4., 5., 6., 7., 8.]")
    run(ip, f"%%grad x=1.0 w=2.0{check}\nd = data.pop()\ny = x*w*d")
    assert ip.user_ns["data"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # one pop
    g = ip.user_ns["_grad"]
    assert g.grads == {"x": 16.0, "w": 8.0}
    assert g.tangents["x"][g.graph.output] == 16.0 and g.tangents["w"][g.graph.output] == 8.0
    if check:
        assert g.check_table.ok() and g.check_table["x"].numeric == pytest.approx(16.0)


MODEL = """
import random
from ad_magic import Value
def make_model():
    random.seed(3)
    return [[Value(random.uniform(-1, 1)) for _ in range(2)], Value(0.1)]
"""
TRAIN = """for k in range(20):
    w, b = params[0], params[1]
    loss = sum(((w[0]*x0 + w[1]*x1 + b).tanh() - t)**2 for x0, x1, t in zip(xs[:2], xs[2:], ys))
    for p in [*w, b]:
        p.grad = 0.0
    loss.backward()
    for p in [*w, b]:
        p.data += -0.1 * p.grad
"""


def test_a_training_loop_under_check_trains_the_model_once(ip, capsys):
    run(ip, MODEL + "ys = [0.5, -0.3]")
    run(ip, "params = make_model()\nxs = [Value(v) for v in (0.3, -0.7, 1.2, 0.4)]\n" + TRAIN)
    plain = [p.data for p in [*ip.user_ns["params"][0], ip.user_ns["params"][1]]]
    run(ip, "params = make_model()")
    run(ip, "%%grad xs=[0.3, -0.7, 1.2, 0.4] --check\n" + TRAIN)
    traced = [p.data for p in [*ip.user_ns["params"][0], ip.user_ns["params"][1]]]
    assert traced == plain  # the model trained exactly as one plain run trains it
    table = ip.user_ns["_grad"].check_table
    assert table.ok() and len(table) == 4
    assert "FAIL" not in capsys.readouterr().out


# -- gradients by input come from the leaves the magic made -----------------------------


@pytest.mark.parametrize(
    ("cell", "grad"),
    [
        ("w *= 2\ny = w.sum()", [2.0, 2.0]),
        ("w[0] = w[0]*5\ny = w.sum()", [5.0, 1.0]),
        ("w = w * 2\ny = w.sum()", [2.0, 2.0]),
    ],
)
def test_cells_that_change_their_input_arrays(ip, cell, grad):
    run(ip, f"%%grad w=[1.0, 2.0] --check\n{cell}")
    g = ip.user_ns["_grad"]
    assert g.grads["w"].tolist() == grad
    assert [g.tangents[s][g.graph.output] for s in ("w[0]", "w[1]")] == grad
    assert g.check_table.ok()


def test_a_rebound_input_shows_primed(ip):
    run(ip, "%%grad x=2.0\nx = x * 3\ny = x * x")
    g = ip.user_ns["_grad"]
    assert g.grads["x"] == 36.0
    names = [n.name for n in g.nodes if n.name]
    assert names == ["x", "x'", "y"]


def test_labels_and_data_reads_work_in_forward_mode(ip):
    run(ip, '%%grad x=1.5 --check\nx.label = "x"\na = x * x.data\ny = sin(a + 1)')
    g = ip.user_ns["_grad"]
    assert not g.notes and not g.forward_note
    assert g.tangents["x"][g.graph.output] == pytest.approx(g.grads["x"], rel=1e-12)
    assert g.check_table.ok()


# -- --check across branches ----------------------------------------------------------------


def test_a_nudge_across_a_kink_is_reported_not_failed(ip, capsys):
    run(ip, "%%grad x=0.0 --check\ny = relu(x) + 2*x")
    table = ip.user_ns["_grad"].check_table
    entry = table["x"]
    assert entry.ad == 2.0 and entry.numeric == pytest.approx(2.5)  # one-sided across the kink
    assert "relu at its kink on line 1" in entry.note and table.ok()
    out = capsys.readouterr().out
    assert "skip: a nudge of ±1e-06 flips relu at its kink" in out and "FAIL" not in out


def test_a_recorded_comparison_that_a_nudge_flips_is_named(ip):
    run(ip, "%%grad x=1.0 --check\nif x >= 1:\n    y = relu(x - 1)\nelse:\n    y = x")
    entry = ip.user_ns["_grad"].check_table["x"]
    assert entry.note.startswith("a nudge of ±1e-06 flips the comparison 1 >= 1 on line 1")
    assert "(and 1 more)" in entry.note  # the relu kink on line 2 as well


def test_a_wrong_derivative_still_fails(ip, capsys):
    run(ip, "import ad_magic")
    run(ip, "@ad_magic.primitive(derivative=lambda a: 2 * a**2)\ndef cube(a):\n    return a**3")
    try:
        run(ip, "%%grad x=1.5 --check\ny = cube(x)")
        entry = ip.user_ns["_grad"].check_table["x"]
        assert not entry.note and not entry.ok()  # rule 4.5, the function's slope 6.75
        assert entry.numeric == pytest.approx(6.75)
        assert "FAIL" in capsys.readouterr().out
    finally:
        run(ip, "ad_magic.remove_primitive('cube')")


# -- the record agrees with running the cell again, where that is harmless --------------

CELLS = [
    ("x=1.5", "y = sin(x**2 + 1)"),
    ("x=2.0 w=0.5 b=-0.1", "y_hat = sigmoid(w*x + b)\nloss = (y_hat - 0.8)**2"),
    ("a=3.0", "b = a * a\nc = b + b"),
    ("x=0.7", "h = x\nfor i in range(30):\n    h = tanh(h * 0.9 + 0.1)\ny = h"),
    ("W=np.array([[1.0, 2.0], [3.0, 4.0]]) v=[0.5, -1]", "y = np.sum(np.dot(W, v)**2)"),
    ("x=1.3 y=-0.4", "z = maximum(x, y) * exp(y) / sqrt(abs(x) + 1)\nout = log(z * z + 2)"),
    ("x=0.3", "def f(u):\n    return u**3 - 2*u\ny = f(f(x)) if x > 0 else x"),
]


def _rerun(cell: str, out: str):
    """The cell as a function of its inputs, run afresh on whatever numbers it is given."""

    def f(**inputs):
        ns = {**FUNCTIONS, "np": np, BIND: lambda name, obj: obj, **inputs}
        exec(cell, ns)
        return ns[out]

    return f


@pytest.mark.parametrize(("line", "cell"), CELLS)
def test_forward_and_check_from_the_record_match_reruns(ip, line, cell):
    run(ip, f"%%grad {line}\n{cell}")
    g = ip.user_ns["_grad"]
    inputs = {i.name: i.data for i in g.tracer.inputs}
    reference = check_grad(_rerun(cell, g.tracer.out or g.output), mode="forward", **inputs)
    checked = g.check()
    out = g.graph.output
    for label, entry in reference.items():
        assert g.tangents[label][out] == pytest.approx(entry.ad, rel=1e-12, abs=1e-15)
        assert checked[label].numeric == pytest.approx(entry.numeric, rel=1e-9, abs=1e-12)
        assert checked[label].ad == pytest.approx(entry.ad, rel=1e-12, abs=1e-15)
