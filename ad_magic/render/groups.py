"""Groups: a large graph shown as a few boxes that open level by level.

    >>> view = View(graph, budget=150, boxes=30)   # doctest: +SKIP
    >>> view.units()                     # what is drawn: node ids and group ids
    >>> view.expand("g1_n40")            # open one group (a widget click)
    >>> view.collapse("g1_n40")

A node's place in the tree is its path: the user-function calls that made it,
outermost first (`MLP.__call__#0`, `Layer.__call__#1`, ...), or for a node
made outside any call, the source line that made it (`line 3`; inside a call
of a function a notebook cell defines, its line there too, and on a long line its
terms, see terms.py); then, for a
node one numpy call made on arrays of traced values, that call as a tensor
(`matmul (16×2)·(2,) → (16,)`, see `Graph.arrays`; an array input's
elements likewise, `W1 (16×2)`). Nodes with
neither (a graph built outside the magic) go into one `inputs` group and
blocks of consecutive nodes, when there are more of them than half the
budget. A group is drawn as one box until it is expanded; then its subgroups
and its own nodes are drawn. A group that would open into a single box (one
subgroup, or one node) is never drawn: its content is.

A graph of at most `budget` nodes (150) is not grouped at all: every node is
a box. Past it, the first view shows about `boxes` boxes (30), few enough to
read at the notebook's text size: starting from all groups closed, `View`
opens groups level by level while the number of boxes stays within that
(see `open_within_budget`), and wherever more than `2/3 * boxes` items would
sit side by side they are put in blocks.

A group's id is `g{depth}_{first node id}`, e.g. `g2_n40`: stable however the
other groups are opened. The graph's output is always drawn as itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ad_magic.render.terms import TERM, by_terms, term_paths
from ad_magic.trace.graph import ArrayOp, Graph

COLUMN = 4  # elements of an opened tensor side by side, in blocks past it
ARRAY = "\x1f"  # in a path: `label ARRAY k` is the k-th numpy call (labels may repeat)
_NUMBERED = re.compile(f"[{ARRAY}{TERM}]\\d+")


def shown_title(step: str) -> str:
    """A path step as a group's title: a numpy call's label, a term's text, without its
    number."""
    return _NUMBERED.sub("", step)


@dataclass(eq=False)
class Group:
    """Nodes that share a path prefix: one user-function call, one line or one block."""

    id: str  # "g{depth}_{first node id}"
    title: str  # the call ("Neuron.__call__#5"), "line 3", a block "n0 … n99", a numpy call
    depth: int
    first: int  # position of its first node in creation order
    array: bool = False  # one numpy call (or array input) drawn as a tensor
    in_tensor: bool = False  # that, or a block of its elements or an element inside it
    term: bool = False  # a term of a long line's expression (see terms.py)
    size: int = 0  # nodes inside, at any depth
    nodes: list[str] = field(default_factory=list)  # nodes whose path ends here
    children: list[Group] = field(default_factory=list)  # subgroups, in creation order

    @property
    def label(self) -> str:
        """The title as drawn: a block of calls reads `MLP.__call__ #0 … #666`."""
        first, sep, last = self.title.partition(" … ")
        head, hash_, number = first.partition("#")
        if sep and hash_ and last.startswith(head + "#"):
            return f"{head} #{number} … #{last[len(head) + 1 :]}"
        return first + sep + last

    @property
    def family(self) -> str:
        """Siblings of one family open together: calls of one function, numpy calls of
        one label."""
        return self.title.split("#")[0] or self.id

    @property
    def trivial(self) -> bool:
        """Opening it would show a single box, so it is never drawn itself."""
        return len(self.nodes) + len(self.children) == 1


@dataclass(frozen=True)
class Edge:
    """An edge between two drawn boxes."""

    src: str
    dst: str
    count: int = 1  # uses it stands for (edges between groups are merged)
    arg: int | None = None  # argument position, for an edge between two nodes


def paths(graph: Graph, budget: int) -> list[tuple[str, ...]]:
    """Each node's path: its calls, else its line; then blocks where too many sit side by side.

    `budget` is the boxes a view should show. Nodes made outside any call
    are grouped by their line in the cell; inside a call of a function the
    cell (this one or an earlier one) defines, by their line in its code
    (when on several), and long lines of both by terms (see terms.py). A
    function imported from a file has only its call's position in the cell:
    its nodes stay in its group. Nodes with
    neither, when more than half the budget, go into an `inputs` group (the
    inputs) and blocks (the rest); an array input is a group of its own.
    A numpy call's nodes then go into a group of their own, inside the
    deepest group they all share (a call inside a line inside a function),
    and within it by the element of the result they make (`matmul[3]`).
    Wherever more than two thirds of the budget would sit side by side (50
    calls of one function, a line that makes 30,000 nodes), they are put into
    nested blocks of consecutive ones.
    """
    nodes = graph.nodes
    out = [n.calls if n.calls or n.line is None else (f"line {n.line}",) for n in nodes]
    # A call of a function a cell defines: its own nodes by their line in it, when on
    # several lines (then by terms on its long lines, below). The output is drawn apart,
    # and so is a line's only node (its group would be drawn as that node).
    lines: dict[tuple[str, ...], dict[int, int]] = {}
    for n in nodes:
        if n.body is not None and n.id != graph.output:
            count = lines.setdefault(n.calls, {})
            count[n.body.line] = count.get(n.body.line, 0) + 1
    for i, n in enumerate(nodes):
        count = lines.get(n.calls, {}) if n.body is not None else {}
        if n.body is not None and len(count) > 1 and count.get(n.body.line, 0) > 1:
            out[i] = (*n.calls, f"line {n.body.line}")
    members = [i for i, n in enumerate(nodes) if n.id != graph.output]
    index = graph.position
    arrays = [[index[n] for n in op.nodes if n != graph.output] for op in graph.arrays]
    in_array = {i for held in arrays for i in held}
    bare = [i for i in members if not out[i] and i not in in_array]
    if len(bare) > budget // 2:
        for i in bare:
            if nodes[i].kind == "input":
                out[i] = ("inputs",)
    for k, (op, held) in enumerate(zip(graph.arrays, arrays, strict=True)):
        if not held:
            continue
        prefix = min((out[i] for i in held), key=len)
        while any(out[i][: len(prefix)] != prefix for i in held):
            prefix = prefix[:-1]
        title = f"{op.label}{ARRAY}{k}"
        for i, inner in zip(held, inside_tensor(graph, op, held, index), strict=True):
            out[i] = (*prefix, title, *inner, *out[i][len(prefix) :])
    width = max(2, budget * 2 // 3)
    # Nodes grouped by their line alone (not in a call, nor a numpy call's) by terms too.
    on_lines = (i for i, n in enumerate(nodes) if len(out[i]) == 1 and not n.calls and n.line)
    for i, steps in term_paths(graph, on_lines, width).items():
        out[i] = (*out[i], *steps)
    in_calls = (i for i, n in enumerate(nodes) if n.body is not None and i not in in_array)
    for i, steps in term_paths(graph, in_calls, width, inside=True).items():
        out[i] = (*out[i], *steps)
    stack = [(members, 0)]  # nodes sharing a path prefix, and its length
    while stack:
        group, depth = stack.pop()
        items: dict[str | int, list[int]] = {}  # a subgroup's name, or a direct node
        for i in group:
            items.setdefault(out[i][depth] if len(out[i]) > depth else i, []).append(i)
        keys = list(items)
        extra = 0
        if len(keys) > width:
            # A few inputs (the cell's x, w) and groups that are not calls (`inputs`,
            # `line 2`) stay in view; the rest goes into blocks.
            keep = {
                k
                for k in keys
                if (isinstance(k, int) and nodes[k].kind == "input")
                or (isinstance(k, str) and "#" not in k)
            }
            if len(keep) > width // 2:
                keep = set()
            rest = [k for k in keys if k not in keep]
            # A block is named by its first and last item: a call or line by its name, a
            # node or a term (`wi*xi`, repeated) by its first node's id.
            names = [nodes[items[k][0]].id if isinstance(k, int) or TERM in k else k for k in rest]
            for key, block in zip(rest, blocks(names, max(2, width - len(keep))), strict=True):
                for i in items[key]:
                    out[i] = out[i][:depth] + block + out[i][depth:]
                extra = len(block)
        stack += [(items[k], depth + extra + 1) for k in keys if isinstance(k, str)]
    return out


def inside_tensor(
    graph: Graph, op: ArrayOp, held: list[int], index: dict[str, int]
) -> list[tuple[str, ...]]:
    """Each held node's path inside its tensor: the blocks of consecutive elements it
    sits in (`tanh[0] … tanh[3]`, at most COLUMN side by side, so an opened tensor
    reads and steps a block at a time), then its element when the elements take
    several nodes each (`matmul[3]`, the products and sum of one row of `W @ x`)."""
    element = elements(graph, op, held, index)
    order = sorted(set(element.values()))
    block = dict(zip(order, blocks([name for _, name in order], COLUMN), strict=True))
    nested = len(element) > len(order)
    return [
        (*block[element[i]], element[i][1]) if nested and i in element
        else block[element[i]] if i in element
        else ()
        for i in held
    ]  # fmt: skip


def elements(
    graph: Graph, op: ArrayOp, held: list[int], index: dict[str, int]
) -> dict[int, tuple[int, str]]:
    """Node -> the element of the call's result it goes into: its place in C order and
    its name (`matmul[3]`, `W1[3,1]`)."""
    inside = set(held)
    where = {index[n]: k for k, n in enumerate(op.result) if n and index[n] in inside}
    if len(where) < 2:
        return {}
    used_by: dict[int, int] = {}  # a node -> the first node of the call that uses it
    for i in held:
        for parent in graph.nodes[i].parents:
            j = index[parent]
            if j in inside:
                used_by.setdefault(j, i)
    for i in reversed(held):  # users before what they use
        if i not in where and used_by.get(i) in where:
            where[i] = where[used_by[i]]
    return {
        i: (k, f"{op.name}[{','.join(map(str, np.unravel_index(k, op.shape)))}]")
        for i, k in where.items()
    }


def only_blocks(group: Group) -> bool:
    """Whether a group holds blocks and nothing else."""
    return not group.nodes and all(" … " in g.title for g in group.children)


def blocks(names: list[str], width: int) -> list[tuple[str, ...]]:
    """For each of a run of items, its nested blocks of at most `width`, e.g. ('n0 … n74',)."""
    sizes = [1]
    while sizes[-1] * width < len(names):
        sizes.append(sizes[-1] * width)
    sizes = sizes[:0:-1]  # largest block first, single items dropped
    out = []
    for k in range(len(names)):
        path = []
        for size in sizes:
            lo = k // size * size
            hi = min(lo + size, len(names)) - 1
            path.append(f"{names[lo]} … {names[hi]}")
        out.append(tuple(path))
    return out


class View:
    """Which groups of a graph are open, and so what is drawn."""

    def __init__(
        self,
        graph: Graph,
        budget: int = 150,
        expanded: Iterable[str] | None = None,
        boxes: int = 30,
    ) -> None:
        self.graph = graph
        self.grouped = len(graph) > budget  # a small graph is drawn whole
        self.budget = min(budget, boxes)  # boxes the first view opens to
        self.index = graph.position
        self.groups: dict[str, Group] = {}
        self.root = Group("", "", 0, 0)
        # chains[i]: the groups node i sits in, outermost first
        self.chains: list[tuple[Group, ...]] = []
        by_key: dict[tuple[str, ...], Group] = {}
        found = paths(graph, self.budget) if self.grouped else by_terms(graph, self.budget)
        self.grouped = self.grouped or any(found)
        last: tuple[tuple[str, ...], list[Group]] | None = None  # a path and its groups
        for i, (node, path) in enumerate(zip(graph.nodes, found, strict=True)):
            if node.id == graph.output:
                path = ()
            if last is not None and path == last[0]:  # most nodes sit where the one before did
                for held in last[1]:
                    held.size += 1
                (last[1][-1] if last[1] else self.root).nodes.append(node.id)
                self.chains.append(self.chains[-1])
                continue
            chain = []
            parent = self.root
            for depth in range(1, len(path) + 1):
                key = path[:depth]
                group = by_key.get(key)
                if group is None:
                    step = path[depth - 1]
                    group = Group(f"g{depth}_{node.id}", shown_title(step), depth, i)
                    group.array = ARRAY in step and " … " not in step
                    group.in_tensor = group.array or parent.in_tensor
                    group.term = TERM in step and " … " not in step
                    by_key[key] = group
                    self.groups[group.id] = group
                    parent.children.append(group)
                group.size += 1
                chain.append(group)
                parent = group
            parent.nodes.append(node.id)
            self.chains.append(tuple(chain))
            last = (path, chain)
        self.expanded: set[str] = set()
        self._drawn: tuple[frozenset[str], list[str]] | None = None  # unit_of(), last computed
        self._crossed: tuple[tuple[str, ...], tuple[list[Edge], dict[str, set[str]]]] | None = None
        if expanded is None:
            self.open_within_budget()
        else:
            for group_id in expanded:
                self.expand(group_id)

    def is_open(self, group: Group) -> bool:
        return group.trivial or group.id in self.expanded

    def expand(self, group_id: str) -> None:
        """Draw this group's subgroups and nodes instead of the group."""
        self.expanded.add(self._group(group_id).id)

    def collapse(self, group_id: str) -> None:
        """Draw this group as one box again (its subgroups keep their state)."""
        self.expanded.discard(self._group(group_id).id)

    def _group(self, group_id: str) -> Group:
        try:
            return self.groups[group_id]
        except KeyError:
            raise KeyError(
                f"no group {group_id!r} in this graph; View.groups lists them"
            ) from None

    def shown(self, group: Group) -> list[Group | str]:
        """What an open group draws in its place: subgroups (through trivial ones) and nodes."""
        items: list[Group | str] = list(group.nodes)
        for child in group.children:
            while child.trivial and child.children:
                child = child.children[0]
            items.append(child.nodes[0] if child.trivial else child)
        return items

    def open_within_budget(self) -> None:
        """Open groups level by level while the boxes fit the budget.

        Sibling calls of one function form a family (the 50 `MLP.__call__`s of
        a batch): the whole family opens if it fits, else only its first call,
        as an example. Cheaper families open first, and no group that would
        show more than a quarter of the budget opens by itself.
        """
        self.expanded.clear()
        top = self.shown(self.root)
        count = len(top)
        level = [[g for g in top if isinstance(g, Group)]]
        while level:
            families: list[list[Group]] = []
            lone = {siblings[0].id for siblings in level if len(siblings) == 1}
            for siblings in level:
                by_function: dict[str, list[Group]] = {}
                for group in siblings:
                    by_function.setdefault(group.family, []).append(group)
                families += by_function.values()
            gains = {g.id: len(self.shown(g)) - 1 for family in families for g in family}
            # One group may not flood the view: it opens only into a quarter of the budget,
            # and not into blocks alone (ranges of nodes say less than the group's name)
            # nor into an array's elements (a tensor reads as one box), nor a long line's
            # term into its terms (its source text says what it is) unless it is the
            # only group there is (and a term not even then into blocks alone).
            families = [
                [
                    g
                    for g in f
                    if gains[g.id] < self.budget // 4
                    and (
                        not (only_blocks(g) or g.array or g.term)
                        or (g.id in lone and not (g.term and only_blocks(g)))
                    )
                ]
                for f in families
            ]
            families = [f for f in families if f]
            families.sort(key=lambda family: sum(gains[g.id] for g in family))
            level = []
            for family in families:
                if count + sum(gains[g.id] for g in family) > self.budget:
                    family = family[:1]
                    if count + gains[family[0].id] > self.budget:
                        continue
                for group in family:
                    self.expanded.add(group.id)
                    count += gains[group.id]
                    level.append([g for g in self.shown(group) if isinstance(g, Group)])

    def unit_of(self) -> list[str]:
        """For each node in creation order, the id of the box it is drawn in."""
        key = frozenset(self.expanded)
        if self._drawn is not None and self._drawn[0] == key:
            return self._drawn[1]
        # Nodes with the same innermost group are drawn in the same box: find it once.
        box_of: dict[Group, str | None] = {}
        units = []
        for node, chain in zip(self.graph.nodes, self.chains, strict=True):
            if not chain:
                units.append(node.id)
                continue
            box = box_of.get(chain[-1], "")
            if box == "":
                box = next((g.id for g in chain if not self.is_open(g)), None)
                box_of[chain[-1]] = box
            units.append(box or node.id)
        self._drawn = (key, units)
        return units

    def level(self) -> dict[str, str]:
        """Each node drawn inside a collapsed group -> that group's name, unique in this
        view (for `GradResult.steps(mode, seed, level=...)`: the pass at this level)."""
        names = self.names()
        return {
            node.id: names[unit]
            for node, unit in zip(self.graph.nodes, self.unit_of(), strict=True)
            if unit in self.groups
        }

    def names(self) -> dict[str, str]:
        """Drawn group id -> its label, made unique by the id where labels repeat."""
        drawn = [u for u in self.units() if u in self.groups]
        labels = [self.groups[u].label for u in drawn]
        # A repeated label (`add (16,)` on two lines) is told apart by its line first.
        lines = [self._line(u) for u in drawn]
        placed = [
            f"{label} ({line})" if line else label
            for label, line in zip(labels, lines, strict=True)
        ]
        return {
            u: label
            if labels.count(label) == 1
            else again
            if line and placed.count(again) == 1
            else f"{label} ({u})"
            for u, label, line, again in zip(drawn, labels, lines, placed, strict=True)
        }

    def _line(self, group_id: str) -> str:
        """`line 3` for a group made by (a call on) a line of the cell, else ''."""
        line = self.graph.nodes[self.groups[group_id].first].line
        return f"line {line}" if line is not None else ""

    def units(self) -> list[str]:
        """The ids drawn, nodes and groups, in creation order of their first node."""
        return list(dict.fromkeys(self.unit_of()))

    def edges(self, unit_of: list[str] | None = None) -> list[Edge]:
        """Edges between drawn boxes: one per use between nodes (a + a gives two), merged
        into one counted edge between a group and anything else, none inside a group."""
        return self._crossing(unit_of)[0]

    def leaving(self, unit_of: list[str] | None = None) -> dict[str, set[str]]:
        """Each drawn group -> its nodes used outside it (its results)."""
        return self._crossing(unit_of)[1]

    def _crossing(
        self, unit_of: list[str] | None = None
    ) -> tuple[list[Edge], dict[str, set[str]]]:
        unit_of = unit_of or self.unit_of()
        key = tuple(unit_of)  # interned strings: cheap to hash against the last one
        if self._crossed is not None and self._crossed[0] == key:
            return self._crossed[1]
        groups, nodes = self.groups, self.graph.nodes
        single: list[Edge] = []
        merged: dict[tuple[str, str], int] = {}
        leaving: dict[str, set[str]] = {}
        # Only the edges between two boxes are looked at one by one (a few thousand of
        # the MLP step's 70,000): found by numbering the boxes.
        code = {u: k for k, u in enumerate(dict.fromkeys(unit_of))}
        box = np.fromiter((code[u] for u in unit_of), np.intp, len(unit_of))
        parents, children, args = self.graph.edge_positions
        across = np.flatnonzero(box[parents] != box[children])
        picked = [a[across].tolist() for a in (parents, children, args)]
        for p, c, arg in zip(*picked, strict=True):
            src, dst, parent = unit_of[p], unit_of[c], nodes[p].id
            if src == parent and dst == nodes[c].id:
                single.append(Edge(src, dst, 1, arg))
            else:
                merged[src, dst] = merged.get((src, dst), 0) + 1
                if src in groups:
                    leaving.setdefault(src, set()).add(parent)
        found = (single + [Edge(s, d, k) for (s, d), k in merged.items()], leaving)
        self._crossed = (key, found)
        return found

    def members(self, group_id: str) -> list[str]:
        """Node ids inside a group, at any depth, in creation order."""
        group = self._group(group_id)
        return [
            n.id for n, chain in zip(self.graph.nodes, self.chains, strict=True) if group in chain
        ]
