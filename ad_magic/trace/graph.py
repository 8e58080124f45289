"""A computation graph as plain records: what the renderer, the steps and the widget read.

`Graph.from_value(y)` turns the Value graph behind `y` into `Node` records
with stable ids (`n0`, `n1`, ... in creation order). The `%%grad` tracer
builds the same records with more in them: variable names, source positions
(in the cell, and in the code of a function a cell defines: `Node.body`),
the user-function calls that made each node and forward-mode tangents, and
which nodes each numpy call on arrays of them made (`ArrayOp`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from ad_magic.engine.ops import CONST, INPUT, Op
from ad_magic.engine.value import Value, topological


def printable(text: str) -> str:
    """Control characters as their Python escapes (\\n, \\x00): shown, and valid in XML."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in text)


def elide(text: str, width: int) -> str:
    """text in at most `width` characters: whole, or its start and its end around `…`
    (`value_of_the_w…formula`), so that an index at the end (`w[12]`) stays readable."""
    if len(text) <= width:
        return text
    tail = width // 3
    return text[: width - tail - 1].rstrip() + "…" + text[-tail:].lstrip()


def name_column(titles: Iterable[str], least: int = 16, most: int = 24) -> int:
    """The width of a text table's name column: its longest name, within [least, most]
    (longer names are elided to it, see `elide`)."""
    return min(most, max([least, *map(len, titles)]))


def label_and_var(label: str, var: str) -> tuple[str, str]:
    """A node's name and its other name: a label given by the student wins, and the
    variable it was bound to is kept beside it where the two differ (`a (v)`)."""
    if label and var and label != var:
        return label, var
    return label or var, ""


class Place(NamedTuple):
    """Where in a cell some code is: line, columns [col, end_col) and its source text."""

    line: int
    end_line: int
    col: int
    end_col: int
    text: str


@dataclass(slots=True)
class Node:
    """One node of a traced computation."""

    id: str  # "n0", "n1", ... in creation order
    op: Op  # the primitive; ops.INPUT or ops.CONST for a leaf
    parents: tuple[str, ...]  # parent ids in argument order, repeats kept (a + a)
    value: float
    grad: float = 0.0  # d(output)/d(node), from the backward pass
    tangents: dict[str, float] = field(default_factory=dict)  # seed -> d(node)/d(seed)
    name: str = ""  # display name: a label, a variable ("h", "h'"), an input ("W[0,1]") or ""
    also: str = ""  # the variable it was bound to, where that differs from its label
    line: int | None = None  # 1-based line in the cell that made it
    end_line: int | None = None
    col: int | None = None  # 0-based column range [col, end_col) of the sub-expression
    end_col: int | None = None
    calls: tuple[str, ...] = ()  # user-function calls it was made in, outermost first
    text: str = ""  # the cell's source text at [line:col, end_line:end_col]
    # Made inside a function defined in a cell (this one, or an earlier one): where in
    # its code, in that cell (line..text above are the call's in this cell, as for any
    # function)
    body: Place | None = None
    flagged: bool = False  # --check: the first node whose local rule disagrees with numerics

    @property
    def kind(self) -> str:
        """'input', 'const' or 'op' (the graph knows which node is the output)."""
        if self.op is INPUT:
            return "input"
        if self.op is CONST:
            return "const"
        return "op"

    @property
    def func(self) -> str | None:
        """The innermost user function that made this node, e.g. 'Neuron.__call__'."""
        return self.calls[-1].split("#")[0] if self.calls else None

    @property
    def shown(self) -> str:
        """Its name as a box or a table row shows it: `a (v)` for label a bound to v."""
        return f"{self.name} ({self.also})" if self.also else self.name

    @property
    def title(self) -> str:
        """What narration calls this node: its name, its value (a constant), the
        short source text that made it, or its id."""
        if self.name:
            return self.name
        if self.op is CONST:
            return f"{self.value:g}"
        if self.text and len(self.text) <= 24 and not self.calls:
            return self.text
        return self.id


Shape = tuple[int, ...]


def shape_text(shape: Shape) -> str:
    """`(16×2)`, `(16,)` or `()`: a shape as a box shows it."""
    return f"({shape[0]},)" if len(shape) == 1 else f"({'×'.join(map(str, shape))})"


