"""The edges a view draws between its boxes, and each group's results, are what one
walk over every edge of the graph gives, at every view (first, groups opened)."""

from __future__ import annotations

import random
from typing import Any

from graphs import CHAIN, NESTED
from support import run, traced

from ad_magic import render
from ad_magic.render.groups import Edge, View


def walked(view: View) -> tuple[list[Edge], dict[str, set[str]]]:
    """Each edge between two boxes: a node's own edge, or one merged with the others
    between the same two boxes and counted; a group's nodes used outside it."""
    unit_of = view.unit_of()
    unit = dict(zip(view.index, unit_of, strict=True))
    single, merged, leaving = [], {}, {}
    for node, dst in zip(view.graph.nodes, unit_of, strict=True):
        for arg, parent in enumerate(node.parents):
            src = unit[parent]
            if src == dst:
                continue
            if src == parent and dst == node.id:
                single.append(Edge(src, dst, 1, arg))
            else:
                merged[src, dst] = merged.get((src, dst), 0) + 1
                if src in view.groups:
                    leaving.setdefault(src, set()).add(parent)
    return single + [Edge(s, d, k) for (s, d), k in merged.items()], leaving


def check_views(graph: Any, seed: int) -> int:
    first = render.view_of(graph)
    order = list(first.groups)
    random.Random(seed).shuffle(order)
    views = [first] + [
        View(graph, render.config.budget, expanded=order[:k])
        for k in range(1, len(order) + 1, max(1, len(order) // 5))
    ]
    crossing = 0
    for view in views:
        edges, leaving = walked(view)
        assert view.edges() == edges and view.leaving() == leaving
        crossing += len(edges)
    return crossing


def test_edges_and_results_at_every_view_of_nested_calls(shell: Any) -> None:
    result = traced(shell, "x=0.5 y=1.5", NESTED)
    assert check_views(result.graph, 0) > 50


def test_edges_and_results_at_every_view_of_a_chain(shell: Any) -> None:
    run(shell, CHAIN)
    assert check_views(shell.user_ns["_grad"].graph, 1) > 20
