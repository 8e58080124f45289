"""Bare %%grad: the micrograd lecture's cells, verbatim, with nothing on the magic line."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from lecture import DATA, EXP_TANH, EXPRESSION, MLP_CLASSES, NEURON, TRAINING
from support import run

from ad_magic import Value
from ad_magic.engine import dual, value
from ad_magic.trace.steps import num

LECTURE_L = {"a": 6.0, "b": -4.0, "c": -2.0, "f": 4.0}
LECTURE_NEURON = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0}


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    shell.user_ns["Value"] = Value
    yield shell
    assert value.on_create is None and dual.on_create is None  # nothing left hooked


def test_the_expression_l(ip):
    run(ip, "%%grad --check" + EXPRESSION)
    g = ip.user_ns["_grad"]
    assert g.output == "L" and g.value == -8.0
    assert g.grads == LECTURE_L and g.inputs == ["a", "b", "c", "f"]
    out = g.graph.output
    assert {k: g.tangents[k][out] for k in LECTURE_L} == LECTURE_L  # forward mode, per leaf
    assert all(e.ok(1e-6, 1e-6) for e in g.check_table.values())  # central differences
    assert [s.equation for s in g.steps()][1] == "grad(d) += f * grad(L) = (-2) * 1 = -2"
    assert ip.user_ns["L"].data == -8.0  # the cell's bindings persist, as after any cell


@pytest.mark.parametrize("cell", [NEURON + "o = n.tanh(); o.label = 'o'\no.backward()", EXP_TANH])
def test_the_neuron(ip, cell):
    run(ip, "%%grad\n" + cell)
    g = ip.user_ns["_grad"]
    assert g.output == "o" and round(g.value, 4) == 0.7071
    assert {k: round(g.grads[k], 12) for k in LECTURE_NEURON} == LECTURE_NEURON
    assert round(g.grads["b"], 12) == 0.5


def test_a_leaf_used_twice(ip):
    run(ip, "%%grad\na = Value(3.0, label='a')\nb = a + a; b.label = 'b'\nb.backward()")
    g = ip.user_ns["_grad"]
    assert g.grads == {"a": 2.0} and g.output == "b"


def test_names_label_then_variable_then_node_id(ip):
    run(ip, "%%grad\nu = Value(1.0)\nt = Value(2.0, label='w')\nv = Value(5.0, label='w')\n"
            "y = u * t * v * Value(3.0)")  # fmt: skip
    g = ip.user_ns["_grad"]
    by_id = {n.id: n for n in g.nodes}
    assert list(g.grads)[:2] == ["u", "w"]
    assert by_id[g.inputs[2]].kind == "input" and g.inputs[2].startswith("n")  # w again
    assert by_id[g.inputs[3]].value == 3.0 and g.inputs[3].startswith("n")
    assert g.grads["u"] == 30.0 and g.grads["w"] == 15.0
    assert next(n for n in g.nodes if n.name == "w").shown == "w (t)"


def test_an_mlp_made_in_the_cell(ip):
    run(ip, MLP_CLASSES)
    run(ip, "%%grad\nrandom.seed(1)\nn = MLP(3, [4, 4, 1])\nx = [2.0, 3.0, -1.0]\ny = n(x)")
    g = ip.user_ns["_grad"]
    params = ip.user_ns["n"].parameters()
    assert len(g.inputs) == len(params) == 41
    assert "layers[0].neurons[1].w[2]" in g.inputs and "layers[2].neurons[0].b" in g.inputs
    assert g.output == "y"
    assert any("max_forward_passes=16" in n for n in g.notes)
    # The text display and repr list the first six gradients and say how many more.
    text, names = g.summary(), list(g.grads)
    shown = [line for line in text.splitlines() if line.startswith("  dy/d")]
    assert shown == [f"  dy/d{k} = {num(g.grads[k])}" for k in names[:6]]
    assert "  … and 35 more (all in .grads)" in text.splitlines()
    assert repr(g).endswith(f"{names[5]}={num(g.grads[names[5]])} … and 35 more; 126 nodes>")
    assert names[6] not in repr(g) and len(g.grads) == 41  # .grads itself keeps them all
    w = ip.user_ns["n"].layers[0].neurons[1].w[2]
    assert w.grad == g.grads["layers[0].neurons[1].w[2]"]  # the cell's leaves get .grad
    # The same gradients as the model's own backward pass.
    run(ip, "for p in n.parameters():\n    p.grad = 0.0\ny.backward()")
    assert g.grads["layers[0].neurons[1].w[2]"] == pytest.approx(w.grad, rel=1e-12)


def test_the_training_loop(ip):
    run(ip, MLP_CLASSES + "random.seed(1337)\nn = MLP(3, [4, 4, 1])\n" + DATA)
    run(ip, "%%grad" + TRAINING)
    g = ip.user_ns["_grad"]
    assert g.output.startswith("loss")
    assert g.value == ip.user_ns["loss"].data
    assert "the output is loss (its last value, line 5), not p; pick another with -o NAME" in (
        g.notes
    )
    # The loop's own backward() calls leave p.grad = d(final loss)/dp: the same as shown.
    params = ip.user_ns["n"].parameters()
    w = ip.user_ns["n"].layers[1].neurons[2].w[3]
    assert g.grads["layers[1].neurons[2].w[3]"] == pytest.approx(w.grad, rel=1e-9, abs=1e-12)
    assert len(g.inputs) == len(params)


def test_the_loop_runs_once(ip):
    """The cell's training happens once, as in a plain run of it."""
    setup = MLP_CLASSES + "random.seed(1337)\nn = MLP(3, [4, 4, 1])\n" + DATA
    run(ip, setup + TRAINING)
    plain = [p.data for p in ip.user_ns["n"].parameters()]
    run(ip, setup)
    run(ip, "%%grad --check" + TRAINING)
    assert [p.data for p in ip.user_ns["n"].parameters()] == plain