@dataclass(frozen=True)
class ArrayOp:
    """The nodes one numpy call on traced arrays made (`W @ x`), or one array input holds."""

    name: str  # the call: "matmul", "tanh", "sum", ...; an input's own name
    shapes: tuple[Shape, ...]  # its operands' shapes; none for an input
    shape: Shape  # the result's shape (the input's)
    nodes: tuple[str, ...]  # the nodes it made (holds), in creation order
    result: tuple[str, ...] = ()  # the result's elements in C order (node ids; "" if none)

    @property
    def label(self) -> str:
        """`matmul (16×2)·(2,) → (16,)`, `tanh (16,)`, `sum (16,) → ()`, `W1 (16×2)`."""
        result = shape_text(self.shape)
        if self.name in ("matmul", "dot") and len(self.shapes) == 2:
            a, b = map(shape_text, self.shapes)
            return f"{self.name} {a}·{b} → {result}"
        if all(s == self.shape for s in self.shapes):
            return f"{self.name} {result}"
        return f"{self.name} {', '.join(map(shape_text, self.shapes))} → {result}"


def parents_first(roots: list[Value]) -> list[Value]:
    """Every node the roots depend on, each after its parents: the first root's nodes,
    then those of the next that are new, and so on."""
    order: list[Value] = []
    seen: set[int] = set()
    for root in roots:
        for v in reversed(topological(root)):
            if id(v) not in seen:
                seen.add(id(v))
                order.append(v)
    return order


@dataclass
class Graph:
    """Nodes in creation order (a topological order) and which one is the output.

    A vector output (several outputs, J's rows) lists them all in `outputs`;
    `output` is then the first. A scalar output leaves `outputs` empty.
    """

    nodes: list[Node]
    output: str
    # The output's name where its node has another: `-o y` with y = x, the input itself.
    output_name: str = ""
    outputs: list[str] = field(default_factory=list)
    arrays: list[ArrayOp] = field(default_factory=list)  # array inputs, then numpy calls

    def __post_init__(self) -> None:
        self.by_id = {n.id: n for n in self.nodes}

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    @cached_property
    def edges_into(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """Each node's incoming edges (parent id, node id) in argument order: made once
        and shared by the steps of every pass."""
        return {n.id: tuple([(p, n.id) for p in n.parents]) for n in self.nodes}

    @cached_property
    def position(self) -> dict[str, int]:
        """Each node's place in `nodes`, by id."""
        return {n.id: k for k, n in enumerate(self.nodes)}

    @cached_property
    def parent_positions(self) -> list[tuple[int, ...]]:
        """Each node's parents as places in `nodes`, in argument order."""
        at = self.position
        return [tuple([at[p] for p in n.parents]) for n in self.nodes]

    @cached_property
    def edge_positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every edge as arrays of (parent place, child place, argument), by child then
        argument: the order of `edges_into`."""
        parents = [p for ps in self.parent_positions for p in ps]
        children = [k for k, ps in enumerate(self.parent_positions) for _ in ps]
        args = [a for ps in self.parent_positions for a in range(len(ps))]
        return np.array(parents, np.intp), np.array(children, np.intp), np.array(args, np.intp)

    @cached_property
    def traced(self) -> list[Node]:
        """The nodes a forward pass steps through, in order: all but the constants."""
        return [n for n in self.nodes if n.op is not CONST]

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, node_id: str) -> Node:
        return self.by_id[node_id]

    @classmethod
    def from_value(cls, root: Value) -> Graph:
        """The graph behind a Value, as built outside the magic (micrograd style).

        Leaves keep their labels as names; gradients are whatever the Values
        hold now (call `root.backward()` first to fill them).
        """
        return cls.from_values([root])

    @classmethod
    def from_values(cls, roots: list[Value]) -> Graph:
        """The graph behind several Values (a vector output): each is one of `outputs`."""
        order = parents_first(roots)
        ids = {id(v): f"n{i}" for i, v in enumerate(order)}
        nodes = [
            Node(
                id=ids[id(v)],
                op=v._fn,
                parents=tuple(ids[id(p)] for p in v._prev),
                value=v.data,
                grad=float(v.grad),
                name=v.label,
            )
            for v in order
        ]
        outputs = [ids[id(r)] for r in roots]
        return cls(nodes, output=outputs[0], outputs=outputs if len(roots) > 1 else [])
