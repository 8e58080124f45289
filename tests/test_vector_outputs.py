"""Vector outputs under %%grad: the Jacobian, filled a row per backward pass or a column
per forward pass, checked against HIPS autograd; --expect, --check and --cost per output."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import jacobian as autograd_jacobian
from IPython.core.error import UsageError
from support import failure, run

from ad_magic.trace.steps import reverse_steps


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    shell.run_cell("import numpy as np")
    return shell


SOFTMAX = "e = np.exp(z)\np = e / e.sum()\np"

NETWORK = "x = np.array([0.5, -1.0, 2.0])\nh = np.tanh(W1 @ x + b1)\nlogits = W2 @ h + b2\n"

POLAR = "u = r * cos(t)\nv = r * sin(t)\n"


def forward_jacobian(g) -> np.ndarray:
    """J from the forward passes the magic ran: output i's tangent for seed j."""
    outs = g.graph.outputs or [g.graph.output]
    return np.array([[g.graph[o].tangents[s] for s in g.seeds] for o in outs])


def both_modes(g, expected: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(g.jacobian), expected, rtol=1e-12, atol=1e-12)
    assert g.seeds == g.jacobian.col_names  # one forward pass per input
    np.testing.assert_allclose(forward_jacobian(g), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        np.asarray(g.tape.jacobian("forward")), expected, rtol=1e-12, atol=1e-12
    )


def test_softmax_jacobian_against_autograd(ip):
    z = np.array([0.3, -1.2, 2.0, 0.5])
    ip.user_ns["z0"] = z
    run(ip, f"%%grad z=z0\n{SOFTMAX}")
    g = ip.user_ns["_grad"]
    assert g.outputs == ["p[0]", "p[1]", "p[2]", "p[3]"]
    assert g.jacobian.col_names == ["z[0]", "z[1]", "z[2]", "z[3]"]
    both_modes(g, autograd_jacobian(lambda z: anp.exp(z) / anp.exp(z).sum())(z))
    assert g.vector and g.output == "p[0]"
    np.testing.assert_allclose(g.grads["z"], np.asarray(g.jacobian)[0])  # the first row


def test_two_layer_network_logits_against_autograd(ip):
    rng = np.random.default_rng(3)
    params = {
        "W1": rng.normal(size=(4, 3)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(2, 4)),
        "b2": rng.normal(size=2),
    }
    ip.user_ns.update({f"{k}0": v for k, v in params.items()})
    run(ip, f"%%grad W1=W10 b1=b10 W2=W20 b2=b20\n{NETWORK}")
    g = ip.user_ns["_grad"]
    assert g.outputs == ["logits[0]", "logits[1]"]
    assert g.jacobian.shape == (2, 12 + 4 + 8 + 2)
    assert g.jacobian.col_names[:2] == ["W1[0,0]", "W1[0,1]"]

    def logits(flat):
        W1, b1 = flat[:12].reshape(4, 3), flat[12:16]
        W2, b2 = flat[16:24].reshape(2, 4), flat[24:]
        return W2 @ anp.tanh(W1 @ anp.array([0.5, -1.0, 2.0]) + b1) + b2

    flat = np.concatenate([v.ravel() for v in params.values()])
    expected = autograd_jacobian(logits)(flat)
    np.testing.assert_allclose(np.asarray(g.jacobian), expected, rtol=1e-12, atol=1e-12)
    # 26 inputs: more than max_forward_passes, so the magic ran no forward pass itself
    np.testing.assert_allclose(np.asarray(g.tape.jacobian("forward")), expected, rtol=1e-12)
    cost = g.cost
    assert (cost.forward_passes, cost.reverse_passes, cost.runs) == (26, 2, 52)


def test_polar_to_cartesian_with_out_names(ip):
    run(ip, f"%%grad r=2.0 t=0.7 -o u,v\n{POLAR}")
    g = ip.user_ns["_grad"]
    assert g.outputs == ["u", "v"]
    expected = autograd_jacobian(
        lambda p: anp.array([p[0] * anp.cos(p[1]), p[0] * anp.sin(p[1])])
    )(np.array([2.0, 0.7]))
    both_modes(g, expected)
    assert g.jacobian["v", "t"] == pytest.approx(2.0 * np.cos(0.7))
    assert g.gradient("v") == pytest.approx({"r": np.sin(0.7), "t": 2.0 * np.cos(0.7)})


def test_a_list_output_is_a_vector_output(ip):
    run(ip, "%%grad a=1.0 b=2.0\n[a * b, a + b, sin(a)]")
    g = ip.user_ns["_grad"]
    assert g.outputs == ["y[0]", "y[1]", "y[2]"]  # y for a final expression that is no name
    np.testing.assert_allclose(np.asarray(g.jacobian), [[2, 1], [1, 1], [np.cos(1.0), 0]])


