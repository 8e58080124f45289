"""%grad NAME --check on a student's own Value class, and assert_student_grads."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError
from lecture import NEURON, lecture_value
from support import run

from ad_magic.classroom.studentcheck import fmt
from ad_magic.testing import assert_student_grads
from ad_magic.widget.widget import GradWidget

TANH = NEURON + "o = n.tanh(); o.label = 'o'\no.backward()\n"
EXP_TANH = NEURON + "e = (2*n).exp()\no = (e - 1) / (e + 1)\no.label = 'o'\no.backward()\n"
TWICE = "a = Value(3.0, label='a')\nb = a + a; b.label = 'b'\no = b\nb.backward()\n"


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    return shell


def student(ip, bug, cell):
    """Define the lecture's class with one bug, run the cell, %grad o --check."""
    run(ip, lecture_value(bug))
    run(ip, cell)
    ip.run_line_magic("grad", "o --check")
    return ip.user_ns["_grad"]


@pytest.mark.parametrize("cell", [TANH, EXP_TANH, TWICE], ids=["tanh", "exp-tanh", "a+a"])
def test_a_correct_class_passes(ip, cell):
    g = student(ip, None, cell)
    assert g.student_check.ok and g.student_check.diagnosis == "" and g.flagged is None
    rows = len(g.student_check.rows)
    assert f"your gradients against the chain rule: {rows} of {rows} right" in g.notes
    assert_student_grads(ip.user_ns["o"])


def test_the_lecture_neuron_numbers(ip):
    g = student(ip, None, TANH)
    assert {k: round(g.grads[k], 6) for k in ("x1", "w1", "x2", "w2")} == {
        "x1": -1.5,
        "w1": 1.0,
        "x2": 0.5,
        "w2": 0.0,
    }


# bug, cell, words the diagnosis must use, the node it blames (by label or name)
BUGS = [
    ("tanh", TANH, ["tanh node o", "(1 - 0.7071**2)", "missing the `(1 - t**2)` factor"], "n"),
    ("assign", TWICE, ["a (n0) is used twice", "half its gradient", "`=` instead of `+=`"], "a"),
    ("pow", EXP_TANH, ["** node", "wrong `**` rule", "self.data**(other - 1)"], None),
    ("exp", EXP_TANH, ["exp node", "missing the factor `out.data`"], None),
    ("mul", TANH, ["* node x", "not its own data"], None),
    ("unhooked", TANH, ["no gradient reached n", "`out._backward = _backward` missing"], "n"),
]


@pytest.mark.parametrize(("bug", "cell", "words", "blamed"), BUGS, ids=[b[0] for b in BUGS])
def test_each_classic_bug_is_named(ip, bug, cell, words, blamed):
    g = student(ip, bug, cell)
    check = g.student_check
    assert not check.ok
    for w in words:
        assert w in check.diagnosis, (w, check.diagnosis)
    assert g.flagged is not None and g.flagged.id == check.first
    if blamed is not None:
        assert g.flagged.name == blamed
    text = g.summary()
    assert "likely mistake: " + check.diagnosis in text and "WRONG" in text
    with pytest.raises(AssertionError, match="wrong gradient at") as err:
        assert_student_grads(ip.user_ns["o"])
    assert "likely mistake: " in str(err.value) and words[-1] in str(err.value)


def test_the_first_wrong_gradient_shows_yours_beside_the_chain_rule(ip):
    """Yours, the chain rule's and the difference: in the notes (widget, HTML, text), in the
    text table of every wrong gradient, and in assert_student_grads' message."""
    g = student(ip, "tanh", TANH)
    o, n = ip.user_ns["o"], ip.user_ns["n"]
    right = (1 - o.data**2) * o.grad  # through tanh, by hand
    yours = n.grad
    assert yours != pytest.approx(right)
    line = (
        f"first wrong gradient, do/dn (n8): yours {fmt(yours)}, chain rule {fmt(right)}, "
        f"difference +{fmt(yours - right)} (yours - chain rule)"
    )
    assert line in g.notes
    assert line in GradWidget(g).notes  # the widget shows the notes
    text = g.summary()
    assert "  note: " + line in text
    table = text.split("where they differ:\n")[1].split("\n10 nodes:")[0].splitlines()
    assert len(table) == len(g.student_check.wrong) == 8
    for row in table:  # yours=... chain rule=... difference=... WRONG, each its own column
        found = re.search(r"yours=(\S+) +chain rule=(\S+) +difference=(\S+) +WRONG$", row)
        assert found is not None, row
        mine, rule, diff = map(float, found.groups())
        assert diff == pytest.approx(mine - rule, abs=1e-4)
    assert len({row.index("yours=") for row in table}) == 1
    with pytest.raises(AssertionError, match=r"gives 0\.5, difference \+0\.5 \(yours - chain"):
        assert_student_grads(o)
    # Right gradients (a correct class, a wrong value alone): no such line.
    assert not any("first wrong gradient" in x for x in student(ip, None, TANH).notes)
    run(ip, "a = Value(2.0, label='a')\nb = a * 3.0; b.label = 'b'\nb.backward()\nb.data = 7.0")
    ip.run_line_magic("grad", "b --check")
    assert not any("first wrong gradient" in x for x in ip.user_ns["_grad"].notes)


