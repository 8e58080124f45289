"""Each pass at the level of the drawn boxes, fast enough to follow a click on 30,000 nodes.

    >>> passes = Passes(result.graph, {"reverse": result.steps("reverse")})   # doctest: +SKIP
    >>> level, spans = passes.at(view)
    >>> level["reverse"]               # == at_level(steps, view.level())

`trace.steps.at_level` says what the pass at a level is: consecutive steps
inside one collapsed group become one `GroupStep`. It looks each step up in a
dictionary of node ids, which for the 64,000 steps of an MLP training step takes
longer than a group may take to open. Here each pass's steps are turned into
arrays of node positions once per trace, each view into an array of group
numbers per node, and the runs, the steps that cross a group's border and
those that leave it are found with numpy; the result is the same list of
`Step`s and `GroupStep`s. A forward pass visits the same nodes for every seed,
so its runs are found once, and a seed's steps are made when that pass is
first shown (`Level`), each group step's inside only as far as it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import pairwise

import numpy as np

from ad_magic.render.groups import View
from ad_magic.trace.graph import Graph
from ad_magic.trace.steps import ForwardPass, GroupStep, Picked, ReversePass, Step

NONE = -1  # not drawn inside a collapsed group


class Level(Mapping[str, list[Step | GroupStep]]):
    """Each pass at one view's level: its number of steps known at once, its steps
    made when first read (a forward pass per seed: most are never looked at)."""

    def __init__(self, counts: dict[str, int], make: Callable[[str], list[Step | GroupStep]]):
        self.counts = counts
        self._make = make
        self._made: dict[str, list[Step | GroupStep]] = {}

    def __getitem__(self, key: str) -> list[Step | GroupStep]:
        if key not in self.counts:
            raise KeyError(key)
        if key not in self._made:
            self._made[key] = self._make(key)
        return self._made[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.counts)

    def __len__(self) -> int:
        return len(self.counts)


class Passes:
    """The passes of one trace, as arrays of node positions.

    `flat` holds each pass as a `ReversePass` ("reverse") or `ForwardPass`
    ("forward:<seed>"), which make a step only when it is read.
    The forward passes visit the same nodes for every seed, so their runs at a
    level are found once and only the numbers differ.
    """

    def __init__(self, graph: Graph, flat: Mapping[str, ReversePass | ForwardPass]) -> None:
        self.graph = graph
        self.index = index = graph.position
        self.size = len(graph.nodes)
        self.flat = flat
        self.nodes: dict[str, np.ndarray] = {}
        self.vias: dict[str, np.ndarray] = {}  # reverse: the child the gradient comes from
        self.edged: dict[str, np.ndarray] = {}  # reverse: the steps along an edge (not the seed)
        self.values: dict[str, np.ndarray] = {}  # reverse: each step's contribution
        traced = None
        for key, steps in flat.items():
            if key != "reverse":
                if traced is None:
                    nodes = graph.traced
                    traced = np.fromiter((index[n.id] for n in nodes), np.intp, len(nodes))
                self.nodes[key] = traced
                continue
            assert isinstance(steps, ReversePass)  # its columns: no step need be made
            self.nodes[key] = np.array(steps.node, np.intp)
            # the seed's via is -1, one past the end of a level's codes: NONE
            self.vias[key] = np.array(steps.via, np.intp)
            self.edged[key] = self.vias[key] >= 0  # along an edge: all but the seed
            self.values[key] = np.array(steps.value, float)

    def at(self, view: View) -> tuple[Level, dict[int, slice]]:
        """Each pass at the view's level, and each group step's slice of its flat pass."""
        names = view.names()
        titles = list(names.values())
        # The box of each node as a number (one more entry, NONE: a via that is no node),
        # and the group of each node drawn inside a collapsed one (else NONE).
        self.units = view.units()
        codes = {box: k for k, box in enumerate(self.units)}
        self.unit = np.append(
            np.fromiter((codes[u] for u in view.unit_of()), np.intp, self.size), NONE
        )
        group = np.full(len(self.units) + 1, NONE)
        group[[codes[box] for box in names]] = np.arange(len(names))
        level = group[self.unit]
        runs: dict[str, tuple[np.ndarray, list[int]]] = {}
        forward: tuple[np.ndarray, list[int]] | None = None
        for key in self.flat:
            if key == "reverse":
                runs[key] = self._runs(key, level)
            else:  # the same nodes in every forward pass: the same runs
                runs[key] = forward = forward or self._runs(key, level)
        counts = {key: len(bounds) - 1 for key, (_, bounds) in runs.items()}
        spans: dict[int, slice] = {}
        named: dict[str, str] = {}

        def make(key: str) -> list[Step | GroupStep]:
            if key != "reverse" and not named:  # a forward group step's border, when asked
                named.update(view.level())
            where, bounds = runs[key]
            return self._one(key, self.flat[key], level, where, bounds, titles, named, spans)

        return Level(counts, make), spans

    def _runs(self, key: str, level: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Where each step of pass `key` is at the level, and the bounds of its runs."""
        nodes = level[self.nodes[key]]
        if key == "reverse":
            vias = level[self.vias[key]]
            # A reverse step is where its gradient comes from: that node's group, or its
            # own; an output's gradient entering a group is the group's (see at_level).
            edged = self.edged[key]
            own = edged & ~np.isin(self.vias[key], self.nodes[key][~edged])
            where = np.where((vias != NONE) | own, vias, nodes)
        else:
            where = nodes
        n = len(where)
        if not n:
            return where, [0]
        starts = np.ones(n, bool)
        starts[1:] = (where[1:] != where[:-1]) | (where[1:] == NONE)
        return where, [*np.flatnonzero(starts).tolist(), n]

    def _one(
        self,
        key: str,
        steps: Sequence[Step],
        level: np.ndarray,
        where: np.ndarray,
        bounds: list[int],
        titles: list[str],
        named: dict[str, str],
        spans: dict[int, slice],
    ) -> list[Step | GroupStep]:
        if not steps:
            return []
        reverse = key == "reverse"
        if reverse:
            nodes, vias = level[self.nodes[key]], level[self.vias[key]]
        out: list[Step | GroupStep] = []
        mode = steps[0].mode
        for a, b in pairwise(bounds):
            code = int(where[a])
            if code == NONE:
                out.append(steps[a])
                continue
            # a slice of a pass: its steps made when read
            group = GroupStep(mode, titles[code], steps[a:b], named)
            if reverse:  # what crosses its border and what leaves it, found here at once
                crossing = nodes[a:b] != vias[a:b]
                leaving = crossing & (nodes[a:b] != code)
                group.__dict__["crossing"] = Picked(steps, (a + np.flatnonzero(crossing)).tolist())
                group.__dict__["leaving"] = Picked(steps, (a + np.flatnonzero(leaving)).tolist())
                # the sum of what leaves, added in the same order as GroupStep.total adds it
                group.__dict__["total"] = sum(self.values[key][a:b][leaving].tolist())
            spans[id(group)] = slice(a, b)
            out.append(group)
        return out

    def edges(self, key: str, span: slice) -> list[list[str]]:
        """The edges between boxes, sorted, that a group step's crossing steps use: in
        reverse mode each step's edge from its node to the node it comes from, in
        forward mode the edges into the step's node."""
        if key == "reverse":
            parents, children = self.nodes[key][span], self.vias[key][span]
        else:  # the edges into a run of traced nodes: a run of edges (constants have none)
            at = self.nodes[key][span]
            parents, children, _ = self.graph.edge_positions
            lo = int(np.searchsorted(children, at[0], side="left"))
            hi = int(np.searchsorted(children, at[-1], side="right"))
            parents, children = parents[lo:hi], children[lo:hi]
        nodes, vias = self.unit[parents], self.unit[children]
        keep = (nodes != vias) & (nodes != NONE) & (vias != NONE)
        wide = len(self.units)
        pairs = np.unique(nodes[keep] * wide + vias[keep]).tolist()
        return sorted([self.units[p // wide], self.units[p % wide]] for p in pairs)

    def members(self, key: str, span: slice, shown: np.ndarray) -> list[int]:
        """Positions in pass `key` of the steps in `span` whose node is marked in `shown`."""
        return (span.start + np.flatnonzero(shown[self.nodes[key][span]])).tolist()

    def mask(self, ids: set[str]) -> np.ndarray:
        """A mark per node position for the nodes `ids`."""
        marks = np.zeros(self.size, bool)
        marks[[self.index[i] for i in ids if i in self.index]] = True
        return marks
