"""Recording where each node of a traced cell comes from.

While a cell runs under `%%grad`, every new Value reports to a `Recorder`
(and so does every comparison on one, `a < b` or `if a:`, and every `.data`
read, see reads.py), which notes its
creation order, the cell position of the code that made it (line and
columns of the sub-expression, from Python 3.11's code positions), the
user-function calls it was made in (`MLP.__call__#0`, ...) and, for a node
made inside a function, its position in that function's code (`inner`: in
the cell, or in the earlier cell that defined it, see `cell_lines`). Frames of
ad_magic, numpy, the standard library and IPython are passed over, so a node
made by `np.dot` or `sum()` is pinned to the call in the cell. Numpy calls
on arrays of traced values (`W @ x`, `np.tanh(h)`, see `engine.tensor`) are
noted as a whole: which nodes each one made, its name and shapes.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from collections.abc import Iterable
from types import CodeType, FrameType
from typing import Any, NamedTuple

import IPython
import numpy

from ad_magic.engine.ops import CONST, INPUT
from ad_magic.engine.tensor import Shape, shape_of
from ad_magic.engine.value import Value
from ad_magic.trace.reads import Read, read

Position = tuple[int, int, int, int] | None  # line, end_line, col, end_col (cell-relative)
# calls, cell code and instruction offset, then the innermost user frame's code and offset
# (the same for a node made by the cell's own code)
Site = tuple[tuple[str, ...], CodeType, int, CodeType, int] | None


class ArrayCall(NamedTuple):
    """One numpy call on traced arrays, and the nodes it made: made[start:stop]."""

    name: str
    shapes: list[Shape]  # its operands'
    shape: Shape  # its result's
    start: int
    stop: int
    result: list[int]  # id() of each element of the result, in C order


_AD_MAGIC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package folder
_PACKAGES = tuple(
    os.path.dirname(path) + os.sep
    for path in (os.path.join(_AD_MAGIC, "x"), numpy.__file__ or "", IPython.__file__ or "")
)
_STDLIB = tuple({sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "platstdlib")})


def cell_lines(filename: str) -> list[str] | None:
    """The source lines of a notebook cell, this one or an earlier one, by its code's file
    name; None for a file on disk (an imported module). IPython keeps every cell's source
    in `linecache`, marked by no modification time (so it is never dropped)."""
    entry = linecache.cache.get(filename)
    if entry is None or len(entry) != 4 or entry[1] is not None:
        return None
    return [line.rstrip("\n") for line in entry[2]]


def _is_library(code: CodeType) -> bool:
    """ad_magic, numpy, IPython and the standard library: frames a node's origin skips.

    Installed packages (site-packages, e.g. micrograd's nn.py) count as user
    code, so their calls group the graph.
    """
    name = code.co_filename
    if name.startswith(_PACKAGES) or name.startswith("<frozen"):
        return True
    return name.startswith(_STDLIB) and "-packages" + os.sep not in name


class Recorder:
    """Collects the objects made while a cell runs, with where they were made.

    Per object it keeps only its user-function calls and the cell frame's
    code and instruction offset at that moment; `position(k)` turns the
    offset into a source range later, and only for nodes that are shown.
    """

    def __init__(self, cell_codes: Iterable[CodeType]) -> None:
        self.cell_codes = frozenset(cell_codes)  # few: hashed once each
        self.filename = next(iter(self.cell_codes)).co_filename if self.cell_codes else ""
        self.made: list[Any] = []  # in creation order
        # per object: (calls, cell code, instruction offset), or None if made outside the cell
        self.sites: list[Site] = []
        # (symbol, Value, other side, outcome, site) of each comparison on a traced value
        self.comparisons: list[tuple[str, Value, Any, bool, Site]] = []
        # id(leaf) -> (leaf, its .data when an operation last read it)
        self.leaf_data: dict[int, tuple[Value, float]] = {}
        # Numbers the cell read out of Values (.data), and the leaves made from one:
        # (new leaf, the Value read, site), where the graph is cut.
        self.read_numbers: dict[float, Value] = {}
        self.cuts: list[tuple[Value, Value, Site]] = []
        # Keyed by id(code): hashing a code object hashes all its bytes.
        self._library: dict[int, bool] = {id(c): False for c in self.cell_codes}
        self._code_positions: dict[int, list[Position]] = {}
        # A user frame -> (its calls, the cell frame above it). Frames are
        # held until the trace ends, so their ids cannot be reused meanwhile.
        self._frames: dict[FrameType, tuple[tuple[str, ...], FrameType | None]] = {}
        self._call_count = 0
        self.arrays: list[ArrayCall] = []  # numpy calls that made nodes, outermost only
        self._in_array = False

    def __call__(self, obj: Any) -> None:
        self.made.append(obj)
        self.sites.append(self._site(sys._getframe(2)))  # skip the engine's own node maker
        # A leaf's number when an operation read it: the cell may change .data later
        # (a training update), and the record must hold what the computation used.
        a, b = obj._a, obj._b
        if a is not None:
            if a._fn is INPUT:
                self.leaf_data[id(a)] = (a, a._data)
            if b is not None and b._fn is INPUT:
                self.leaf_data[id(b)] = (b, b._data)

    def read(self, v: Value, x: float) -> float:
        """v.data as the cell reads it: a float that remembers v (see reads.py)."""
        if x.__class__ is not float:
            return x
        if not x.is_integer():  # a whole number could as well be a count
            self.read_numbers[x] = v
        return read(v, x)

    def leaf(self, v: Value, made_from: object) -> None:
        """A new leaf: made from a number read out of a traced Value, it cuts the graph."""
        if made_from.__class__ is Read:
            origin: Value | None = made_from.node
        else:
            origin = self.read_numbers.get(v._data)
        if origin is not None and origin is not v and origin._fn is not CONST:
            self.cuts.append((v, origin, self._site(sys._getframe(1))))

    def array_call(self, name: str, shapes: list[Shape], run: Any) -> Any:
        """Run one numpy call on traced arrays (`engine.tensor.on_call`), noting the nodes
        it made; calls it makes inside (np.mean's sum) are part of it."""
        __tracebackhide__ = True  # an error in the call shows the cell's line and numpy's
        if self._in_array:
            return run()
        self._in_array = True
        start = len(self.made)
        try:
            result = run()
        finally:
            self._in_array = False
        if len(self.made) > start:
            # (The recorder holds what was made, so these ids stay theirs during the run.)
            elements = (
                list(map(id, result.flat)) if isinstance(result, numpy.ndarray) else [id(result)]
            )
            self.arrays.append(
                ArrayCall(name, shapes, shape_of(result), start, len(self.made), elements)
            )
        return result

    def compare(self, symbol: str, left: Any, right: Any, outcome: bool) -> None:
        """A comparison the cell made on a traced value (`a < b`, `if a:`), with its site."""
        if left.__class__ is Value:
            self.comparisons.append((symbol, left, right, outcome, self._site(sys._getframe(1))))

    def _site(self, frame: FrameType | None) -> Site:
        """(calls, cell code, offset) of the first user frame from frame up, if in the cell."""
        library = self._library
        while frame is not None:
            lib = library.get(id(frame.f_code))
            if lib is None:
                lib = self._is_library(frame.f_code)
            if not lib:
                break
            frame = frame.f_back
        if frame is None:  # made outside any user code
            return None
        calls, cell = self._frames.get(frame) or self._place(frame)
        return (calls, cell.f_code, cell.f_lasti, frame.f_code, frame.f_lasti) if cell else None

    def _place(self, frame: FrameType) -> tuple[tuple[str, ...], FrameType | None]:
        """The user-function calls from the cell down to frame, and the cell's frame."""
        new: list[FrameType] = []  # user calls not seen before, innermost first
        calls: tuple[str, ...] = ()
        cell: FrameType | None = None
        f: FrameType | None = frame
        while f is not None:
            if f.f_code in self.cell_codes:
                cell = f
                break
            if f in self._frames:
                calls, cell = self._frames[f]
                break
            if not f.f_code.co_name.startswith("<") and not self._is_library(f.f_code):
                new.append(f)
            f = f.f_back
        for g in reversed(new):
            calls = (*calls, f"{g.f_code.co_qualname}#{self._call_count}")
            self._call_count += 1
            self._frames[g] = (calls, cell)
        # frame itself may be a comprehension or the cell: remember it too.
        return self._frames.setdefault(frame, (calls, cell))

    def _is_library(self, code: CodeType) -> bool:
        known = self._library.get(id(code))
        if known is None:
            known = self._library[id(code)] = _is_library(code)
        return known

    def calls(self, k: int) -> tuple[str, ...]:
        site = self.sites[k]
        return site[0] if site else ()

    def position(self, k: int) -> Position:
        """(line, end_line, col, end_col) in the cell of what made object k."""
        return self.where(self.sites[k])

    def where(self, site: Site) -> Position:
        """(line, end_line, col, end_col) in the cell of a site."""
        return None if site is None else self._position(site[1], site[2])

    def inner(self, site: Site) -> Position:
        """(line, end_line, col, end_col) of a site inside a function, in the source that
        defines it (this cell, or an earlier one: `cell_lines`); None for one made by the
        cell's own code (`where` has it)."""
        if site is None:
            return None
        code = site[3]
        if code is site[1] or code in self.cell_codes:
            return None
        return self._position(code, site[4])

    def _position(self, code: CodeType, lasti: int) -> Position:
        table = self._code_positions.get(id(code))
        if table is None:
            table = self._code_positions[id(code)] = [
                None if p[0] is None else p  # type: ignore[misc]
                for p in code.co_positions()
            ]
        index = lasti // 2
        return table[index] if 0 <= index < len(table) else None

    def release(self) -> None:
        """Drop the frames held during the run."""
        self._frames.clear()
