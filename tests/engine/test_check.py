"""check_grad: AD against central differences, in both modes, on scalars and arrays."""

from __future__ import annotations

import numpy as np
import pytest

from ad_magic import check_grad, sigmoid, sin


def chapter(x):
    return sin(x**2 + 1)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_chapter_example_agrees(mode):
    result = check_grad(chapter, x=1.5, mode=mode)
    entry = result["x"]
    assert f"{entry.ad:.8f}" == "-2.98238903"
    assert entry.error < 1e-8 and result.ok()
    assert "x" in repr(result) and mode in repr(result)


def test_sigmoid_network_inputs():
    result = check_grad(lambda w, b: (sigmoid(w * 2.0 + b) - 0.8) ** 2, w=0.5, b=-0.1)
    assert f"{result['w'].ad:.8f}" == "-0.07319962"
    assert f"{result['b'].ad:.8f}" == "-0.03659981"
    assert result.ok(rtol=1e-6)


def test_array_inputs_per_element():
    w0 = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = np.array([1.0, 3.0])
    result = check_grad(lambda w: np.sum(w @ x), w=w0)
    assert list(result) == ["w[0,0]", "w[0,1]", "w[1,0]", "w[1,1]"]
    assert [e.ad for e in result.values()] == pytest.approx([1.0, 3.0, 1.0, 3.0])
    assert result.ok()


def test_a_wrong_derivative_is_caught():
    class Wrong:  # a function whose AD path disagrees with its plain-float path
        def __call__(self, x):
            return x * 3.0 if isinstance(x, float) else x * 2.0

    result = check_grad(Wrong(), x=1.0)
    assert not result.ok() and result["x"].error == pytest.approx(1.0)


def test_output_that_ignores_an_input_has_zero_gradient():
    result = check_grad(lambda x, y: x * 2.0, x=1.0, y=5.0)
    assert result["y"].ad == 0.0 and result["y"].numeric == 0.0 and result.ok()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({}, TypeError), ({"x": 1.0, "h": 0.0}, ValueError), ({"x": 1.0, "mode": "x"}, ValueError)],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        check_grad(chapter, **kwargs)
