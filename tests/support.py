"""Test helpers: central differences and the domain each primitive is smooth on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from ad_magic.engine.ops import Op

# Where each row's derivative exists and is well conditioned. A row not named
# here is tested on (-3, 3); add an entry when a new row needs less.
DOMAIN: dict[str, tuple[tuple[float, float], ...]] = {
    "truediv": ((-3.0, 3.0), (0.3, 3.0)),
    "pow": ((0.2, 3.0), (-2.5, 2.5)),
    "log": ((0.05, 5.0),),
    "sqrt": ((0.05, 5.0),),
    "tan": ((-1.2, 1.2),),
}
# Rows with a kink: points this close to it are skipped.
KINK = {"abs": 1e-3, "relu": 1e-3, "maximum": 1e-3, "minimum": 1e-3}


def domain(op: Op) -> tuple[tuple[float, float], ...]:
    return DOMAIN.get(op.name, ((-3.0, 3.0),) * op.arity)


def points(op: Op) -> st.SearchStrategy[tuple[float, ...]]:
    """Random in-domain argument tuples for op, away from its kinks."""
    args = st.tuples(
        *(st.floats(lo, hi, allow_nan=False, allow_infinity=False) for lo, hi in domain(op))
    )
    if op.name in ("abs", "relu"):
        args = args.filter(lambda a: abs(a[0]) > KINK[op.name])
    if op.name in ("maximum", "minimum"):
        args = args.filter(lambda a: abs(a[0] - a[1]) > KINK[op.name])
    return args


def central(f: Callable[..., float], args: tuple[float, ...], i: int, h: float = 1e-6) -> float:
    """(f(.., a_i + h, ..) - f(.., a_i - h, ..)) / 2h."""
    up = list(args)
    down = list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def run(ip: Any, cell: str) -> Any:
    """Run a cell in a real shell; its ExecutionResult, after checking it raised nothing."""
    result = ip.run_cell(cell)
    assert result.success, result.error_in_exec or result.error_before_exec
    return result


def failure(ip: Any, cell: str) -> BaseException:
    """Run a cell that must fail; what it raised."""
    result = ip.run_cell(cell)
    assert not result.success
    return result.error_in_exec or result.error_before_exec


def traced(ip: Any, line: str, cell: str) -> Any:
    """A fresh namespace (with numpy as np), then `%%grad line` over cell: its GradResult."""
    ip.reset(new_session=False)
    ip.run_cell("import numpy as np")
    run(ip, f"%%grad {line}\n{cell}")
    return ip.user_ns["_grad"]
