"""The live %%grad widget: graph, node table, annotated source, steps, live inputs.

An anywidget: this class holds the synced state, `widget.js` (a small
hand-written ES module next to it, no bundler, no network imports) draws it.
The SVG is sent once per trace; stepping, selecting and switching mode or seed
change one small trait each (`step`, `selected`, `mode`, `seed`) and the
browser restyles the SVG it already has. Steps travel in pages of PAGE steps,
with the running totals at the page's start, so a 30,000-node graph costs no
more per step than a small one; a new page is sent only when a step leaves
the current one. Editing an input runs the cell once with the new value, in
the notebook's namespace as re-executing the cell would, and updates values,
gradients and steps, keeping the SVG when the graph's shape is unchanged (and
the node records: only their numbers travel, in `numbers`). Clicking a
collapsed group opens it (a new layout, by necessity); the pass is stepped at
the level of what is drawn: a collapsed group's part of it is one step
(`levels.Passes`). What one message from the browser changes travels back as
one message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from ad_magic import render
from ad_magic.classroom.homework import HIDDEN, Concealment, carry_over, concealment
from ad_magic.render.dot import boxes, drawn_edges, printable
from ad_magic.render.groups import Group, View
from ad_magic.trace.cost import plural
from ad_magic.trace.result import GradResult
from ad_magic.trace.steps import ForwardPass, GroupStep, ReversePass, Step, num
from ad_magic.widget.jacobian import jacobian_state
from ad_magic.widget.levels import Passes

HERE = Path(__file__).parent
PAGE = 500  # steps sent to the browser at a time
ARCHIVE = 600  # passes of up to this many steps in all also travel whole (see `archive`)
TABLE = 400  # node records sent: the drawn ones first, then named ones


def shape(result: GradResult) -> list[tuple[str, tuple[str, ...]]]:
    """What the layout depends on: each node's op and parents."""
    return [(n.op.name, n.parents) for n in result.graph]


