"""The engine: automatic differentiation itself, with no IPython in sight.

One table of primitives (`ops`) feeds both modes: `Value` builds a graph and
runs a backward pass (reverse mode), `Dual` carries a value and a derivative
(forward mode); `higher` differentiates again (nested tagged Duals,
gradients that are Values). `functions` has the free functions (`sin`, `tanh`, ...) and
numpy's dispatch; `primitives` lets a student add a row; `check` compares a
gradient with central differences. Nothing here imports the layers above.
"""

from __future__ import annotations

from ad_magic.engine.check import GradCheck, check_grad
from ad_magic.engine.dual import Dual
from ad_magic.engine.functions import FUNCTIONS
from ad_magic.engine.higher import derivative, gradients
from ad_magic.engine.ops import OPS, Op
from ad_magic.engine.primitives import primitive, remove_primitive
from ad_magic.engine.value import Value

__all__ = [
    "FUNCTIONS",
    "OPS",
    "Dual",
    "GradCheck",
    "Op",
    "Value",
    "check_grad",
    "derivative",
    "gradients",
    "primitive",
    "remove_primitive",
]