def test_steps_per_output_and_per_seed(ip):
    run(ip, f"%%grad r=2.0 t=0.7 -o u,v\n{POLAR}")
    g = ip.user_ns["_grad"]
    to_v = g.steps("reverse", output="v")
    assert to_v[0].equation == "grad(v) = 1"
    assert {s.node for s in to_v} <= {n.id for n in g.graph} - {g.graph.outputs[0]}
    # the last contribution to each input is its entry in v's row of J
    finals = {s.node: s.total for s in to_v}
    ids = dict(g.scalar_inputs)
    assert finals[ids["r"]] == pytest.approx(g.jacobian["v", "r"])
    assert finals[ids["t"]] == pytest.approx(g.jacobian["v", "t"])
    assert g.steps("reverse") == g.steps("reverse", output="u")
    assert len(g.steps("reverse", output="u")) == len(reverse_steps(g.graph, g.graph.outputs[0]))
    seed_t = g.steps("forward", seed="t")
    assert {s.node: s.total for s in seed_t}[g.graph.outputs[1]] == pytest.approx(
        g.jacobian["v", "t"]
    )
    with pytest.raises(ValueError, match="no output 'w'; outputs: u, v"):
        g.steps("reverse", output="w")


def test_pass_counts_and_cost_line(ip):
    run(ip, f"%%grad z=[0.1, 0.2, 0.3]\n{SOFTMAX}")
    g = ip.user_ns["_grad"]
    cost = g.cost
    assert (cost.outputs, cost.inputs) == (3, 3)
    assert cost.reverse_passes == 3 and cost.forward_passes == 3 and cost.runs == 6
    assert cost.reverse_steps == sum(len(g.steps("reverse", output=o)) for o in g.outputs)
    assert cost.forward_steps == sum(len(g.steps("forward", seed=s)) for s in g.seeds)
    assert cost.line().startswith("J is 3 × 3: reverse 3 passes (")
    assert cost.times == {}


def test_cost_option_times_the_three_on_the_recorded_program(ip):
    cell = "runs.append(1)\ny = (x * x).sum()"
    ip.user_ns["runs"] = []
    run(ip, f"%%grad x=[0.5, 1.5, -0.5]\n{cell}")
    plain = len(ip.user_ns["runs"])
    ip.user_ns["runs"] = []
    run(ip, f"%%grad x=[0.5, 1.5, -0.5] --cost --text\n{cell}")
    g = ip.user_ns["_grad"]
    assert len(ip.user_ns["runs"]) == plain  # timing did not run the cell again
    times = g.cost.times
    assert all(times[m] > 0 for m in ("reverse", "forward", "numeric"))
    assert g.cost.line().startswith("J is 1 × 3: reverse 1 pass")
    assert "cost: J is 1 × 3" in g.summary()


def test_expect_per_output(ip):
    run(ip, f'%%grad r=2.0 t=0.0 -o u,v --expect "dv/dt=2.0, du/dr=1, dv/dr=0.5, u=2"\n{POLAR}')
    marks = {e.what: e.right for e in ip.user_ns["_grad"].expectations}
    assert marks == {"dv/dt": True, "du/dr": True, "dv/dr": False, "u": True}


def test_expect_names_an_output_that_is_not_one(ip):
    error = failure(ip, f'%%grad r=2.0 t=0.0 -o u,v --expect "dw/dt=1"\n{POLAR}w = u')
    assert isinstance(error, UsageError) and "the outputs are u, v" in str(error)


def test_check_per_output(ip):
    run(ip, f"%%grad r=2.0 t=0.7 -o u,v --check\n{POLAR}")
    table = ip.user_ns["_grad"].check_table
    assert list(table) == ["du/dr", "du/dt", "dv/dr", "dv/dt"]
    assert table.ok(1e-6, 1e-8)
    assert "dv/dt" in ip.user_ns["_grad"].summary()


def test_text_display_of_a_vector_output(ip):
    run(ip, f"%%grad r=2.0 t=0.7 -o u,v --text\n{POLAR}")
    text = ip.user_ns["_grad"].summary()
    lines = text.splitlines()
    assert lines[0] == "u = 1.53" and lines[1] == "v = 1.288"
    assert "J = d(outputs)/d(inputs), 2 x 2, a row per output:" in text
    assert lines[3].split() == ["r", "t"]
    assert lines[4].split() == ["u", "0.7648", "-1.288"]


def test_a_scalar_output_keeps_its_display(ip):
    run(ip, "%%grad x=1.5\ny = sin(x**2 + 1)")
    g = ip.user_ns["_grad"]
    assert not g.vector and g.outputs == ["y"]
    assert g.summary().splitlines()[:2] == ["y = -0.1082", "  dy/dx = -2.982"]
    assert "J =" not in g.summary()
    assert g.jacobian.shape == (1, 1) and g.jacobian["y", "x"] == pytest.approx(-2.98238903)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-o u,,v", "--out '': not a Python name"),
        ("-o u,u", "a name is given twice"),
        ("-o u,w", "does not assign w"),
        ("-o u,v --order 2", "--order 2 differentiates a scalar output twice; -o u,v is a"),
    ],
)
def test_bad_out_names(ip, line, message):
    error = failure(ip, f"%%grad r=2.0 t=0.7 {line}\n{POLAR}ran = True")
    assert isinstance(error, UsageError) and message in str(error)
    assert "ran" not in ip.user_ns


def test_order_2_of_an_array_output_is_refused(ip):
    error = failure(ip, "%%grad a=1.0 b=2.0 --order 2\n[a * b, a + b]")
    assert isinstance(error, UsageError)
    assert "--order 2 differentiates a scalar output twice; y[0], y[1] is a vector" in str(error)