def test_backward_twice(ip):
    g = student(ip, None, TANH + "o.backward()\n")
    assert "backward() called twice without zeroing" in g.student_check.diagnosis
    g = student(ip, None, TANH + "o.backward()\no.backward()\n")
    assert "exactly what 3 calls of backward() leave" in g.student_check.diagnosis


def test_no_backward_and_wrong_forward(ip):
    run(ip, lecture_value())
    run(ip, NEURON + "o = n.tanh(); o.label = 'o'")
    ip.run_line_magic("grad", "o --check")
    assert ip.user_ns["_grad"].student_check.diagnosis == (
        "every gradient is 0: call o.backward() first"
    )
    check = student(ip, "forward", TANH).student_check
    assert "tanh node o (n9): its data is 1.0, but tanh(0.8814) = 0.7071" in check.diagnosis
    assert not check.ok and check.first == "n9"
    with pytest.raises(AssertionError, match=r"likely mistake: tanh node o .* its data is 1\.0"):
        assert_student_grads(ip.user_ns["o"])


def test_a_wrong_value_alone_is_named(ip):
    run(ip, lecture_value())
    run(ip, "a = Value(2.0, label='a')\nb = a * 3.0; b.label = 'b'\nb.backward()\nb.data = 7.0")
    ip.run_line_magic("grad", "b --check")
    check = ip.user_ns["_grad"].student_check
    assert not check.wrong and not check.ok  # the gradients are right, the value is not
    # (micrograd keeps parents in a set: either order)
    assert re.search(
        r"\* node b \(n2\): its data is 7.0, but (2.0\*3.0|3.0\*2.0) = 6.0", check.diagnosis
    )
    with pytest.raises(AssertionError, match=r"wrong value: \* node b"):
        assert_student_grads(ip.user_ns["b"])


def test_micrograd_value_under_grad(ip):
    run(ip, "from micrograd.engine import Value\nfrom micrograd.nn import MLP\nimport random\n"
            "random.seed(3)\nmodel = MLP(3, [4, 4, 1])\n"
            "xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5]]\nys = [1.0, -1.0]\n"
            "loss = sum((model(x) - y)**2 for x, y in zip(xs, ys))\nloss.backward()")  # fmt: skip
    text = ip.run_line_magic("grad", "loss --check --text")
    g = ip.user_ns["_grad"]
    assert g.student_check.ok and "note: your gradients against the chain rule:" in text
    w = ip.user_ns["model"].layers[0].neurons[1].w[2]
    assert g.grads["layers[0].neurons[1].w[2]"] == w.grad
    run(ip, "loss.backward()")  # again, without zeroing
    ip.run_line_magic("grad", "loss --check")
    assert "backward() called twice" in ip.user_ns["_grad"].student_check.diagnosis


def test_grad_of_an_ad_magic_value_checks_its_rules(ip):
    run(ip, "from ad_magic import Value\nx = Value(1.5, label='x')\ny = (x**2 + 1).sin()")
    ip.run_line_magic("grad", "y --check")
    g = ip.user_ns["_grad"]
    assert g.node_checks and all(c.ok for c in g.node_checks) and g.student_check is None


def test_grad_of_something_else_is_a_usage_error(ip):
    run(ip, "thing = [1, 2]")
    with pytest.raises(UsageError, match="a list, not a Value; %grad draws values with data"):
        ip.run_line_magic("grad", "thing")


def test_assert_student_grads_needs_a_value():
    with pytest.raises(TypeError, match="needs a value with data, grad, _prev and _op"):
        assert_student_grads(3.0)
