"""Forward mode: Dual numbers, the chapter's examples, and agreement with reverse mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ad_magic import Dual, Value, exp, log, sigmoid, sin


def test_chapter_dual_example():
    y = sin(Dual(1.5, 1.0) ** 2 + 1)
    assert f"{y.val:.8f}" == "-0.10819513"
    assert f"{y.deriv:.8f}" == "-2.98238903"
    assert abs(y.deriv - math.cos(1.5**2 + 1) * 2 * 1.5) == 0.0


def test_chapter_mse_loss_in_forward_mode():
    w = Dual(0.5, 1.0)
    residual = sigmoid(w * 2.0) - 0.8
    loss = residual * residual
    assert f"{loss.val:.8f}" == "0.00475292"
    assert f"{loss.deriv:.8f}" == "-0.05421882"


def test_sigmoid_network_forward_matches_reverse():
    grads = {}
    for seed in ("w", "b"):
        w = Dual(0.5, 1.0 if seed == "w" else 0.0)
        b = Dual(-0.1, 1.0 if seed == "b" else 0.0)
        grads[seed] = ((sigmoid(w * 2.0 + b) - 0.8) ** 2).deriv
    assert f"{grads['w']:.8f}" == "-0.07319962"
    assert f"{grads['b']:.8f}" == "-0.03659981"


def test_unseeded_dual_carries_zero_derivative():
    d = exp(Dual(1.0)) * 3
    assert d.val == pytest.approx(3 * math.e) and d.deriv == 0.0


def test_zero_tangent_adds_nothing_even_through_an_infinite_partial():
    # d log(w)/dw is infinite at w = 0, but w is not the seed here.
    x, w = Dual(2.0, 1.0), Dual(0.0, 0.0)
    with pytest.warns(RuntimeWarning):
        y = x + log(w)
    assert y.deriv == 1.0


def test_operators_numbers_and_numpy_scalars():
    d = Dual(4.0, 1.0)
    assert (2 * d).deriv == 2.0 and (1 / d).deriv == -1 / 16
    assert (np.float64(3) * d).deriv == 3.0 and (d**0.5).deriv == 0.25
    assert (2**d).deriv == pytest.approx(16 * math.log(2))
    assert (-d).deriv == -1.0 and abs(-d).deriv == 1.0


def test_comparisons_format_and_conversion():
    d = Dual(1.25, 3.0)
    assert d > 1 and not d > 2 and d <= Dual(1.25)
    assert format(d, ".1f") == "1.2" and repr(d) == "Dual(val=1.25, deriv=3.0)"
    with pytest.raises(TypeError, match=r"\.val"):
        float(d)
    with pytest.raises(TypeError, match="cannot mix"):
        d + Value(1.0)


def test_dual_needs_numbers():
    with pytest.raises(TypeError, match="Dual needs a real number"):
        Dual("x")