def test_expect_and_retrace(ip):
    run(ip, '%%grad --expect "dL/da=6, dL/dc=-2, L=-8"' + EXPRESSION)
    g = ip.user_ns["_grad"]
    assert all(e.right for e in g.expectations)
    again = g.tracer.retrace({"a": 3.0})  # a slider on a: the cell runs once more
    assert again.value == -2 * (3.0 * -3.0 + 10.0) and again.grads["b"] == -6.0


def test_seeds_and_bad_lines(ip):
    run(ip, "%%grad --seed a --seed f" + EXPRESSION)
    assert ip.user_ns["_grad"].seeds == ["a", "f"]
    with pytest.raises(UsageError, match="the cell made no Value to differentiate"):
        ip.run_cell_magic("grad", "", "y = 2.0 * 3")


MLP_CELL = "random.seed(1)\nn = MLP(3, [4, 4, 1])\nx = [2.0, 3.0, -1.0]\ny = n(x)"


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        # Known only once the cell ran: a name the cell assigns that is no leaf, a node id
        # or a container element that is none (the namespace is put back after the run).
        ("--seed e", EXPRESSION, "--seed e: not a leaf of this cell; its leaves: a, b, c, f"),
        ("--seed a --seed n99", EXPRESSION, "--seed n99: not a leaf of this cell; its leaves"),
        (
            "--seed layers[0].neurons[1].w[7]",
            MLP_CELL,
            "--seed layers[0].neurons[1].w[7]: not a leaf of this cell; did you mean "
            "layers[0].neurons[1].w[2] or layers[0].neurons[1].w[1] or layers[0].neurons[1].w[0]? "
            "its leaves: layers[0].neurons[0].w[0], layers[0].neurons[0].w[1], "
            "layers[0].neurons[0].w[2], layers[0].neurons[0].b, layers[0].neurons[1].w[0], "
            "layers[0].neurons[1].w[1] … and 35 more",
        ),
        # Known before the run: a name the cell never writes.
        ("--seed q", EXPRESSION, "--seed q: the cell neither assigns nor labels q"),
    ],
)
def test_an_unknown_seed_is_one_line_naming_the_leaves(ip, line, cell, message):
    run(ip, MLP_CLASSES)
    run(ip, "%%grad x=1.5 -r kept\ny = x * x")
    before = dict(ip.user_ns)
    with pytest.raises(UsageError) as error:
        ip.run_cell_magic("grad", line, cell)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert ip.user_ns.keys() == before.keys()
    assert all(ip.user_ns[k] is v for k, v in before.items()), "the namespace changed"
    run(ip, "%%grad --seed a" + EXPRESSION)  # the next %%grad works
    assert ip.user_ns["_grad"].grads == LECTURE_L and ip.user_ns["_grad"].seeds == ["a"]


def test_the_widget_offers_each_leaf(ip):
    from ad_magic.widget.widget import GradWidget

    run(ip, "%%grad" + EXPRESSION)
    w = GradWidget(ip.user_ns["_grad"])
    assert [i["name"] for i in w.inputs] == ["a", "b", "c", "f"]
