"""ad_magic: automatic differentiation you can watch, for IPython and Jupyter.

    >>> from ad_magic import Value, Dual, sin
    >>> x = Value(1.5)
    >>> y = sin(x**2 + 1)
    >>> y.backward()           # reverse mode
    >>> d = sin(Dual(1.5, 1.0)**2 + 1)   # forward mode

In a notebook, `%load_ext ad_magic` adds the `%%grad` cell magic.
"""

from __future__ import annotations

from ad_magic.engine import (
    OPS,
    Dual,
    GradCheck,
    Op,
    Value,
    check_grad,
    derivative,
    gradients,
    primitive,
    remove_primitive,
)
from ad_magic.engine.functions import (
    abs,
    cos,
    exp,
    log,
    maximum,
    minimum,
    relu,
    sigmoid,
    sin,
    sqrt,
    tan,
    tanh,
)

__version__ = "0.1.0"

__all__ = [
    "OPS",
    "TABLE",
    "Dual",
    "GradCheck",
    "Op",
    "Value",
    "abs",
    "check_grad",
    "cos",
    "derivative",
    "exp",
    "gradients",
    "log",
    "maximum",
    "minimum",
    "primitive",
    "relu",
    "remove_primitive",
    "sigmoid",
    "sin",
    "sqrt",
    "tan",
    "tanh",
]


def __getattr__(name: str) -> object:
    if name == "TABLE":  # read live: student-defined primitives add rows for the session
        from ad_magic.engine import ops

        return ops.TABLE
    raise AttributeError(f"module 'ad_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext ad_magic`: register %%grad and %grad."""
    from ad_magic.magic import GradMagics

    ipython.register_magics(GradMagics)  # type: ignore[attr-defined]


def unload_ipython_extension(ipython: object) -> None:
    """`%unload_ext ad_magic`: remove %%grad and %grad again."""
    magics = ipython.magics_manager.magics  # type: ignore[attr-defined]
    for kind in ("line", "cell"):
        magics[kind].pop("grad", None)
    ipython.magics_manager.registry.pop("GradMagics", None)  # type: ignore[attr-defined]