class GradWidget(anywidget.AnyWidget):
    """The display of a GradResult in a notebook."""

    # The text, not the path: anywidget connects every instance to a file's change
    # signal for hot reloading, which would keep every widget ever made alive.
    _esm = (HERE / "widget.js").read_text(encoding="utf-8")
    _css = (HERE / "widget.css").read_text(encoding="utf-8")

    svg = t.Unicode("").tag(sync=True)
    records: t.List[dict[str, Any]] = t.List().tag(sync=True)  # drawn and named nodes
    # A re-trace of the same shape (a live input) or another output's pass: the records'
    # new numbers only, {id: [value, grad, flagged, tangent per seed...]}; {} when the
    # records themselves are new.
    numbers = t.Dict().tag(sync=True)
    counts = t.Dict().tag(sync=True)  # "reverse" or "forward:<seed>" -> number of steps
    page = t.Dict().tag(sync=True)  # the steps around the current one: see _page()
    mode = t.Unicode("reverse").tag(sync=True)
    seed = t.Unicode("").tag(sync=True)
    seeds: t.List[str] = t.List().tag(sync=True)
    step = t.Int(-1).tag(sync=True)  # index into the current mode's steps; -1: all done
    selected = t.Unicode("").tag(sync=True)
    source = t.Unicode("").tag(sync=True)
    inputs: t.List[dict[str, Any]] = t.List().tag(sync=True)  # scalar inputs: name, value
    cost = t.Unicode("").tag(sync=True)
    notes: t.List[str] = t.List().tag(sync=True)
    output = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)  # why the last live re-trace failed, if it did
    edge_labels = t.Dict().tag(sync=True)  # "n0->n2#0" -> the edge's local derivative
    expanded: t.List[dict[str, str]] = t.List().tag(sync=True)  # open groups: {"id", "title"}
    trail: t.List[dict[str, str]] = t.List().tag(sync=True)  # breadcrumb: the open groups
    found = t.Dict().tag(sync=True)  # the last search: {"query", "node"} or {"query", "error"}
    quiz = t.Dict().tag(sync=True)  # --quiz: Quiz.state() and the last feedback; {} without
    hidden = t.Bool(False).tag(sync=True)  # derivatives kept back (--quiz, --expect)
    # Every pass whole ({key: steps}, in page form) when small: a saved notebook's
    # widget then steps and switches mode with no kernel (nbconvert, html-manager).
    archive = t.Dict().tag(sync=True)
    twin = t.Unicode("").tag(sync=True)  # the static copy beside it: data-ad-twin, hidden by JS
    jacobian = t.Dict().tag(sync=True)  # J beside the graph and its cost: jacobian_state()
    out = t.Unicode("").tag(sync=True)  # the output the reverse pass starts from

    def __init__(self, result: GradResult, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result
        self.view = render.view_of(result.graph)
        self.width = render.config.width  # points the layout wraps at: the widget's width
        self.height: float | None = None  # and the graph's most height there, when told
        self.fitted = True  # the view is the first view made for that room, no group moved
        self.focus = ""  # the group the breadcrumb leads to
        # each pass's steps, one per chain-rule use, made when read
        self._flat: dict[str, ReversePass | ForwardPass] = {}
        self._steps: Mapping[str, list[Step | GroupStep]] = {}  # the same at the drawn level
        self._passes: Passes | None = None  # _flat as arrays, for _steps at each view
        self._spans: dict[int, slice] = {}  # each GroupStep's part of its flat pass
        self._load(result, layout=True)
        self.seed = result.seed if result.seed in result.seeds else (result.seeds or [""])[0]
        self.mode = result.mode if result.seeds else "reverse"
        self.observe(self._turn_page, names=["step", "mode", "seed"])
        self.observe(self._pick_output, names=["out"])
        if result.quiz is not None:
            result.quiz.listeners.append(self._answered)
        self._turn_page()
        self.on_msg(self._on_msg)

    # -- state from a result ----------------------------------------------
    def _load(self, result: GradResult, layout: bool, keep_step: bool = False) -> None:
        self.result = result
        if self.out not in result.outputs:
            self.out = result.outputs[0]
        self._flat = {"reverse": self._reverse(result)}
        self._passes = None
        of = f"{id(result)}:{concealment(result).grads}"  # J stays while groups open and close
        if self.jacobian.get("of") != of:
            self.jacobian = {**jacobian_state(result), "of": of}
        for seed in result.seeds:  # made step by step as they are shown
            self._flat[f"forward:{seed}"] = ForwardPass(result.graph, seed)
        graph = result.graph
        same = not layout and all(
            r["id"] in graph.by_id and graph[r["id"]].shown == r["name"] for r in self.records
        )
        self._draw(layout, numbers_only=same)
        self.seeds = result.seeds
        tracer = result.tracer
        self.source = tracer.code.source.rstrip("\n") if tracer else ""
        self.inputs = [
            {"name": inp.name, "value": json_number(inp.data)}
            for inp in (tracer.inputs if tracer else [])
            if isinstance(inp.data, float)
        ]
        self.cost = cost_line(result)
        self.notes = [*result.notes, *([result.forward_note] if result.forward_note else [])]
        self.output = result.output
        self._restep(keep_step)

    def _draw(self, layout: bool, numbers_only: bool = False) -> None:
        """What the view shows: the SVG (if `layout`), open groups, table records, steps.

        With `numbers_only` (a re-trace of the same shape) the records keep their names
        and places and only their numbers travel (`numbers`)."""
        result = self.result
        hide = concealment(result)
        self.hidden = hide.grads
        if layout:
            html = render.to_html(result.graph, self.view, width=self.width, height=self.height)
            self.svg = conceal_svg(html, result)
        # A live input keeps the layout; the labels follow the numbers.
        labels = edge_labels(result.graph, self.view)
        self.edge_labels = dict.fromkeys(labels, HIDDEN) if hide.grads else labels
        unit_of = self.view.unit_of()
        self._unit = dict(zip((n.id for n in result.graph), unit_of, strict=True))
        if numbers_only:
            self._send_numbers()
        else:
            groups = self.view.groups
            self.expanded = [
                {"id": g, "title": groups[g].label} for g in sorted(self.view.expanded, key=_order)
            ]
            self.trail = [{"id": g.id, "title": g.label} for g in self._trail()]
            nodes = result.graph.nodes
            drawn = [n for n, u in zip(nodes, unit_of, strict=True) if u == n.id]
            named = [n for n, u in zip(nodes, unit_of, strict=True) if n.name and u != n.id]
            grads = self._grads()
            tracer = result.tracer
            lines = tracer.code.source.splitlines() if tracer else []
            self.numbers = {}
            self.records = [
                _record(n, self._unit[n.id], hide, grads, lines) for n in (drawn + named)[:TABLE]
            ]
        self._level()

    def _grads(self) -> dict[str, float] | None:
        """The chosen output's gradients of a vector output (None: the graph's own)."""
        if not self.result.vector or self.out == self.result.outputs[0]:
            return None
        return self.result.adjoints(self.out)

    def _send_numbers(self) -> None:
        """The records' numbers from the current result, keyed by node id."""
        graph, hide, grads = self.result.graph, concealment(self.result), self._grads()
        seeds = self.result.seeds
        numbers = {}
        for r in self.records:
            node = graph[r["id"]]
            grad = node.grad if grads is None else grads[node.id]
            numbers[node.id] = [
                hide.value(node.name, num(node.value)),
                hide.grad(num(grad)),
                node.flagged,
                *(hide.grad(num(node.tangents[s])) if s in node.tangents else "" for s in seeds),
            ]
        self.numbers = numbers

    def rows(self) -> list[dict[str, Any]]:
        """The node table as the browser shows it: the records with their latest numbers."""
        seeds = self.result.seeds
        out = []
        for r in self.records:
            if r["id"] not in self.numbers:
                out.append(r)
                continue
            value, grad, flagged, *tangents = self.numbers[r["id"]]
            tangent = {s: t for s, t in zip(seeds, tangents, strict=True) if t != ""}
            out.append({**r, "value": value, "grad": grad, "flagged": flagged,
                        "tangents": tangent})  # fmt: skip
        return out

    def _level(self) -> None:
        """Each pass at the level of the drawn boxes: a collapsed group's steps are one."""
        self._named = {name: box for box, name in self.view.names().items()}
        if self._passes is None:
            self._passes = Passes(self.result.graph, self._flat)
        level, self._spans = self._passes.at(self.view)
        self._steps = level  # a pass's steps at this level are made when first read
        self.counts = dict(level.counts)
        self._archive()

    def _restep(self, keep_step: bool = False) -> None:
        self.page = {}
        if not (keep_step and self.step < self.counts.get(self._key(), 0)):
            self.step = -1
        self._quiz_state()
        self._turn_page()

    def _reverse(self, result: GradResult) -> ReversePass:
        return result.backward_pass(self.out if result.vector else None)

    def _pick_output(self, change: Any) -> None:
        """Another output's backward pass (a vector output): its steps, from its end."""
        if self.out not in self.result.outputs:
            return
        with self.hold_sync():
            self._show_output()

    def _show_output(self) -> None:
        self._flat["reverse"] = self._reverse(self.result)
        self._passes = None
        self._level()  # counts, and a small graph's passes whole (the archive): this one too
        self._send_numbers()
        self.page = {}
        self.step = -1
        self._turn_page()

    # -- steps, a page at a time -------------------------------------------------
    def _key(self) -> str:
        return f"forward:{self.seed}" if self.mode == "forward" else "reverse"

    def _turn_page(self, change: Any = None) -> None:
        """Send the page holding the current step, unless the browser has it already."""
        key = self._key()
        k = self.counts.get(key, 0) - 1 if self.step < 0 else self.step
        start = max(0, k) // PAGE * PAGE
        if self.page.get("key") == key and self.page.get("start") == start:
            return
        if key in self.archive:  # the whole pass is in the browser already: not again
            self.page = {"key": key, "start": 0, "steps": [], "done": {}}
        else:
            self.page = self._page(key, start)

    def current_page(self) -> dict[str, Any]:
        """The page the browser steps through: `page`, or the whole pass from `archive`
        when the page names a pass the archive holds (widget.js: `pageFor`)."""
        page = self.page
        if not page.get("steps") and page.get("key") in self.archive:
            return {**page, "steps": self.archive[page["key"]]}
        return page

    def _archive(self) -> None:
        quiz = self.result.quiz  # an open quiz sends the answered steps only, page by page
        small = sum(self.counts.values()) <= ARCHIVE
        self.archive = self.passes() if small and (quiz is None or quiz.done) else {}

    def passes(self) -> dict[str, list[list[Any]]]:
        """Every pass whole, steps as pages hold them: {"reverse": [...], "forward:x": ...}."""
        return {key: self._page(key, 0, len(steps))["steps"] for key, steps in self._steps.items()}

    def _page(self, key: str, start: int, size: int = PAGE) -> dict[str, Any]:
        """Steps [start, start + size) of a pass, in drawn boxes, with what steps before set.

        Each step is [node, box, edges between boxes, equation, total, more]: a
        collapsed group's step (one for all its chain-rule steps) lists in `more`
        the [node, total] pairs it sets for the table. `done` maps each recorded
        node that earlier steps reached to its total then. While derivatives are
        kept back outside a quiz (--expect), the totals are "?" and each
        equation stops at its rule.
        """
        quiz = self.result.quiz
        keep_back = self.hidden and (quiz is None or quiz.done)

        def total(s: Step | GroupStep) -> str:
            return HIDDEN if keep_back else num(s.total)

        def equation(s: Step | GroupStep) -> str:  # the rule without its numbers
            if not keep_back:
                return s.equation
            parts = s.equation.split(" = ")  # "grad(b) += rule = numbers = total"
            rule = parts[:1] if "+=" in parts[0] or len(parts) < 3 else parts[:2]  # tangent(a) =
            return " = ".join([*rule, HIDDEN])

        steps = self._steps.get(key, [])
        if quiz is not None and quiz.current is not None:  # what the student has not answered
            steps = steps[: self._at_level(key, quiz.current.index)]  # stays here
        shown = {r["id"] for r in self.records}
        whole: Sequence[Step] = self._flat.get(key, [])
        passes = self._passes
        assert passes is not None  # made with the view (_level), before any page
        marks = passes.mask(shown)
        done = {}
        for before in steps[:start]:
            for one in before.steps if isinstance(before, GroupStep) else (before,):
                if one.node in shown:
                    done[one.node] = total(one)
        unit = self._unit
        page = []
        for s in steps[start : start + size]:
            if isinstance(s, GroupStep):  # its part of the flat pass, from the arrays
                span = self._spans[id(s)]
                edges = passes.edges(key, span)
                inner = [whole[i] for i in passes.members(key, span, marks)]
            else:  # a step's edge between boxes (inside one box, none is drawn)
                pairs = {(unit[p], unit[c]) for p, c in s.edges}
                edges, inner = sorted([p, c] for p, c in pairs if p != c), []
            more = [[i.node, total(i)] for i in inner]  # the table's nodes among a group's steps
            box = self._named[s.group] if isinstance(s, GroupStep) else unit[s.node]
            # What the step leaves its node: a group step's own total is what left the
            # group, its node's is the running total after its last chain-rule step.
            last = s.steps[-1] if isinstance(s, GroupStep) else s
            page.append([s.node, box, edges, equation(s), total(last), more])
        return {"key": key, "start": start, "steps": page, "done": done}

    def _at_level(self, key: str, flat: int) -> int:
        """The index at the drawn level of the step holding flat step `flat`."""
        seen = 0
        for k, s in enumerate(self._steps.get(key, [])):
            seen += len(s.steps) if isinstance(s, GroupStep) else 1
            if seen > flat:
                return k
        return len(self._steps.get(key, []))

    # -- messages from the browser --------------------------------------------
    def _on_msg(self, widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        with self.hold_sync():  # what a message changes travels back as one message
            self._handle(content)

    def _handle(self, content: dict[str, Any]) -> None:
        kind = content.get("type")
        if kind == "input":
            self.set_input(str(content["name"]), float(content["value"]))
        elif kind == "toggle":
            self.toggle(str(content["group"]))
        elif kind == "up":
            self.up(str(content.get("group", "")))
        elif kind == "find":
            self.find(str(content.get("query", "")))
        elif kind == "width":
            self.set_width(float(content.get("px", 0)), float(content.get("height", 0)) or None)
        elif kind == "answer":
            self.answer(content.get("value"))

    # -- the quiz ------------------------------------------------------------
    def answer(self, value: Any) -> None:
        """Mark the student's answer to the current quiz step (feedback follows)."""
        quiz = self.result.quiz
        if quiz is not None and not quiz.done:
            quiz.answer(value)

    def _answered(self, feedback: Any) -> None:
        """A quiz answer, typed here or given in code as _grad.quiz.answer(...)."""
        self._quiz_state(feedback)
        if self.result.quiz is not None and self.result.quiz.done:  # all may be shown now
            self._load(self.result, layout=True)
            self._quiz_state(feedback)

    def _quiz_state(self, feedback: Any = None) -> None:
        quiz = self.result.quiz
        if quiz is None:
            self.quiz = {}
            return
        state = quiz.state()
        if feedback is not None:
            state["feedback"] = {"right": feedback.right, "message": feedback.message,
                                 "hint": feedback.hint}  # fmt: skip
        mode = quiz.questions[0].step.mode if quiz.questions else "reverse"
        if state["step"] is not None:  # show the pass up to the step being asked
            self.page = {}  # the answered part of the pass grew: send it again
            self.mode = mode
            self.step = max(0, self._at_level(self._key(), state["step"]) - 1)
            self._turn_page()
        self.quiz = state

    def set_input(self, name: str, value: float) -> None:
        """Run the cell once with one input changed; keep the layout if the graph's shape is
        the same (its edge labels, the local derivatives, take the new numbers)."""
        old = self.result
        if old.tracer is None:
            return
        try:
            result = old.tracer.retrace({name: value})
        except Exception as exc:  # the cell failed on this value: say so, keep the old
            self.error = f"{name} = {value:g}: {type(exc).__name__}: {exc}"
            return
        self.error = ""
        carry_over(old, result)  # --check, --expect and --quiz go on with the new numbers
        old.widget, result.widget = None, self
        same = shape(result) == shape(old)
        if not same:
            told = self.height is not None  # the browser said how much room there is
            self.view = render.view_of(
                result.graph, width=self.width if told else None, height=self.height
            )
        with self.hold_sync():  # one message to the browser
            self._load(result, layout=not same, keep_step=same)  # the same pass: its step

    def close(self) -> None:
        """Close the widget and its layout in the kernel, and let go of the result."""
        if not hasattr(self, "result"):  # closed already (ipywidgets closes again on __del__)
            super().close()
            return
        quiz = self.result.quiz
        if quiz is not None and self._answered in quiz.listeners:
            quiz.listeners.remove(self._answered)
        if self.result.widget is self:
            self.result.widget = None
        layout = getattr(self, "layout", None)
        if layout is not None:
            layout.close()
        super().close()
        # A widget is a reference cycle (traitlets' observers are its bound methods), freed
        # only by the collector: let go of the result, its graph and its steps here, so
        # they are freed by reference counting at once.
        self._steps, self._flat, self._passes, self._spans = {}, {}, None, {}
        del self.result, self.view

    def toggle(self, group_id: str) -> None:
        """Open a collapsed group, or close an open one."""
        if group_id not in self.view.groups:
            return
        if group_id in self.view.expanded:
            self.view.collapse(group_id)
            parents = self._parents(group_id)
            self.focus = parents[-1].id if parents else ""
        else:
            self.view.expand(group_id)
            self.focus = group_id
        self.found = {}  # the last search is done with: the new view is not placed around it
        self._relayout()

    def up(self, group_id: str) -> None:
        """Back up to an open group (the breadcrumb): close every group opened inside it.

        "" goes back to the first view.
        """
        if not group_id:
            self.view.open_within_budget()
            self.focus = ""
        elif group_id in self.view.groups:
            members = set(self.view.members(group_id))
            for g in list(self.view.expanded):
                group = self.view.groups[g]
                if g != group_id and self.view.graph.nodes[group.first].id in members:
                    self.view.collapse(g)
            self.focus = group_id
        self.found = {}
        self._relayout()

    def find(self, query: str) -> str | None:
        """Select a node by id or name (or a group by its title), opening the groups
        it is in; the node's id, or None (and `found` says so) if nothing matches."""
        query = query.strip()
        graph = self.result.graph
        node = (
            graph.by_id.get(query)
            or next((n for n in graph if n.name == query), None)
            or next((n for n in graph if n.name and query.lower() in n.name.lower()), None)
        )
        target = node.id if node else None
        if node is None:
            group = next((g for g in self.view.groups.values() if query in g.label), None)
            target = group.id if group else None
            chain = self._parents(group.id) if group else []
        else:
            chain = list(self.view.chains[self.view.index[node.id]])
        if target is None:
            self.found = {"query": query, "error": f"no node or group named {query!r}"}
            return None
        opened = [g for g in chain if g.id != target and not self.view.is_open(g)]
        for g in opened:
            self.view.expand(g.id)
        if opened:
            self.focus = opened[-1].id
            self._relayout()
        self.selected = target
        self.found = {"query": query, "node": target, "box": self._unit.get(target, target)}
        return target

    def set_width(self, width: float, height: float | None = None) -> None:
        """The room the widget has for the graph, in pixels: a graph that does not fit
        left to right wraps into rows or reads top to bottom (see `render.to_svg`)."""
        width = max(300.0, float(width))
        height = max(200.0, float(height)) if height else self.height
        fits = render.readable(self.svg, width, height) == 1
        small = abs(width - self.width) < 0.1 * self.width and height == self.height
        adapted = "cluster_row" in self.svg or "ad-tb" in _svg_classes(self.svg)
        self.width, self.height = width, height
        if self.fitted and not (small and fits):  # grouped or not, for this room
            view = render.view_of(self.result.graph, width=width, height=height)
            if bool(view.groups) != bool(self.view.groups):
                self.view = view
                self._relayout()
                self.fitted = True  # made for the room, not moved by the user
                return
        # A layout made for another width: again if it no longer fits, or if it was
        # wrapped or turned for a width that changed by more than a tenth.
        if not fits or (adapted and not small):
            self._draw(layout=True)
            self._restep(keep_step=True)

    def _relayout(self) -> None:
        """A new view of the same result: steps, records and layout, not the passes."""
        self.fitted = False
        self._draw(layout=True)
        self._restep()

    def _parents(self, group_id: str) -> list[Group]:
        """The groups around a group, outermost first."""
        group = self.view.groups[group_id]
        chain = self.view.chains[group.first]
        return list(chain[: chain.index(group)])

    def _trail(self) -> list[Group]:
        """The breadcrumb: the focus group and the groups around it, if they are open."""
        if self.focus not in self.view.groups:
            return []
        chain = [*self._parents(self.focus), self.view.groups[self.focus]]
        return [g for g in chain if g.id in self.view.expanded]


def _svg_classes(svg: str) -> list[str]:
    found = re.search(r'<svg class="([^"]*)"', svg)
    return found[1].split() if found else []


def _order(group_id: str) -> tuple[int, int]:
    """Groups by depth, then by first node: "g2_n40" -> (2, 40)."""
    depth, _, first = group_id[1:].partition("_n")
    return int(depth), int(first or 0)


def js_column(lines: list[str], line: int | None, col: int | None) -> int | None:
    """A code position's column (UTF-8 bytes) as JavaScript indexes the line (UTF-16
    code units), for the source pane to mark a node's text."""
    if line is None or col is None or not 0 < line <= len(lines):
        return col
    before = lines[line - 1].encode()[:col].decode(errors="replace")
    return len(before.encode("utf-16-le")) // 2


def _record(
    node: Any,
    unit: str,
    hide: Concealment,
    grads: dict[str, float] | None = None,
    lines: list[str] | None = None,
) -> dict[str, Any]:
    grad = node.grad if grads is None else grads[node.id]
    lines = lines or []
    return {
        "id": node.id,
        "name": printable(node.shown),  # as the box draws it: \x00, not a raw NUL
        "title": printable(node.title),
        "op": node.op.name,
        "kind": node.kind,
        "value": hide.value(node.name, num(node.value)),
        "grad": hide.grad(num(grad)),
        "tangents": {s: hide.grad(num(v)) for s, v in node.tangents.items()},
        "flagged": node.flagged,
        "line": node.line,
        "end_line": node.end_line,
        "col": js_column(lines, node.line, node.col),
        "end_col": js_column(lines, node.end_line, node.end_col),
        "box": unit,
    }


def json_number(x: float) -> float | str:
    """A number as valid JSON: nan and ±inf as JavaScript's spelling ("NaN", "Infinity"),
    which Number() in the browser and float() here read back."""
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def cost_line(result: GradResult) -> str:
    """Forward against reverse mode on this very graph."""
    n_in = sum(1 for n in result.graph if n.kind == "input")
    n_ops = sum(1 for n in result.graph if n.kind == "op")
    if result.vector:
        cost = result.cost
        return (
            f"This graph: {n_in} inputs, {n_ops} operations, {cost.outputs} outputs. "
            f"Forward mode needs one pass per input: {plural(n_in, 'pass', 'passes')}, "
            f"{plural(cost.forward_steps, 'step')} in all. Reverse mode needs one backward "
            f"pass per output: {plural(cost.outputs, 'pass', 'passes')}, "
            f"{plural(cost.reverse_steps, 'step')} in all."
        )
    return (
        f"This graph: {n_in} input{'s' * (n_in != 1)}, {n_ops} operations, 1 output. "
        f"Forward mode needs one pass per input: {n_in} pass{'es' * (n_in != 1)}, "
        f"{n_in * n_ops} operation-steps in all. Reverse mode needs one backward pass for "
        f"the scalar output: {n_ops} operation-steps, whatever the number of inputs."
    )


_EDGE = re.compile(r'<g id="edge\d+" class="edge[^"]*">.*?</g>', re.S)
_EDGE_TEXT = re.compile(r"(<text[^>]*>)[^<]*(</text>)")
_MODE_TEXT = re.compile(r'(<text class="(?:grad|tangent)[^"]*"[^>]*>)([^<]*?) [^ <]*(</text>)')


def edge_labels(graph: Any, view: View) -> dict[str, str]:
    """Each drawn edge's label (its local derivative, or ×n for merged edges) keyed by the
    title Graphviz gives its SVG group and its place among edges of that title: "n0->n2#0".

    (Graphviz numbers its SVG groups edge1, edge2, ... over every edge, the invisible ones
    that order wrapped rows included, so those numbers do not name drawn edges.)"""
    unit_of = view.unit_of()
    edges = view.edges(unit_of)
    kinds = {box.id: box.kind for box in boxes(graph, view, unit_of, edges)}
    seen: dict[str, int] = {}
    labels = {}
    for src, dst, attrs in drawn_edges(graph, edges, kinds, render.config.edge_labels, "label"):
        title = f"{src}->{dst}"
        k = seen[title] = seen.get(title, -1) + 1
        if "label" in attrs:
            labels[f"{title}#{k}"] = attrs["label"]
    return labels


def conceal_svg(svg: str, result: GradResult) -> str:
    """The SVG with derivatives (and stated values) replaced by '?' while they are kept back."""
    hide = concealment(result)
    if hide.grads:
        svg = _MODE_TEXT.sub(rf"\1\2 {HIDDEN}\3", svg)
        # Edge labels are local derivatives: on a chain they would give answers away.
        svg = _EDGE.sub(lambda m: _EDGE_TEXT.sub(rf"\1{HIDDEN}\2", m.group()), svg)
    for node in result.graph:
        if node.name and node.name in hide.values:
            svg = re.sub(
                rf'(<title>{node.id}</title>.*?<text class="value"[^>]*>value )[^<]*(</text>)',
                rf"\1{HIDDEN}\2", svg,
                count=1, flags=re.S,
            )  # fmt: skip
    return svg
