"""Jacobians of vector functions by reverse mode (a row per pass), forward mode (a column
per pass) and central differences, against HIPS autograd's `jacobian`."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import jacobian as autograd_jacobian

from ad_magic import cos, exp, sin, tanh
from ad_magic.cost import tape_of
from ad_magic.engine.value import Value
from ad_magic.trace.graph import Graph
from ad_magic.trace.jacobian import Jacobian


def leaves(name: str, data: np.ndarray) -> np.ndarray:
    out = np.empty(len(data), dtype=object)
    for k, v in enumerate(data):
        out[k] = Value(float(v), label=f"{name}[{k}]")
    return out


def softmax(z, ex=exp):
    e = [ex(v) for v in z]
    s = sum(e)
    return [v / s for v in e]


def network(p, ex=tanh, n_in=3, n_hidden=4, n_out=2):
    """A 2-layer network's logits; p holds W1 (4x3), b1 (4), W2 (2x4), b2 (2), flattened."""
    x = [0.5, -1.0, 2.0]
    k = 0
    W1 = [[p[k + i * n_in + j] for j in range(n_in)] for i in range(n_hidden)]
    k += n_in * n_hidden
    b1 = [p[k + i] for i in range(n_hidden)]
    k += n_hidden
    W2 = [[p[k + i * n_hidden + j] for j in range(n_hidden)] for i in range(n_out)]
    k += n_out * n_hidden
    b2 = [p[k + i] for i in range(n_out)]
    h = [ex(sum(W1[i][j] * x[j] for j in range(n_in)) + b1[i]) for i in range(n_hidden)]
    return [sum(W2[i][j] * h[j] for j in range(n_hidden)) + b2[i] for i in range(n_out)]


def polar(p, c=cos, s=sin):
    r, theta = p[0], p[1]
    return [r * c(theta), r * s(theta)]


RNG = np.random.default_rng(7)
CASES = {
    "softmax": (
        softmax,
        lambda z: anp.array(softmax(list(z), anp.exp)),
        np.array([0.3, -1.2, 2.0, 0.5]),
    ),
    "network": (
        network,
        lambda p: anp.array(network(list(p), anp.tanh)),
        RNG.normal(scale=0.7, size=3 * 4 + 4 + 2 * 4 + 2),
    ),
    "polar": (
        polar,
        lambda p: anp.array(polar(list(p), anp.cos, anp.sin)),
        np.array([2.0, 0.7]),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_jacobian_against_autograd(case, mode):
    ours, theirs, at = CASES[case]
    x = leaves("x", at)
    tape = tape_of(ours(x), x)
    J = tape.jacobian(mode)
    expected = autograd_jacobian(theirs)(at)
    assert J.shape == expected.shape
    np.testing.assert_allclose(np.asarray(J), expected, rtol=1e-12, atol=1e-12)
    numeric = tape.jacobian("numeric")
    np.testing.assert_allclose(np.asarray(numeric), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", sorted(CASES))
def test_pass_counts_are_inputs_forward_and_outputs_reverse(case):
    ours, _, at = CASES[case]
    x = leaves("x", at)
    tape = tape_of(ours(x), x)
    m, n = tape.shape
    calls = {"forward": 0, "backward": 0, "evaluate": 0}
    for name in calls:
        original = getattr(tape, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(tape, name, counted)
    tape.jacobian("forward")
    tape.jacobian("reverse")
    assert calls["forward"] == n == at.size
    assert calls["backward"] == m  # one backward pass per output
    assert calls["evaluate"] == 1  # the values, once, for all of reverse mode's passes
    tape.jacobian("numeric")
    assert calls["evaluate"] == 1 + 2 * n


def test_steps_per_pass_match_the_step_lists():
    x = leaves("x", np.array([0.4, 1.3]))
    y = polar(x)
    y[0].label, y[1].label = "u", "v"
    tape = tape_of(y, x)
    graph = Graph.from_values(y)
    from ad_magic.trace.steps import forward_steps, reverse_steps

    for k, out in enumerate(graph.outputs):
        assert tape.reverse_steps(tape.outputs[k]) == len(reverse_steps(graph, out))
    assert tape.forward_steps() == len(forward_steps(graph, "x[0]"))


def test_an_input_the_outputs_do_not_read_has_a_zero_column():
    x = leaves("x", np.array([1.0, 2.0, 3.0]))
    tape = tape_of([x[0] * x[1], sin(x[0])], x)
    for mode in ("reverse", "forward", "numeric"):
        J = tape.jacobian(mode)
        assert J.column("x[2]") == {"y[0]": 0.0, "y[1]": 0.0}
    J = tape.jacobian()
    assert J["y[0]", "x[1]"] == pytest.approx(1.0)
    assert J[1, 0] == pytest.approx(np.cos(1.0))
    assert J.row("y[0]") == pytest.approx({"x[0]": 2.0, "x[1]": 1.0, "x[2]": 0.0})


def test_jacobian_reads_by_name_and_prints_as_a_table():
    J = Jacobian(np.array([[1.0, 0.5]]), ["y"], ["x", "w"])
    assert J.shape == (1, 2)
    assert J["y", "w"] == 0.5
    with pytest.raises(KeyError, match="'z' is not one of x, w"):
        J["y", "z"]
    text = repr(J)
    assert text.splitlines()[0] == "Jacobian 1 x 2:"
    assert text.splitlines()[2].split() == ["y", "1", "0.5"]


def test_an_unknown_mode_is_refused():
    x = leaves("x", np.array([1.0]))
    with pytest.raises(ValueError, match="'reverse', 'forward' or 'numeric'"):
        tape_of(sin(x[0]), x).jacobian("sideways")
