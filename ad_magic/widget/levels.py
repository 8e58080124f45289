"""Each pass at the level of the drawn boxes, fast enough to follow a click on 30,000 nodes.

    >>> passes = Passes(result.graph, {"reverse": result.steps("reverse")})   # doctest: +SKIP
    >>> passes.at(view)["reverse"]     # == at_level(steps, view.level())

`trace.steps.at_level` says what the pass at a level is: consecutive steps
inside one collapsed group become one `GroupStep`. It looks each step up in a
dictionary of node ids, which for the 64,000 steps of an MLP training step takes
longer than a group may take to open. Here each pass's steps are turned into
arrays of node positions once per trace, each view into an array of group
numbers per node, and the runs, the steps that cross a group's border and
those that leave it are found with numpy; the result is the same list of
`Step`s and `GroupStep`s.
"""

from __future__ import annotations

from itertools import compress, pairwise

import numpy as np

from ad_magic.render.groups import View
from ad_magic.trace.graph import Graph
from ad_magic.trace.steps import GroupStep, Step

NONE = -1  # not drawn inside a collapsed group


class Passes:
    """The passes of one trace, as arrays of node positions."""

    def __init__(self, graph: Graph, flat: dict[str, list[Step]]) -> None:
        self.index = index = {n.id: i for i, n in enumerate(graph.nodes)}
        self.size = len(graph.nodes)
        self.flat = flat
        self.nodes: dict[str, np.ndarray] = {}
        self.vias: dict[str, np.ndarray] = {}  # reverse: the child the gradient comes from
        self.edged: dict[str, np.ndarray] = {}  # reverse: the steps along an edge (not the seed)
        self.values: dict[str, np.ndarray] = {}  # reverse: each step's contribution
        for key, steps in flat.items():
            self.nodes[key] = np.fromiter((index[s.node] for s in steps), np.intp, len(steps))
            if key == "reverse":
                get = index.get  # -1, one past the end: NONE in a level (the seed's via is a name)
                self.vias[key] = np.fromiter((get(s.via, -1) for s in steps), np.intp, len(steps))
                self.edged[key] = np.fromiter((bool(s.edges) for s in steps), bool, len(steps))
                self.values[key] = np.fromiter((s.value for s in steps), float, len(steps))

    def at(self, view: View) -> tuple[dict[str, list[Step | GroupStep]], dict[int, slice]]:
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
        # A forward group step finds what crosses its border from the names (when asked).
        forward = any(key != "reverse" for key in self.flat)
        named = view.level() if forward else {}
        out: dict[str, list[Step | GroupStep]] = {}
        spans: dict[int, slice] = {}
        for key, steps in self.flat.items():
            out[key] = self._one(key, steps, level, titles, named, spans)
        return out, spans

    def _one(
        self,
        key: str,
        steps: list[Step],
        level: np.ndarray,
        titles: list[str],
        named: dict[str, str],
        spans: dict[int, slice],
    ) -> list[Step | GroupStep]:
        if not steps:
            return []
        nodes = level[self.nodes[key]]
        reverse = key == "reverse"
        if reverse:
            vias = level[self.vias[key]]
            # A reverse step is in the group of the node its gradient comes from, if any.
            where = np.where((vias != NONE) & self.edged[key], vias, nodes)
        else:
            where = nodes
        n = len(steps)
        starts = np.ones(n, bool)
        starts[1:] = (where[1:] != where[:-1]) | (where[1:] == NONE)
        bounds = [*np.flatnonzero(starts).tolist(), n]
        out: list[Step | GroupStep] = []
        mode = steps[0].mode
        for a, b in pairwise(bounds):
            code = int(where[a])
            if code == NONE:
                out.append(steps[a])
                continue
            group = GroupStep(mode, titles[code], tuple(steps[a:b]), named)
            if reverse:  # what crosses its border and what leaves it, found here at once
                crossing = nodes[a:b] != vias[a:b]
                leaving = crossing & (nodes[a:b] != code)
                inside = steps[a:b]
                group.__dict__["crossing"] = list(compress(inside, crossing))
                group.__dict__["leaving"] = list(compress(inside, leaving))
                # the sum of what leaves, added in the same order as GroupStep.total adds it
                group.__dict__["total"] = sum(self.values[key][a:b][leaving].tolist())
            spans[id(group)] = slice(a, b)
            out.append(group)
        return out

    def edges(self, key: str, span: slice) -> list[list[str]]:
        """Reverse mode: the edges between boxes, sorted, that a group step's crossing
        steps use (each step's edge runs from its node to the node it comes from)."""
        nodes, vias = self.unit[self.nodes[key][span]], self.unit[self.vias[key][span]]
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
