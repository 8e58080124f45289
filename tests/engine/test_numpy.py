"""numpy interop: ufuncs on Values and Duals, object arrays, free functions on arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ad_magic
from ad_magic import Dual, Value, relu, sigmoid, sin
from ad_magic.engine import tensor
from ad_magic.engine.ops import BY_UFUNC


def values(*xs):
    return np.array([Value(x, label=f"x{i}") for i, x in enumerate(xs)], dtype=object)


@pytest.mark.parametrize("ufunc", list(BY_UFUNC), ids=lambda u: u.__name__)
@pytest.mark.parametrize("cls", [Value, Dual])
def test_every_table_ufunc_dispatches_to_its_row(ufunc, cls):
    op = BY_UFUNC[ufunc]
    args = (0.6, 1.7)[: op.arity]
    out = ufunc(*(cls(a, 1.0) if cls is Dual else cls(a) for a in args))
    assert isinstance(out, cls)
    assert out.primal == pytest.approx(float(ufunc(*args)), rel=1e-12)


def test_numpy_scalar_on_the_left_stays_in_the_graph():
    v = Value(3.0)
    y = np.float64(2.0) * v + np.int32(1)
    y.backward()
    assert isinstance(y, Value) and y.data == 7.0 and v.grad == 2.0


def test_maximum_with_zero_is_relu_like():
    for x0, expected in ((2.0, 1.0), (-2.0, 0.0)):
        v = Value(x0)
        y = np.maximum(v, 0)
        y.backward()
        assert y.data == max(x0, 0.0) and v.grad == expected


def test_unknown_ufunc_is_named():
    with pytest.raises(TypeError, match="floor"):
        np.floor(Value(1.5))
    with pytest.raises(TypeError, match="arctan2"):
        np.arctan2(Dual(1.0), 2.0)


def test_dot_matmul_sum_mean_on_object_arrays():
    w = values(1.0, 2.0, 3.0)
    x = np.array([0.5, -1.0, 2.0])
    for make, expected in (
        (lambda: np.dot(w, x), 4.5),
        (lambda: w @ x, 4.5),
        (lambda: sum(w * x), 4.5),
        (lambda: np.sum(w * x), 4.5),
        (lambda: np.mean(w * x), 1.5),
    ):
        for p in w:
            p.grad = 0.0
        y = make()
        assert isinstance(y, Value) and y.data == pytest.approx(expected)
        y.backward()
        scale = 1 / 3 if expected == 1.5 else 1.0
        assert [p.grad for p in w] == pytest.approx(list(x * scale))


def test_matrix_vector_product_gradients():
    W = np.array([[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]], dtype=object)
    x = np.array([1.0, -1.0])
    h = W @ x
    loss = np.sum(h * h)
    loss.backward()
    # d/dW_ij sum_k (W x)_k^2 = 2 (W x)_i x_j
    expected = 2 * np.outer(np.array([-1.0, -1.0]), x)
    assert np.array([[p.grad for p in row] for row in W]) == pytest.approx(expected)


@pytest.mark.parametrize(
    "name", ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs"]
)
def test_free_functions_on_numbers_arrays_and_traced(name):
    f = getattr(ad_magic, name)
    x = 0.7
    out = f(x)
    assert type(out) is float
    arr = f(np.array([x, 1.1]))
    assert arr.dtype == float and arr[0] == pytest.approx(out, rel=1e-12)
    assert f(2) == pytest.approx(f(2.0))
    assert f(Value(x)).data == out
    assert f(Dual(x)).val == out
    objs = f(values(x, 1.1))
    assert objs.dtype == object and isinstance(objs[0], Value) and objs[0].data == out
    duals = f(np.array([Dual(x, 1.0)], dtype=object))
    assert isinstance(duals[0], Dual) and duals[0].val == out


def test_numpy_ufuncs_on_object_arrays_call_the_methods():
    xs = values(0.1, 0.2)
    ys = np.tanh(np.sin(xs))
    total = np.sum(ys)
    total.backward()
    assert xs[0].grad == pytest.approx((1 - math.tanh(math.sin(0.1)) ** 2) * math.cos(0.1))


def test_free_functions_broadcast_mixed_inputs():
    out = ad_magic.maximum(values(-1.0, 2.0), 0.0)
    assert [v.data for v in out] == [0.0, 2.0]
    out = sigmoid(np.array([0.0, 0.0]))
    assert list(out) == [0.5, 0.5]
    assert relu([-1.0, 3.0]).tolist() == [0.0, 3.0]
    assert sin(np.float64(0.0)) == 0.0


def test_free_function_refuses_mixed_modes():
    with pytest.raises(TypeError, match="cannot mix"):
        ad_magic.maximum(Value(1.0), Dual(1.0))


def test_a_real_number_is_its_own_conjugate():
    v, d = Value(-1.5), Dual(2.0, 3.0)
    assert v.conjugate() is v and d.conjugate() is d
    assert np.conjugate(v) is v and np.conj(d) is d  # numpy's ufunc asks for the method


X0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
SPREADS = {  # numpy's var and std on an object array, method and function alike
    "h.var()": lambda h: h.var(),
    "h.std()": lambda h: h.std(),
    "np.var(h, ddof=1)": lambda h: np.var(h, ddof=1),
    "np.std(h)": lambda h: np.std(h),
    "h.var(axis=0)": lambda h: (h.var(axis=0) * np.array([1.0, 2.0, 3.0])).sum(),
    "np.std(h, axis=1)": lambda h: np.sum(np.std(h, axis=1, keepdims=True) * 2.0),
}


@pytest.mark.parametrize("name", list(SPREADS))
def test_var_and_std_of_object_arrays_match_numpy_and_finite_differences(name):
    f = SPREADS[name]
    leaves = np.vectorize(Value, otypes=[object])(X0)
    y = f(leaves)
    assert isinstance(y, Value) and y.data == pytest.approx(float(f(X0)), rel=1e-14)
    y.backward()
    grads = np.vectorize(lambda v: v.grad, otypes=[float])(leaves)
    h = 1e-6
    for i in np.ndindex(X0.shape):
        up, down = X0.copy(), X0.copy()
        up[i] += h
        down[i] -= h
        assert grads[i] == pytest.approx((f(up) - f(down)) / (2 * h), rel=1e-6, abs=1e-9)
        # Forward mode, seeded at this element, gives the same derivative.
        duals = np.vectorize(Dual, otypes=[object])(X0)
        duals[i] = Dual(X0[i], 1.0)
        out = f(duals)
        assert isinstance(out, Dual) and out.deriv == pytest.approx(grads[i], rel=1e-12)


# Tensors: object arrays whose numpy calls a trace can see (engine.tensor)


@pytest.fixture
def heard(monkeypatch):
    """What numpy calls on Tensors report: (name, operand shapes, result shape)."""
    calls = []
    depth = [0]

    def listen(name, shapes, run):
        depth[0] += 1
        try:
            result = run()
        finally:
            depth[0] -= 1
        if not depth[0]:  # the calls numpy makes inside one are part of it
            calls.append((name, shapes, tensor.shape_of(result)))
        return result

    monkeypatch.setattr(tensor, "on_call", listen)
    return calls


def test_tensor_calls_report_name_and_shapes(heard):
    W = tensor.tensor(np.array([[Value(0.1 * (i + j)) for j in range(3)] for i in range(4)]))
    x = tensor.tensor(values(1.0, 2.0, 3.0))
    h = np.tanh(W @ x + 1.0)
    s = h.sum()
    d = np.dot(h, h)
    m = np.mean(h)
    r = sigmoid(h)
    assert [type(a).__name__ for a in (W @ x, h, r)] == ["Tensor"] * 3
    assert repr(h).startswith("array([Value(")  # shown as the object array it is
    # Functions that take lists of arrays work on Tensors inside them as on object arrays.
    stacked = np.stack([h, np.concatenate([h[:2], h[2:]])])
    assert type(stacked).__name__ == "Tensor" and stacked.shape == (2, 4)
    assert [v.data for v in stacked[1]] == [v.data for v in h]
    assert isinstance(s, Value) and isinstance(d, Value) and isinstance(m, Value)
    assert heard[:7] == [
        ("matmul", [(4, 3), (3,)], (4,)),
        ("add", [(4,), ()], (4,)),
        ("tanh", [(4,)], (4,)),
        ("sum", [(4,)], ()),
        ("dot", [(4,), (4,)], ()),
        ("mean", [(4,)], ()),  # one call: the sum and division inside are its own
        ("sigmoid", [(4,)], (4,)),
    ]


def test_tensors_compute_as_plain_object_arrays(heard):
    A = np.array([[Value(1.0), Value(-2.0)], [Value(0.5), Value(3.0)]])
    v = values(0.3, -0.7)
    plain = (np.tanh(A @ v) * 2.0).sum()
    t = (np.tanh(tensor.tensor(A) @ tensor.tensor(v)) * 2.0).sum()
    assert t.data == plain.data
    plain.backward()
    grads = [a.grad for a in A.flat]
    for a in [*A.flat, *v]:
        a.grad = 0.0
    t.backward()
    assert [a.grad for a in A.flat] == grads
    w = tensor.tensor(values(1.0, 2.0))
    before = w
    w += v  # in place stays the same Tensor
    assert w is before and [e.data for e in w] == [1.3, 1.3]
    tensor.on_call = None
    assert np.tanh(w).shape == (2,) and heard[-1][0] == "add"  # nobody listens: nothing heard


def test_tensor_methods_report_as_the_one_call_they_are(heard):
    W = tensor.tensor(np.array([[Value(0.1 * (i - j)) for j in range(3)] for i in range(2)]))
    x = tensor.tensor(values(1.0, 2.0, 3.0))
    h = W @ x
    m = h.mean()  # numpy's mean sums, then divides: one call, `mean`
    d = W.dot(x)  # ndarray.dot runs in C and calls no ufunc: told as `dot`
    c = x.cumsum()
    t = (W.T @ W).sum()
    v, sd = x.var(), W.std(axis=0)  # numpy's var subtracts, conjugates, multiplies, sums
    assert isinstance(m, Value) and isinstance(t, Value) and isinstance(v, Value)
    assert type(d).__name__ == type(c).__name__ == type(sd).__name__ == "Tensor"
    assert heard == [
        ("matmul", [(2, 3), (3,)], (2,)),
        ("mean", [(2,)], ()),
        ("dot", [(2, 3), (3,)], (2,)),
        ("cumsum", [(3,)], (3,)),
        ("matmul", [(3, 2), (2, 3)], (3, 3)),  # .T is a view, no call: its shape shows
        ("sum", [(3, 3)], ()),
        ("var", [(3,)], ()),
        ("std", [(2, 3)], (3,)),
    ]
    assert v.data == pytest.approx(np.var([1.0, 2.0, 3.0]), rel=1e-15)
    # The same numbers and gradients as on plain object arrays.
    plain_W, plain_x = W.view(np.ndarray), x.view(np.ndarray)
    assert m.data == pytest.approx((plain_W @ plain_x).mean().data, rel=1e-15)
    assert [v.data for v in d] == [v.data for v in plain_W.dot(plain_x)]
    m.backward()
    assert [v.grad for v in x] == pytest.approx([0.05, -0.05, -0.15])  # W's column means
