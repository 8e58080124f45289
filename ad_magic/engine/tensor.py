"""Arrays of traced values that tell what numpy did to them: `W @ x`, `np.tanh(h)`, `h.sum()`.

An object array of Values computes element by element, so one `W @ x` makes
dozens of scalar nodes. `Tensor` is an object array (an `np.ndarray`
subclass, viewed, not copied) whose numpy calls report to `on_call` while a
trace listens: the call's name, its operands' shapes and a function that
runs it, so the tracer can note which nodes that one call made. Results of
numpy calls on a Tensor are Tensors again, so a whole computation reports.
With nobody listening it is a plain object array.

    >>> w = tensor(np.array([Value(1.0), Value(2.0)]))
    >>> type(np.tanh(w) + 1).__name__
    'Tensor'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

import numpy as np

Shape = tuple[int, ...]

# Set by a trace: (name, operand shapes, run) -> run's result. It must call run().
on_call: Callable[[str, list[Shape], Callable[[], Any]], Any] | None = None

_REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}
_ACCUMULATIONS = {"add": "cumsum", "multiply": "cumprod"}
# Methods numpy runs as several calls (h.mean() sums, then divides; h.var() also
# subtracts, conjugates and multiplies) or none it tells (W.dot(x)): each reported as
# the one call it is.
_METHODS = ("mean", "var", "std", "dot", "cumsum", "cumprod")


def shape_of(x: Any) -> Shape:
    """An operand's shape: an array's, () for a number or a Value."""
    return tuple(x.shape) if isinstance(x, np.ndarray) else ()


def call_name(ufunc: np.ufunc, method: str) -> str:
    """`np.add.reduce` reads `sum`, `np.tanh(h)` reads `tanh`, `np.add.outer` `add.outer`."""
    if method == "__call__":
        return ufunc.__name__
    if method == "reduce" and ufunc.__name__ in _REDUCTIONS:
        return _REDUCTIONS[ufunc.__name__]
    if method == "accumulate" and ufunc.__name__ in _ACCUMULATIONS:
        return _ACCUMULATIONS[ufunc.__name__]
    return f"{ufunc.__name__}.{method}"


def report(name: str, operands: tuple[Any, ...], run: Callable[[], Any]) -> Any:
    """run(), told to the trace listening (if any) as one numpy call on these operands."""
    __tracebackhide__ = True  # an error in the call shows numpy's frames, as in a plain cell
    hook = on_call
    if hook is None:
        return run()
    return hook(name, [shape_of(a) for a in operands], run)


def _plain(x: Any) -> Any:
    return x.view(np.ndarray) if isinstance(x, Tensor) else x


def _wrap(x: Any) -> Any:
    if isinstance(x, np.ndarray) and not isinstance(x, Tensor) and x.dtype == object:
        return x.view(Tensor)
    return x


class Tensor(np.ndarray):
    """An object array whose numpy calls a trace can see (see the module's docstring)."""

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))  # it reads as the object array it is

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        args = tuple(_plain(a) for a in inputs)
        outs = kwargs.get("out")
        if outs:
            kwargs["out"] = tuple(_plain(a) for a in outs)
        result = report(
            call_name(ufunc, method), args, partial(getattr(ufunc, method), *args, **kwargs)
        )
        if outs:  # in place, as w += x: the arrays given
            return outs[0] if len(outs) == 1 else outs
        return tuple(map(_wrap, result)) if isinstance(result, tuple) else _wrap(result)

    def __array_function__(
        self, func: Any, types: Iterable[Any], args: Iterable[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        # numpy's functions (np.dot, np.sum, np.mean) as numpy implements them; the
        # calls they make inside are part of this one.
        __tracebackhide__ = True
        arrays = tuple(a for a in args if isinstance(a, np.ndarray))
        run = partial(super().__array_function__, func, types, args, kwargs)
        result = report(func.__name__, arrays, run)
        return tuple(map(_wrap, result)) if isinstance(result, tuple) else _wrap(result)


def _method(name: str) -> Callable[..., Any]:
    def call(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        plain = self.view(np.ndarray)
        args = tuple(_plain(a) for a in args)
        operands = (plain, *(a for a in args if isinstance(a, np.ndarray)))
        result = report(name, operands, partial(getattr(plain, name), *args, **kwargs))
        return _wrap(result)

    call.__name__ = name
    call.__doc__ = f"`ndarray.{name}`, reported as one call."
    return call


for _name in _METHODS:
    setattr(Tensor, _name, _method(_name))


def seen(x: Any) -> Any:
    """x, or, if it is a plain object array, a Tensor view of it (the same elements).

    A `%%grad` cell passes each array it hands on unnamed through this
    (`np.tanh(np.array([a, b]))`, see `trace.cellcode`); anything else, a float
    array included, is given back as it is.
    """
    if x.__class__ is _ARRAY and x.dtype == _OBJECT:
        return x.view(Tensor)
    return x


_ARRAY, _OBJECT = np.ndarray, np.dtype(object)  # (seen runs for every call handed on)


def tensor(array: np.ndarray) -> Tensor:
    """The same object array (a view), as a Tensor: numpy calls on it can be traced."""
    return np.asarray(array, dtype=object).view(Tensor)
