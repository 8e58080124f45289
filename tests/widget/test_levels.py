"""The widget's fast pass at a level (levels.Passes) is the pass `at_level` defines, for
every view: first views, groups opened one by one, everything open, in both modes."""

from __future__ import annotations

import random
from typing import Any

import pytest
from graphs import CHAIN, NESTED
from support import run, traced

from ad_magic import render
from ad_magic.trace.steps import ForwardPass, GroupStep, at_level, num
from ad_magic.widget.levels import Passes
from ad_magic.widget.widget import GradWidget


def same(fast: list[Any], slow: list[Any]) -> None:
    assert fast == slow
    for f, s in zip(fast, slow, strict=True):
        if isinstance(s, GroupStep):
            assert f.crossing == s.crossing and f.leaving == s.leaving
            assert f.total == s.total and f.equation == s.equation


def views(result: Any, seed: int) -> list[render.View]:
    """The first view, then groups opened in a random order until all are open."""
    view = render.view_of(result.graph)
    out = [view]
    order = list(view.groups)
    random.Random(seed).shuffle(order)
    for k in range(1, len(order) + 1):
        view = render.View(result.graph, render.config.budget, expanded=order[:k])
        if k % max(1, len(order) // 6) == 0 or k == len(order):
            out.append(view)
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_the_fast_pass_is_at_level_for_every_view(shell: Any, seed: int) -> None:
    result = traced(shell, "x=0.5 y=1.5 -o h,z", NESTED)
    flat = {
        "reverse": result.steps("reverse", output="z"),
        **{f"forward:{s}": result.steps("forward", s) for s in result.seeds},
    }
    # as the widget gives them: each forward pass made step by step as it is read
    lazy = {k: ForwardPass(result.graph, k[8:]) for k in flat if k != "reverse"}
    lazy["reverse"] = result.backward_pass("z")
    passes = Passes(result.graph, lazy)
    checked = 0
    for view in views(result, seed):
        fast, spans = passes.at(view)
        level = view.level()
        for key, steps in flat.items():
            slow = at_level(steps, level)
            assert fast.counts[key] == len(slow)
            same(fast[key], slow)
            checked += sum(isinstance(s, GroupStep) for s in slow)
        unit = dict(zip(view.index, view.unit_of(), strict=True))
        for key in flat:
            for step in fast[key]:
                if isinstance(step, GroupStep):
                    assert list(step.steps) == flat[key][spans[id(step)]]
                    # the edges between boxes its crossing steps use, as the widget drew them
                    pairs = {(unit[p], unit[c]) for s in step.crossing for p, c in s.edges}
                    edges = sorted([p, c] for p, c in pairs if p != c)
                    assert passes.edges(key, spans[id(step)]) == edges
    assert checked > 20  # group steps were compared, not only single ones


def test_the_chain_at_its_first_view(shell: Any) -> None:
    run(shell, CHAIN)
    result = shell.user_ns["_grad"]
    flat = {"reverse": result.steps("reverse"), "forward:x": result.steps("forward", "x")}
    view = render.view_of(result.graph)
    lazy = {"reverse": result.backward_pass(), "forward:x": ForwardPass(result.graph, "x")}
    fast, _ = Passes(result.graph, lazy).at(view)
    for key, steps in flat.items():
        same(fast[key], at_level(steps, view.level()))
    assert len(fast["reverse"]) < 12


def reference_page(w: Any, steps: list[Any]) -> list[list[Any]]:
    """A pass's page as the widget's `_page` defines it, from the eager lists: each step's
    edges between boxes (those of the steps crossing a group's border), its equation and
    total, and the table's nodes among a group's steps."""
    shown = {r["id"] for r in w.records}
    unit = w._unit
    page = []
    for s in steps:
        group = isinstance(s, GroupStep)
        pairs = {(unit[p], unit[c]) for f in (s.crossing if group else (s,)) for p, c in f.edges}
        edges = sorted([p, c] for p, c in pairs if p != c)
        more = [[i.node, num(i.total)] for i in getattr(s, "steps", ()) if i.node in shown]
        box = w._named[s.group] if group else unit[s.node]
        last = s.steps[-1] if group else s  # the node's running total, not the group's sum
        page.append([s.node, box, edges, s.equation, num(last.total), more])
    return page


def test_the_widget_pages_of_lazy_passes_are_those_of_the_lists(shell: Any) -> None:
    """Every pass the widget sends (reverse and each seed's forward pass), at the first
    view and as groups open, is what the eager step lists give."""
    result = traced(shell, "x=0.5 y=1.5", NESTED)
    w = GradWidget(result)
    seen = 0
    for opened in [None, *list(w.view.groups)[:4]]:
        if opened is not None:
            w.toggle(opened)
        level = w.view.level()
        keys = {"reverse": result.steps("reverse", level=level)}
        keys |= {f"forward:{s}": result.steps("forward", s, level=level) for s in result.seeds}
        assert w.counts == {k: len(v) for k, v in keys.items()}
        for key, steps in keys.items():
            assert w._page(key, 0, len(steps))["steps"] == reference_page(w, steps)
            seen += sum(isinstance(s, GroupStep) for s in steps)
    assert seen > 10
    w.close()
