"""Higher derivatives: derivatives of derivatives, in either mode.

    >>> from ad_magic import derivative, sin
    >>> round(derivative(lambda x: sin(x**2 + 1), 1.5, order=2), 6)
    -1.014503
    >>> derivative(lambda x: x * derivative(lambda y: x * y, 1.0), 4.0)
    8.0

Forward mode nests Duals: `derivative` seeds its input with a Dual of a tag
of its own, and an inner `derivative` (called by the function, or by
order > 1) gets a newer tag, so each perturbation is told apart from the
others. Without tags the second example gives 5.0: the inner derivative
would also pick up x's perturbation (perturbation confusion).

Reverse mode differentiates the backward pass: `gradients(y, x)` builds
d y/d x as a Value, from the table's partials applied to the nodes of y's
graph, so it can be differentiated again (`Value.backward(create_graph=True)`
stores the same Values in `.grad`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ad_magic.engine.dual import Dual
from ad_magic.engine.value import Value, propagate_graph, topological

_tags = itertools.count(1)  # one perturbation tag per differentiation; 0 is "untagged"


def derivative(f: Callable[[Any], Any], x: Any, order: int = 1) -> Any:
    """The order-th derivative of f at x, by forward mode with nested, tagged Duals.

    f takes one number and returns one (built from ad_magic's functions and
    operators). x is a number, or a Dual or Value when this derivative is
    itself inside one being differentiated. Returns a float for a float x.
    """
    if not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be a whole number >= 0, not {order!r}")
    if order == 0:
        return f(x)
    if order > 1:
        return derivative(lambda z: derivative(f, z, order - 1), x)
    tag = next(_tags)
    out = f(Dual(x, 1.0, tag))
    if isinstance(out, Dual) and out.tag == tag:
        return out.deriv
    if isinstance(out, Dual) and out.tag > tag:
        raise ValueError(
            "derivative(): f returned a Dual of an inner differentiation; return a number"
        )
    return 0.0  # f does not depend on x in this perturbation


def gradients(out: Value, *wrt: Value) -> list[Value]:
    """d out/d w for each w, as Values that can be differentiated again.

    The backward pass runs with Values for gradients (see
    value.propagate_graph); no `.grad` is changed. A w that out does not
    depend on gets a constant 0.
    """
    if not isinstance(out, Value):
        raise TypeError(f"gradients() differentiates a Value, not {type(out).__name__}")
    grads = propagate_graph(topological(out))
    zero = Value(0.0)
    return [grads.get(w, zero) for w in wrt]
