"""%%grad --order 2 in a real IPython shell: the Hessian by forward-over-reverse, against
HIPS autograd, its text, --check, hvp, the second pass's steps and the gradient graph."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from IPython.core.error import UsageError
from support import run

from ad_magic.engine import dual, value
from ad_magic.trace.hessian import VALUES


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    shell.run_cell("import numpy as np")
    yield shell
    assert value.on_create is None and dual.on_create is None  # nothing left hooked


def test_hessian_of_a_two_input_function(ip, capsys):
    run(ip, "%%grad x=1.5 w=0.5 --order 2 --text\ny = sin(x**2 * w + 1)")
    g = ip.user_ns["_grad"]
    f = lambda v: anp.sin(v[0] ** 2 * v[1] + 1)  # noqa: E731
    expected = autograd.hessian(f)(np.array([1.5, 0.5]))
    np.testing.assert_allclose(g.hessian, expected, rtol=1e-12)
    assert g.hessian[0, 1] == pytest.approx(g.hessian[1, 0], rel=1e-13)
    printed = capsys.readouterr().out
    assert "Hessian of y" in printed and f"{expected[0, 1]:.4g}" in printed


def test_hvp_without_forming_the_hessian(ip):
    run(ip, "%%grad a=0.3 b=-1.2 c=0.8 --order 2\nloss = tanh(a*b + c)**2 + exp(a*c) / (1 + b**2)")
    g = ip.user_ns["_grad"]

    def f(v):
        a, b, c = v
        return anp.tanh(a * b + c) ** 2 + anp.exp(a * c) / (1 + b**2)

    x = np.array([0.3, -1.2, 0.8])
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.normal(size=3)
        hvp = autograd.grad(lambda x, v=v: np.dot(autograd.grad(f)(x), v))(x)
        np.testing.assert_allclose(g.hvp(v), hvp, rtol=1e-11, atol=1e-13)
    with pytest.raises(ValueError, match="one number per input"):
        g.hvp([1.0, 2.0])


def test_too_many_inputs_keep_hvp_but_not_the_hessian(ip):
    ip.run_line_magic("config", "GradMagics.max_hessian_inputs = 2")
    try:
        run(ip, "%%grad w=[0.5, -0.3, 0.2] --order 2\nloss = np.sum(w**3) * w[0]")
    finally:
        ip.run_line_magic("config", "GradMagics.max_hessian_inputs = 32")
    g = ip.user_ns["_grad"]
    with pytest.raises(ValueError, match="max_hessian_inputs=2"):
        g.hessian  # noqa: B018
    assert "hvp(v) still works" in g.summary()
    f = lambda w: anp.sum(w**3) * w[0]  # noqa: E731
    v = np.array([1.0, 2.0, -1.0])
    expected = autograd.hessian(f)(np.array([0.5, -0.3, 0.2])) @ v
    np.testing.assert_allclose(g.hvp(v), expected, rtol=1e-12)


def test_check_compares_the_hessian_with_second_order_differences(ip, capsys):
    run(ip, "%%grad x=0.7 y=1.1 --order 2 --check --text\nz = x * exp(y) / (x + y)")
    g = ip.user_ns["_grad"]
    table = g.hessian_check
    assert set(table) == {"x,x", "y,x", "y,y"}  # the lower triangle: H is symmetric
    assert table.ok(1e-5, 1e-7)
    assert table["y,x"].ad == g.hessian[1, 0]
    printed = capsys.readouterr().out
    assert "second-order central differences, h=0.0001" in printed
    assert printed.count("pass") >= 3 + 2 and "FAIL" not in printed


def test_check_flags_a_wrong_second_derivative(ip, capsys):
    # A primitive whose rule is right at first order only where it is tried: 2a for a**2
    # is right, but a rule 2 for a is right too, and its second derivative then is 0,
    # not 2: the first-order check passes, the second-order one fails.
    run(
        ip,
        "import ad_magic\n"
        "@ad_magic.primitive(derivative=lambda a: 2 * a.data if hasattr(a, 'data') else 2 * a)\n"
        "def sq(a):\n    return a * a",
    )
    try:
        run(ip, "%%grad x=1.5 --order 2 --check --text\ny = sq(x)")
    finally:
        ip.run_cell("ad_magic.remove_primitive('sq')")
    g = ip.user_ns["_grad"]
    assert g.check_table.ok() and not g.hessian_check.ok(1e-4, 1e-4)
    assert g.hessian[0, 0] == 0.0
    assert "FAIL" in capsys.readouterr().out


def test_the_second_pass_is_narrated(ip):
    run(ip, "%%grad x=1.5 w=0.5 --order 2\ny = sin(x**2 * w + 1)")
    g = ip.user_ns["_grad"]
    steps = g.steps("second", "w")
    second = g.second.graph
    dydx = next(n for n in second if n.name == "dy/dx")
    last = next(s for s in steps if s.node == dydx.id)
    assert last.value == pytest.approx(g.hessian[0, 1], rel=1e-14)  # d(dy/dx)/dw
    seeded = [s for s in steps if second[s.node].kind == "input"]
    assert {second[s.node].name: s.value for s in seeded} == {"x": 0.0, "w": 1.0}
    texts = [s.equation for s in steps]
    assert any(t.startswith("tangent(dy/dx) = ") for t in texts)
    assert any("-sin(" in t for t in texts)  # the second derivative of sin, cos's rule
    with pytest.raises(ValueError, match="no second pass"):
        g.steps("second", "q")


def test_the_gradient_graph_is_grouped_by_first_order_rule(ip):
    run(ip, "%%grad x=1.5 --order 2\ny = sin(x**2 + 1)")
    g = ip.user_ns["_grad"]
    second = g.second.graph
    groups = {n.calls[0].split("#")[0] for n in second if n.calls}
    assert VALUES in groups
    assert "grad(x**2 + 1) += cos(x**2 + 1) * grad(y)" in groups
    assert "grad(x) += 2*x**(2-1) * grad(x**2)" in groups
    # The function's nodes the rules read keep the first graph's names and values
    # (sin's rule reads its argument, not y itself).
    first = {n.title: n.value for n in g.graph if n.kind == "op"}
    own = [n for n in second if n.calls and n.calls[0] == VALUES and n.kind != "const"]
    shown = {n.name: n.value for n in own}
    assert shown == {k: first[k] for k in ("x**2", "x**2 + 1")} | {"x": 1.5}
    assert second[second.output].name == "dy/dx"
    assert second[second.output].value == g.grads["x"]


def test_inputs_the_output_ignores_or_uses_linearly(ip):
    run(ip, "%%grad x=2.0 q=3.0 u=1.0 --order 2\ny = 3 * x + q * q")
    g = ip.user_ns["_grad"]
    np.testing.assert_array_equal(g.hessian, [[0, 0, 0], [0, 2, 0], [0, 0, 0]])


def test_no_hessian_without_order_2(ip):
    run(ip, "%%grad x=1.0\ny = x * x")
    g = ip.user_ns["_grad"]
    assert g.second is None and "Hessian" not in g.summary()
    with pytest.raises(ValueError, match="--order 2"):
        g.hessian  # noqa: B018


@pytest.mark.parametrize(
    "line",
    ["x=1 --order 3", "x=1 --order two", "x=1 --order 2 --quiz", 'x=1 --order 2 --expect "y=1"'],
)
def test_a_wrong_order_is_a_usage_error(ip, line):
    with pytest.raises(UsageError, match="--order"):
        ip.run_cell_magic("grad", line, "y = x * x")


NETWORK = """\
h = np.tanh(X @ W1 + b1)
pred = h @ w2
loss = np.mean((pred - t) ** 2) + 0.01 * np.sum(W1 ** 2)
"""


def test_hessian_of_a_small_networks_loss(ip):
    rng = np.random.default_rng(3)
    X, t = rng.normal(size=(5, 2)), rng.normal(size=5)
    W1, b1, w2 = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=3)
    ip.user_ns.update(X=X, t=t, W1_=W1, b1_=b1, w2_=w2)
    run(ip, f"%%grad W1=W1_ b1=b1_ w2=w2_ --order 2\n{NETWORK}")
    g = ip.user_ns["_grad"]

    def loss(p):
        w1, bb, ww = p[:6].reshape(2, 3), p[6:9], p[9:]
        h = anp.tanh(X @ w1 + bb)
        return anp.mean((h @ ww - t) ** 2) + 0.01 * anp.sum(w1**2)

    p = np.concatenate([W1.ravel(), b1, w2])
    np.testing.assert_allclose(g.hessian, autograd.hessian(loss)(p), rtol=1e-10, atol=1e-12)
    labels = [label for label, _ in g.scalar_inputs]
    assert labels[:2] == ["W1[0,0]", "W1[0,1]"] and labels[-1] == "w2[2]"


def test_hessian_of_a_sigmoid_neurons_loss_with_relu(ip):
    cell = (
        "z = w[0] * 0.5 + w[1] * -1.5 + w[2]\n"
        "a = sigmoid(z) + relu(w[0] - w[1]) * 0.1\n"
        "loss = (a - 0.3) ** 2 + log(1 + w[2] ** 2)"
    )
    run(ip, f"%%grad w=[0.4, -0.2, 0.1] --order 2 --check\n{cell}")
    g = ip.user_ns["_grad"]

    def loss(w):
        z = w[0] * 0.5 + w[1] * -1.5 + w[2]
        a = 1 / (1 + anp.exp(-z)) + anp.maximum(w[0] - w[1], 0.0) * 0.1
        return (a - 0.3) ** 2 + anp.log(1 + w[2] ** 2)

    expected = autograd.hessian(loss)(np.array([0.4, -0.2, 0.1]))
    np.testing.assert_allclose(g.hessian, expected, rtol=1e-11, atol=1e-14)
    assert g.hessian_check.ok(1e-5, 1e-6)
