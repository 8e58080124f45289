"""Student-defined primitives: a function with your own derivative rule, as a row of the table.

    @ad_magic.primitive(derivative=lambda a: 3 * a**2)
    def cube(a):
        return a**3

    cube(Value(2.0))                  # one graph node, op cube; backward uses the rule
    ad_magic.remove_primitive("cube")

The row joins the primitive table for the session, so Value and Dual get a
`.cube()` method, `cube` works on numbers, Values, Duals and arrays, %%grad
cells see it without an import, each call is one node like a built-in op's,
and `%%grad --check` compares the rule with a numeric derivative of the
function, flagging the node if they disagree. Defining a primitive again
under the same name replaces it. A function of two arguments takes one rule
per argument: `derivative=(d_da, d_db)`, each called as `d(a, b)`. A rule
written with operators and ad_magic's functions can be differentiated again
(second derivatives); one that uses `math` works for first derivatives only.
"""

from __future__ import annotations

import inspect
import keyword
import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

from ad_magic.engine import ops
from ad_magic.engine.dual import Dual
from ad_magic.engine.functions import FUNCTIONS, free_function
from ad_magic.engine.ops import Op
from ad_magic.engine.scalar import install_row, uninstall_row
from ad_magic.engine.value import Value

# Points where a new primitive and its rule are tried before the row is added.
_PROBES = ((0.7, 1.3), (1.3, 0.7), (0.3, 2.1), (-0.6, 1.7), (2.5, -0.4))

_defined: dict[str, Op] = {}  # name -> row, for the primitives defined this session


def primitive(
    fn: Callable[..., float] | None = None,
    *,
    derivative: Callable[..., float] | Sequence[Callable[..., float]],
    name: str | None = None,
    rule: str | Sequence[str] | None = None,
) -> Any:
    """Add fn, with its derivative rule, to the primitive table; the function to call.

    fn takes one or two floats. derivative is a function of the same
    arguments (one per argument, as a tuple, for two). rule is the derivative
    written in a and b for the step narration, e.g. "3*a**2". Raises
    TypeError, leaving the table as it was, if the rule has the wrong number
    of arguments or fails where fn is defined. Use as a decorator, or call
    as primitive(fn, derivative=...).
    """
    if fn is None:
        return lambda f: primitive(f, derivative=derivative, name=name, rule=rule)
    name = str(name or getattr(fn, "__name__", ""))
    _check_name(name)
    arity = _arity(fn, name)
    rules = (derivative,) if callable(derivative) else tuple(derivative)
    if len(rules) != arity or not all(map(callable, rules)):
        raise TypeError(
            f"primitive {name} takes {arity} argument(s), so derivative needs "
            f"{'one function' if arity == 1 else 'a tuple of 2 functions (d/da, d/db)'}"
        )
    for i, d in enumerate(rules):
        _check_arity(d, arity, f"primitive {name}: derivative" + f" d/d{'ab'[i]}" * (arity > 1))
    value = _plain(fn, name, "")
    partials = tuple(
        _plain(d, name, f"the derivative d/d{'ab'[i]} of ") for i, d in enumerate(rules)
    )
    _try(value, partials, name)
    args = "a, b"[: 3 * arity - 2]
    derivs: tuple[str, ...]
    if rule is None:
        derivs = (f"{name}'(a)",) if arity == 1 else (f"d{name}/da", f"d{name}/db")
    else:
        derivs = (rule,) if isinstance(rule, str) else tuple(rule)
        if len(derivs) != arity:
            raise TypeError(f"primitive {name}: rule needs one formula per argument ({arity})")
    op = Op(name, name, f"{name}({args})", value, tuple(_drop_y(p) for p in partials), derivs)
    ops.add_row(op)
    install_row(op)
    _defined[name] = op
    FUNCTIONS[name] = function = free_function(op)
    function.__doc__ = f"{name}, a student-defined primitive. {fn.__doc__ or ''}".strip()
    return function


def remove_primitive(name: str) -> None:
    """Take a student-defined primitive out of the table, Value, Dual and %%grad again."""
    if name not in _defined:
        raise ValueError(
            f"no student-defined primitive named {name!r} (defined: "
            f"{', '.join(_defined) or 'none'}); built-in rows cannot be removed"
        )
    op = _defined.pop(name)
    ops.remove_row(name)
    uninstall_row(op)
    FUNCTIONS.pop(name, None)


def defined() -> dict[str, Op]:
    """The student-defined rows of this session, by name."""
    return dict(_defined)


def _check_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise TypeError(f"a primitive needs a name that is a Python identifier, not {name!r}")
    if name in _defined:
        return  # redefining one's own primitive
    if name in ops.OPS or hasattr(Value, name) or hasattr(Dual, name):
        raise TypeError(
            f"{name} is already a built-in operation or attribute of Value; "
            "give the primitive another name (name=...)"
        )


def _arity(fn: Callable[..., Any], name: str) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        raise TypeError(f"primitive {name}: cannot read the arguments of {fn!r}") from None
    n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
            for p in params)  # fmt: skip
    if n not in (1, 2):
        raise TypeError(f"primitive {name} takes {n} arguments; a primitive takes 1 or 2")
    return n


def _check_arity(d: Callable[..., Any], arity: int, what: str) -> None:
    try:
        inspect.signature(d).bind(*[0.0] * arity)
    except TypeError:
        names = "(a)" if arity == 1 else "(a, b)"
        raise TypeError(
            f"{what} must take the function's {arity} argument(s) {names}, "
            f"but its signature is {inspect.signature(d)}"
        ) from None
    except ValueError:  # a builtin without a signature: trust it
        pass


def _plain(f: Callable[..., Any], name: str, what: str) -> Callable[..., float]:
    """f on floats giving a float, with an error that names the primitive if it fails."""

    def call(*args: float) -> float:
        if not all(a.__class__ is float for a in args):
            return _again(f, name, what, args)
        try:
            y = f(*args)
        except Exception as exc:
            at = ", ".join(f"{a}={x:g}" for a, x in zip("ab", args, strict=False))
            raise TypeError(
                f"{what}primitive {name} raised {type(exc).__name__} at {at}: {exc}"
            ) from exc
        if not isinstance(y, Real):
            raise TypeError(f"{what}primitive {name} must return a number, not {y!r:.40}")
        return float(y)

    call.__name__ = name
    return call


def _again(f: Callable[..., Any], name: str, what: str, args: tuple[Any, ...]) -> Any:
    """A rule called on Values or Duals (a second derivative): it must stay in the graph."""
    try:
        return f(*args)
    except TypeError as exc:
        raise TypeError(
            f"{what}primitive {name} cannot be differentiated again: {exc} Write the rule "
            "with operators and ad_magic's functions (sin, exp, ...) instead of math's."
        ) from exc


def _drop_y(partial: Callable[..., float]) -> Callable[..., float]:
    """The table calls partials with the output last; a student's rule takes only a (and b)."""
    return lambda *args_y: partial(*args_y[:-1])


def _try(
    value: Callable[..., float], partials: tuple[Callable[..., float], ...], name: str
) -> None:
    """Call the rule where the function is defined, so a broken rule fails now, not mid-trace."""
    arity = len(partials)
    for point in _PROBES:
        args = point[:arity]
        try:
            y = value(*args)
        except TypeError:
            continue
        if math.isfinite(y):
            for p in partials:
                p(*args)  # raises TypeError naming the primitive, the rule and the point
            return
    raise TypeError(f"primitive {name} gave no finite number at any of the points {_PROBES}")
