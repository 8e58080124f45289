"""Reading a %%grad magic line: its inputs and the names its options refer to.

Everything here runs before the cell does, so a wrong line costs nothing: each
problem is one UsageError line that says what to write instead.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np
from IPython.core.error import UsageError
from IPython.utils.process import arg_split

from ad_magic.engine.scalar import Scalar
from ad_magic.trace.inputs import Input
from ad_magic.trace.naming import few


def split_line(line: str, magic: str = "%%grad") -> list[str]:
    """The magic line split as the shell would; unbalanced quotes are a UsageError."""
    try:
        return join_brackets(arg_split(line))
    except ValueError as exc:  # shlex: "No closing quotation"
        raise UsageError(f"{magic} {line.strip()}: {exc}; close the quote") from None


def check_name(name: str, what: str, reserved: Iterable[str] = ()) -> None:
    """A name the magic may assign: a Python identifier that is no keyword and not Python's
    or IPython's own (dunders such as __builtins__, get_ipython, In, Out)."""
    if not name.isidentifier():
        raise UsageError(f"{what} {name!r}: not a Python name")
    if keyword.iskeyword(name):
        raise UsageError(f"{what} {name}: a Python keyword, not a name; pick another name")
    if name.startswith("__") and name.endswith("__"):
        raise UsageError(f"{what} {name}: Python's own name; pick another name")
    if name in reserved:
        raise UsageError(f"{what} {name}: IPython's own name; pick another name")


def join_brackets(tokens: list[str]) -> list[str]:
    """Glue tokens back together where a space split a bracketed expression."""
    items: list[str] = []
    depth = 0
    for tok in tokens:
        if depth > 0 or (items and (tok.startswith("=") or items[-1].endswith("="))):
            items[-1] += " " + tok
        else:
            items.append(tok)
        depth += sum(tok.count(c) for c in "([{") - sum(tok.count(c) for c in ")]}")
    return [item.rstrip(",").strip() for item in items if item.strip(",")]


def number(name: str, obj: Any) -> float | np.ndarray:
    """An input's value as a float or float array; Values and Duals give their numbers."""
    if isinstance(obj, Scalar):
        return obj.primal
    try:
        if isinstance(obj, Real) and not isinstance(obj, bool):
            return float(obj)
        if isinstance(obj, (list, tuple, np.ndarray)):
            arr = np.asarray(obj, dtype=object)
            flat = [x.primal if isinstance(x, Scalar) else x for x in arr.flat]
            if flat and all(isinstance(x, Real) and not isinstance(x, bool) for x in flat):
                return np.array(flat, dtype=float).reshape(arr.shape)
    except OverflowError:
        raise UsageError(
            f"input {name} is too large for a float (the largest is about 1.8e308)"
        ) from None
    raise UsageError(
        f"input {name} must be a number or an array of numbers, not {type(obj).__name__}"
    )


def cell_assigns(cell: str) -> set[str]:
    """Every name the cell assigns, anywhere in it."""
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return set()
    return {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def cell_labels(cell: str) -> set[str]:
    """Every label the cell gives as a string: `Value(2.0, label='a')`, `x.label = 'a'`."""
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return set()
    found = set()
    for n in ast.walk(tree):
        keyword = isinstance(n, ast.keyword) and n.arg == "label"
        attribute = isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "label" for t in n.targets
        )
        value = getattr(n, "value", None)
        if (keyword or attribute) and isinstance(value, ast.Constant):
            found.add(str(value.value))
    return found


def read_inputs(
    tokens: list[str], ns: dict[str, Any], reserved: Iterable[str] = ()
) -> list[Input]:
    """The inputs of a magic line: NAME=EXPRESSION evaluated in ns, or NAME for its value.

    None (bare %%grad): the leaves the cell makes are its inputs, found when it runs.
    """
    inputs: dict[str, Input] = {}
    for item in join_brackets(tokens):
        name, eq, expr = item.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise UsageError(f"cannot read input {item!r}: write NAME=EXPRESSION or NAME")
        check_name(name, "input", reserved)
        if name in inputs:
            raise UsageError(f"input {name} is given twice")
        if eq and not expr.strip():
            raise UsageError(
                f"input {name}= has no value after '='; write {name}=1.5, or {name} alone "
                "for its current value"
            )
        if expr:
            try:
                obj = eval(expr, ns)
            except Exception as exc:
                raise UsageError(f"input {name}={expr}: {type(exc).__name__}: {exc}") from None
        elif name in ns:
            obj = ns[name]
        else:
            raise UsageError(f"input {name} is not defined; give it a value: {name}=1.5")
        inputs[name] = Input(name, number(name, obj))
    return list(inputs.values())


def check_names(args: Any, inputs: list[Input], cell: str, reserved: Iterable[str] = ()) -> None:
    """--out, --result and --seed name something sensible, before the cell runs."""
    if args.out is not None:
        names = args.out.split(",")
        for name in names:
            check_name(name, "--out")
            if name not in cell_assigns(cell) | {i.name for i in inputs}:
                raise UsageError(f"--out {args.out}: the cell does not assign {name}")
        if len(set(names)) < len(names):
            raise UsageError(f"--out {args.out}: a name is given twice")
        if len(names) > 1 and getattr(args, "order", 1) == 2:
            raise UsageError(
                f"--order 2 differentiates a scalar output twice; -o {args.out} is a vector: "
                "pick one output"
            )
    if args.result is not None:
        check_name(args.result, "--result", reserved)
    if inputs:
        named = [n for i in inputs for n in (i.name, *(label for label, _ in i.scalars()))]
        labels = list(dict.fromkeys(named))
    else:  # bare: the leaves are known once the cell ran; here, names it could have
        labels = sorted(cell_assigns(cell) | cell_labels(cell))
    for seed in args.seed or []:
        if not inputs and ("[" in seed or re.fullmatch(r"n\d+", seed)):
            continue  # a container's or a node's name, known once the cell ran
        if seed in labels:
            continue
        if inputs:
            raise UsageError(f"--seed {seed}: not an input (inputs: {few(labels)})")
        raise UsageError(
            f"--seed {seed}: the cell neither assigns nor labels {seed}, so no leaf is named so "
            f"(its names and labels: {few(labels)}; leaves in containers are named like "
            "w[2], unnamed ones by node id like n5)"
        )
