"""Free functions over the primitive table: `sin(x)`, `relu(x)`, ...

Each works on a plain number (giving a float), a `Value`, a `Dual`, and
numpy arrays element by element, including object arrays of Values or Duals.
numpy's own ufuncs (`np.sin(v)`, `np.float64(2) * v`) reach the same rows
through `array_ufunc`. On arrays of traced values each such call is reported
to a listening trace as one numpy call (`engine.tensor`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ad_magic.engine import dual, tensor, value
from ad_magic.engine.ops import BY_UFUNC, OPS, Op
from ad_magic.engine.scalar import Scalar, to_float

_COMPARISONS: dict[np.ufunc, Callable[[Any, Any], bool]] = {
    np.less: operator.lt,
    np.less_equal: operator.le,
    np.greater: operator.gt,
    np.greater_equal: operator.ge,
}


def apply(op: Op, *args: Any) -> Any:
    """op on numbers, Values, Duals or arrays of them."""
    if any(isinstance(a, (np.ndarray, list, tuple)) for a in args):
        return _elementwise(op, args)
    modes = {a.mode for a in args if isinstance(a, Scalar)}
    if not modes:
        return op.fn(*(to_float(a, f"{op.name}()") for a in args))
    if modes == {"reverse"}:
        return value.apply(op, args)
    return dual.apply(op, args)  # a Value goes in only as a constant of a nested Dual


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, Scalar):  # a 0-d object array, so numpy does not call us back
        box = np.empty((), dtype=object)
        box[()] = x
        return box
    return np.asarray(x)


def _elementwise(op: Op, args: tuple[Any, ...]) -> Any:
    arrays = [_as_array(a) for a in args]
    if all(a.dtype.kind in "biuf" for a in arrays):
        if op.ufunc is not None:
            return op.ufunc(*arrays)
        return np.vectorize(op.fn, otypes=[float])(*arrays)
    each = np.frompyfunc(lambda *xs: apply(op, *xs), op.arity, 1)
    # One numpy call as a trace sees it (`sigmoid (5,)`); a Tensor in gives a Tensor out.
    out = tensor.report(op.name, tuple(arrays), lambda: each(*arrays))
    return tensor.tensor(out) if any(isinstance(a, tensor.Tensor) for a in args) else out


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict) -> Any:
    """numpy's hook: route a ufunc called on a Value or Dual to its table row."""
    # numpy hands numbers over as 0-d arrays: make them numbers again.
    inputs = tuple(a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a for a in inputs)
    out: Any = kwargs.get("out")
    if method == "__call__" and ufunc in BY_UFUNC and _into_object_array(out, kwargs):
        # In place, as `w += x` on an object array: compute, then fill out.
        out[0][...] = apply(BY_UFUNC[ufunc], *inputs)
        return out[0]
    if method == "__call__" and ufunc in BY_UFUNC and out is not None:
        raise TypeError(
            f"numpy's {ufunc.__name__} cannot write traced values into a number array in "
            "place (out=, or w += x on a float array); write w = w + x instead"
        )
    if method == "__call__" and not kwargs:
        if ufunc in BY_UFUNC:
            return apply(BY_UFUNC[ufunc], *inputs)
        if ufunc in _COMPARISONS and not any(isinstance(a, np.ndarray) for a in inputs):
            # On the scalars themselves, so that a trace records the comparison
            # (the other side as a Python float, so numpy does not call back).
            sides = (a if isinstance(a, Scalar) else to_float(a, ufunc.__name__) for a in inputs)
            return _COMPARISONS[ufunc](*sides)
        if ufunc in (np.positive, np.conjugate) and len(inputs) == 1:
            return inputs[0]  # +v, and a real number's conjugate: the number itself
    rows = ", ".join(f"np.{u.__name__}" for u in BY_UFUNC)
    raise TypeError(
        f"numpy's {ufunc.__name__} (method {method!r}) has no derivative rule in ad_magic; "
        f"traced values support {rows}. Use the .data/.val number if you do not need "
        "its derivative."
    )


def _into_object_array(out: Any, kwargs: dict) -> bool:
    """Only out= is given, and it is one object array (which can hold Values)."""
    return (
        set(kwargs) == {"out"}
        and isinstance(out, tuple)
        and len(out) == 1
        and isinstance(out[0], np.ndarray)
        and out[0].dtype == object
    )


def free_function(op: Op) -> Callable[..., Any]:
    def function(*args: Any) -> Any:
        return apply(op, *args)

    function.__name__ = function.__qualname__ = op.name
    function.__doc__ = f"{op.expr} on a number, Value, Dual or array (element-wise). " + "; ".join(
        op.rule(i) for i in range(op.arity)
    )
    return function


sin = free_function(OPS["sin"])
cos = free_function(OPS["cos"])
tan = free_function(OPS["tan"])
exp = free_function(OPS["exp"])
log = free_function(OPS["log"])
sqrt = free_function(OPS["sqrt"])
tanh = free_function(OPS["tanh"])
sigmoid = free_function(OPS["sigmoid"])
relu = free_function(OPS["relu"])
abs = free_function(OPS["abs"])  # shadows the builtin on purpose: works on Values too
maximum = free_function(OPS["maximum"])
minimum = free_function(OPS["minimum"])

FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (sin, cos, tan, exp, log, sqrt, tanh, sigmoid, relu, abs, maximum, minimum)
}


def _scalar_array_ufunc(
    self: Scalar, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any
) -> Any:
    return array_ufunc(ufunc, method, inputs, kwargs)


Scalar.__array_ufunc__ = _scalar_array_ufunc  # type: ignore[attr-defined]
