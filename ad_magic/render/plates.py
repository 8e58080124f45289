"""Plates: many boxes made alike, drawn as a grid in one frame.

    >>> found = plates(drawn, edges, texts, "LR", width=540, height=630)  # doctest: +SKIP

Sixteen calls of a network, one per sample, each fed by the same boxes and
feeding the same sum, stack into one column sixteen boxes tall (a row
sixteen wide top to bottom); Graphviz keeps them so, as every edge into
one of them takes a place of its own in each column it passes. When such a
stack does not fit the room, its boxes are drawn as a *plate* (the frame of
repeated structure in graphical-model diagrams): a grid in a dashed frame
labelled `×16`, with one edge from each common input into the frame and one
from the frame to each common use, standing for the sixteen alike.

Boxes are alike when they look alike (the same kind, their first lines the
same but for numbers: `MLP.__call__#37`, `MLP.__call__#74`), have the same
boxes feeding them and the same boxes using them, and there are at least
`MIN` of them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ad_magic.render.groups import Edge

MIN = 6  # boxes alike before they may make a plate
GAP = 36.0  # points between two columns of a plate (ranksep), about
SEP = 18.0  # points between two boxes of a column (nodesep), about
LINE = 15.6  # points per line of 13-point text, about


@dataclass
class Plate:
    """Boxes alike, in creation order, laid out `across` to a rank (column left to right,
    row top to bottom), in as many ranks as that needs."""

    members: list[str]
    sources: list[str]  # the boxes feeding every member, in creation order
    across: int

    @property
    def name(self) -> str:
        return f"cluster_plate_{self.members[0]}"

    def ranks(self) -> list[list[str]]:
        """The members rank by rank, first to last."""
        return [
            self.members[k : k + self.across] for k in range(0, len(self.members), self.across)
        ]


def look(kind: str, first_line: str) -> str:
    """What boxes alike share: their kind and first line, numbers aside."""
    return f"{kind} {re.sub(r'[0-9]+', '#', first_line)}"


def alike(
    edges: list[Edge], looks: dict[str, str]
) -> list[tuple[list[str], list[str], list[str]]]:
    """Sets of at least `MIN` boxes that look alike (`looks`: each box's `look`, in
    creation order) with the same boxes feeding and using them: (members, sources, uses),
    each in creation order."""
    ids = list(looks)
    into: dict[str, set[str]] = {}
    out: dict[str, set[str]] = {}
    for edge in edges:
        into.setdefault(edge.dst, set()).add(edge.src)
        out.setdefault(edge.src, set()).add(edge.dst)
    order = {box: k for k, box in enumerate(ids)}
    kinds: dict[tuple[str, frozenset[str], frozenset[str]], list[str]] = {}
    for box in ids:
        key = (looks[box], frozenset(into.get(box, ())), frozenset(out.get(box, ())))
        if key[1] or key[2]:
            kinds.setdefault(key, []).append(box)
    found = []
    for (_, sources, uses), members in kinds.items():
        if len(members) >= MIN:
            found.append(
                (
                    members,
                    sorted(sources, key=order.__getitem__),
                    sorted(uses, key=order.__getitem__),
                )
            )
    return found


def box_height(lines: int, ellipse: bool) -> float:
    """About how tall Graphviz draws a box of `lines` lines, in points."""
    height = lines * LINE + 8
    return height * 1.4 if ellipse else height


def plates(
    sizes: dict[str, tuple[float, float]],
    looks: dict[str, str],
    edges: list[Edge],
    direction: str,
    width: float | None,
    height: float | None,
) -> list[Plate]:
    """The plates of a view whose boxes (`sizes`: id -> (width, height) in points;
    `looks`: id -> `look`, both in creation order) are shown in `width` × `height`
    points: each set of boxes alike that stacks taller than `height` (left to right) or
    wider than `width` (top to bottom), in ranks of as many boxes as make the plate's
    shape nearest the room's (given both), or as fit the room (given one)."""
    lr = direction == "LR"
    room = height if lr else width
    if not room:
        return []
    found = []
    for members, sources, _ in alike(edges, looks):
        w = max(sizes[m][0] for m in members)
        h = max(sizes[m][1] for m in members)
        along, deep = (h + SEP, w + GAP) if lr else (w + SEP, h + GAP)
        n = len(members)
        if n * along <= room:
            continue
        fit = max(1, int(room * 0.9 // along))
        if width and height:
            aim = math.log(height / width if lr else width / height)
            fit = min(
                range(1, fit + 1),
                key=lambda a: abs(math.log(a * along / (math.ceil(n / a) * deep)) - aim),
            )
        across = math.ceil(n / math.ceil(n / fit))  # ranks as even as they can be
        found.append(Plate(members, sources, across))
    return found
