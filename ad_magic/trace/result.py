"""`GradResult`: what `%%grad` found, as data, text and a rich display.

It holds the traced graph (`.graph`, `.nodes`), the output's value and the
gradient of every input, the forward-mode tangents per seed input, the steps
of both passes, and the recorded program, whose central differences
`.check()` compares with (the cell itself never runs again).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

import numpy as np

from ad_magic.engine.check import GradCheck, GradEntry
from ad_magic.trace.cost import Cost, count, measure
from ad_magic.trace.graph import Graph, Node, elide, name_column, printable
from ad_magic.trace.jacobian import Jacobian, Tape
from ad_magic.trace.naming import MOST, SHOWN, few
from ad_magic.trace.program import Program
from ad_magic.trace.steps import GroupStep, ReversePass, Step, at_level, forward_steps, num


class Rerun(Protocol):
    """What a result needs of the tracer that made it: its inputs and source, and a
    new trace (one more run of the cell) for live inputs."""

    inputs: list[Any]
    lines: list[str]
    code: Any

    def retrace(self, values: dict[str, float]) -> Any: ...


class Shown:
    """What the display shows of each number: everything (the classroom may hide some)."""

    def grad(self, text: str) -> str:
        return text

    def value(self, name: str, text: str) -> str:
        return text


@dataclass
class Hooks:
    """How the layers above the trace show a result, registered when they load.

    The classroom says what to keep back and which lines to add (`--expect`,
    `--quiz`, `--check`); rendering draws the graph; the widget layer gives the
    rich display. The trace layer itself imports none of them.
    """

    conceal: Callable[[GradResult], Shown] = lambda result: Shown()
    lines: list[Callable[[GradResult], list[str]]] = field(default_factory=list)
    mimebundle: Callable[[GradResult], dict[str, Any]] | None = None
    draw: Any = None  # the render package: to_dot, to_svg, save
    # save() by suffix, beyond draw's: ".html" (widget.export), ".gif" and
    # ".svg animated" (render.animate); each called as saver(result, path, mode, seed).
    savers: dict[str, Callable[..., Any]] = field(default_factory=dict)


hooks = Hooks()


class GradResult:
    """The derivatives of a traced cell's output, with the graph they came from."""

    def __init__(
        self,
        tracer: Rerun | None,
        graph: Graph,
        inputs: dict[str, Any],
        notes: list[str],
    ) -> None:
        self.tracer = tracer  # None for a graph built outside the magic (%grad NAME)
        self.graph = graph
        self.notes = notes
        self.forward_note = ""  # why forward mode has no tangents, if it has none
        self.mode = "reverse"  # the display's initial mode
        self.seed: str | None = None  # the display's initial seed
        self.check_table: GradCheck | None = None  # filled by --check
        # Homework (see homework.py): --check's per-node rule checks and its
        # tolerance, --expect's outcomes (right values shown only with --reveal), --quiz.
        self.node_checks: list[Any] = []  # classroom.localcheck.NodeCheck
        self.check_tol = 1e-5
        self.expectations: list[Any] = []  # classroom.expect.Expectation
        self.expect_tol = 0.01  # --tol: how close --expect and --quiz answers must be
        self.reveal = False
        self.quiz: Any = None  # classroom.quiz.Quiz
        self.student_check: Any = None  # classroom.studentcheck.StudentCheck (%grad --check)
        self.widget: Any = None  # the live display, once shown in a notebook
        self.second: Any = None  # trace.hessian.Second, with --order 2
        self.hessian_check: GradCheck | None = None  # --order 2 --check
        self.hessian_tol = 1e-4
        self.measured: Cost | None = None  # --cost: counts with times
        self._tape: Tape | None = None
        self._jacobian: Jacobian | None = None
        self.program: Program | None = None  # the recorded run, for finite differences
        # input name -> its node id (None if the output does not use it), or
        # an object array of ids for an array input
        self._input_ids = inputs

    # -- the numbers -----------------------------------------------------
    @property
    def output(self) -> str:
        return self.graph.output_name or self.graph[self.graph.output].name

    @property
    def value(self) -> float:
        return self.graph[self.graph.output].value

    @property
    def outputs(self) -> list[str]:
        """The names of the outputs: one, or J's rows for a vector output (`y[0]`, `y1`)."""
        if not self.graph.outputs:
            return [self.output]
        return [self.graph[o].name for o in self.graph.outputs]

    @property
    def vector(self) -> bool:
        """Whether the output is a vector (several outputs)."""
        return bool(self.graph.outputs)

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    @property
    def inputs(self) -> list[str]:
        return list(self._input_ids)

    @property
    def flagged(self) -> Node | None:
        """The first node whose local derivative rule disagreed with a numeric estimate."""
        return next((n for n in self.graph if n.flagged), None)

    @property
    def grads(self) -> dict[str, float | np.ndarray]:
        """d(output)/d(input) for each input: a float, or an array for array inputs."""

        def grad(node_id: str | None) -> float:
            return self.graph[node_id].grad if node_id is not None else 0.0

        return {
            name: np.vectorize(grad, otypes=[float])(ids)
            if isinstance(ids, np.ndarray)
            else grad(ids)
            for name, ids in self._input_ids.items()
        }

    @property
    def tape(self) -> Tape:
        """The recorded computation as rows, for the Jacobian and its cost."""
        if self._tape is None:
            outs = self.graph.outputs or [self.graph.output]
            self._tape = Tape(self.graph, outs, self.scalar_inputs, self.outputs)
        return self._tape

    @property
    def jacobian(self) -> Jacobian:
        """J[i, j] = d(output i)/d(input j), by reverse mode (one backward pass per output)."""
        if self._jacobian is None:
            self._jacobian = self.tape.jacobian("reverse")
        return self._jacobian

    def gradient(self, output: str) -> dict[str, float | np.ndarray]:
        """d(output)/d(input) for each input, as .grads gives it for the first output."""
        row = self.jacobian.row(output)

        def of(name: str, ids: Any) -> float | np.ndarray:
            if not isinstance(ids, np.ndarray):
                return row[name]
            out = np.zeros(ids.shape)
            for i in np.ndindex(ids.shape):
                out[i] = row[f"{name}[{','.join(map(str, i))}]"]
            return out

        return {name: of(name, ids) for name, ids in self._input_ids.items()}

    def adjoints(self, output: str) -> dict[str, float]:
        """d(output)/d(node) for every node id: the backward pass from one output."""
        tape = self.tape
        grads = tape.backward(tape.outputs[tape.output_names.index(output)])
        return dict(zip(tape.ids, grads, strict=True))

    @property
    def cost(self) -> Cost:
        """Passes and steps of each mode and of central differences for the whole J, with
        their times once measured (%%grad --cost, or `measure_cost()`)."""
        return self.measured or count(self.tape)

    def measure_cost(self, budget: float = 0.2) -> Cost:
        """Time reverse mode, forward mode over all seeds and central differences over all
        inputs on the recorded program (the cell does not run again)."""
        self.measured = measure(self.tape, budget)
        return self.measured

    @property
    def scalar_inputs(self) -> list[tuple[str, str | None]]:
        """Each scalar input's label (x, W[0,1]) and node id (None if the output ignores it)."""
        out: list[tuple[str, str | None]] = []
        for name, ids in self._input_ids.items():
            if isinstance(ids, np.ndarray):
                for i in np.ndindex(ids.shape):
                    out.append((f"{name}[{','.join(map(str, i))}]", ids.item(i)))
            else:
                out.append((name, ids))
        return out

    @property
    def hessian(self) -> np.ndarray:
        """d²output/d input_i d input_j over the scalar inputs (%%grad --order 2)."""
        return self._second().hessian

    def hvp(self, v: Any) -> np.ndarray:
        """The Hessian times v, by one forward pass, without forming the Hessian."""
        return self._second().hvp(v)

    def _second(self) -> Any:
        if self.second is None:
            raise ValueError("second derivatives need %%grad --order 2")
        return self.second

    @property
    def seeds(self) -> list[str]:
        """The inputs forward mode ran a pass for."""
        return list(self.graph[self.graph.output].tangents)

    @property
    def tangents(self) -> dict[str, dict[str, float]]:
        """seed input -> node id -> d(node)/d(seed), from the forward passes."""
        return {
            s: {n.id: n.tangents[s] for n in self.graph if s in n.tangents} for s in self.seeds
        }

    @overload
    def steps(
        self,
        mode: str = ...,
        seed: str | None = ...,
        output: str | None = ...,
        level: None = ...,
    ) -> list[Step]: ...
    @overload
    def steps(
        self,
        mode: str = ...,
        seed: str | None = ...,
        output: str | None = ...,
        *,
        level: dict[str, str],
    ) -> list[Step | GroupStep]: ...
    def steps(
        self,
        mode: str = "reverse",
        seed: str | None = None,
        output: str | None = None,
        level: dict[str, str] | None = None,
    ) -> list[Step] | list[Step | GroupStep]:
        """The ordered chain-rule steps of the reverse pass from output (the first by
        default), or of the forward pass for seed; mode "second": the forward pass for
        seed over the gradient computation (--order 2).

        With `level` (node id -> the name of the collapsed group it is drawn in, as
        `View.level()` gives), the steps inside one group in a row are one `GroupStep`:
        the pass at the level you look at.
        """
        if level is not None:
            return at_level(self.steps(mode, seed, output), level)
        if mode == "reverse":
            return list(self.backward_pass(output))
        if mode == "second":
            return self._second().steps(seed)
        if mode != "forward":
            raise ValueError(f"mode is 'reverse', 'forward' or 'second', not {mode!r}")
        if not self.seeds:
            raise ValueError(self.forward_note or "forward mode ran no pass")
        seed = seed or self.seeds[0]
        if seed not in self.seeds:
            raise ValueError(f"no forward pass for seed {seed!r}; seeds: {', '.join(self.seeds)}")
        return forward_steps(self.graph, seed)

    def backward_pass(self, output: str | None = None) -> ReversePass:
        """The reverse pass from output (the first by default) as `steps` lists it, each
        step made when read: what a display of a large graph reads a few steps of."""
        if output is None:
            return ReversePass(self.graph)
        if output not in self.outputs:
            raise ValueError(f"no output {output!r}; outputs: {', '.join(self.outputs)}")
        return ReversePass(self.graph, self.graph.outputs[self.outputs.index(output)]
                           if self.vector else None)  # fmt: skip

    def check(self, h: float = 1e-6) -> GradCheck:
        """Each input's gradient against central differences of the recorded program.

        The straight-line computation the cell made is evaluated again with one
        input nudged by +h and -h (the cell does not run again). Where a nudge
        would make a recorded comparison or a kink (relu, abs, max, min) go the
        other way, the entry's note says so: the difference spans a branch. A
        vector output checks all of J, each output by each input, from the tape.
        """
        if self.vector:
            if not h > 0:
                raise ValueError(f"the step h must be positive, got {h!r}")
            J, numeric = self.jacobian, self.tape.jacobian("numeric", h)
            return GradCheck(
                [
                    GradEntry(f"d{out}/d{col}", J[i, j], numeric[i, j])
                    for i, out in enumerate(J.row_names)
                    for j, col in enumerate(J.col_names)
                ],
                h,
                "reverse",
            )
        if self.tracer is None or self.program is None:
            raise ValueError(
                "check() needs a %%grad cell's record; this graph was built outside one"
            )
        if not h > 0:
            raise ValueError(f"the step h must be positive, got {h!r}")
        entries = []
        grads = self.grads
        for inp in self.tracer.inputs:
            for label, idx in inp.scalars():
                ad = grads[inp.name]
                ad_value = float(ad[idx]) if isinstance(ad, np.ndarray) else ad
                slope, note = self.program.central(label, h)
                entries.append(GradEntry(label, ad_value, slope, note))
        return GradCheck(entries, h, "reverse")

    def recorded(self, values: dict[str, Any]) -> float:
        """The output of the recorded program with inputs (by name, numbers or arrays) at
        other values: what finite differences evaluate, without running the cell."""
        if self.tracer is None or self.program is None:
            raise ValueError("recorded() needs a %%grad cell's record")
        moved = {}
        for inp in self.tracer.inputs:
            x = values.get(inp.name, inp.data)
            for label, idx in inp.scalars():
                moved[label] = float(x[idx]) if isinstance(x, np.ndarray) else float(x)
        return self.program.output_at(moved)

    # -- display -----------------------------------------------------------
    def summary(self) -> str:
        """A plain-text account: output, gradients, notes and the nodes."""
        hide = hooks.conceal(self)  # what --expect and --quiz keep from the student for now
        out_ids = self.graph.outputs or [self.graph.output]
        lines = [
            f"{printable(name)} = {hide.value(name, num(self.graph[o].value))}"
            for name, o in zip(self.outputs, out_ids, strict=True)
        ]
        if self.vector:
            m, n = self.jacobian.shape
            lines.append(f"  J = d(outputs)/d(inputs), {m} x {n}, a row per output:")
            lines += ["    " + line for line in self.jacobian.text(hide.grad).splitlines()]
        else:
            grads = list(self.grads.items())
            if len(grads) > MOST:  # a model's parameters: the first few, as numpy prints
                grads = grads[:SHOWN]
            for name, g in grads:
                shown = np.array2string(g, precision=4) if isinstance(g, np.ndarray) else num(g)
                lines.append(
                    f"  d{printable(self.output)}/d{printable(name)} = {hide.grad(shown)}"
                )
            if len(grads) < len(self.grads):
                lines.append(f"  … and {len(self.grads) - len(grads)} more (all in .grads)")
        if self.measured is not None:
            lines.append(f"  cost: {self.measured.line()}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.forward_note:
            lines.append(f"  note: {self.forward_note}")
        for more in hooks.lines:
            lines += more(self)
        if self.second is not None:
            lines += self.second.lines()
        lines.append(f"{len(self.graph)} nodes:")
        flag = "first wrong gradient" if self.student_check else "first rule that disagrees"
        titles = [printable(node.title) for node in self.graph]
        width = name_column(titles)
        for node, title in zip(self.graph, titles, strict=True):
            where = f"line {node.line}" if node.line else ""
            value, grad = hide.value(node.name, num(node.value)), hide.grad(num(node.grad))
            grad = "" if self.vector else f"grad={grad:<10} "  # J above has them all
            lines.append(
                f"  {node.id:>5} {elide(title, width):<{width}} {node.op.name:<8} "
                f"value={value:<10} {grad}{where}" + (f"  <- {flag}" if node.flagged else "")
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        grads = few(
            [
                f"{k}={np.array2string(v, precision=4) if isinstance(v, np.ndarray) else num(v)}"
                for k, v in self.grads.items()
            ],
        )
        size = len(self.graph)
        return f"<GradResult {self.output}={num(self.value)}; grads: {grads}; {size} nodes>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if hooks.mimebundle is None:
            return {"text/plain": self.summary()}
        return hooks.mimebundle(self)

    def to_dot(self, mode: str = "reverse", seed: str | None = None) -> str:
        """Graphviz DOT source of the graph (grouped past the node budget)."""
        return _draw().to_dot(self.graph, mode=mode, seed=seed)

    def to_svg(self, mode: str = "reverse", seed: str | None = None) -> str:
        """The laid-out graph as SVG."""
        return _draw().to_svg(self.graph, mode=mode, seed=seed)

    def save(
        self, path: Any, mode: str = "reverse", seed: str | None = None, animate: bool = False
    ) -> Any:
        """Write the graph to path by its suffix: .svg, .png, .dot, .gif (the pass, animated)
        or .html (an interactive page); animate=True makes an .svg the animated pass."""
        suffix = os.path.splitext(str(path))[1].lower()
        saver = hooks.savers.get(f"{suffix} animated" if animate else suffix)
        if saver is not None:
            return saver(self, path, mode=mode, seed=seed)
        if animate:
            raise ValueError(f"animate=True writes .svg or .gif files, not {path!s}")
        return _draw().save(self.graph, path, mode=mode, seed=seed)

    def as_text(self) -> TextOnly:
        """This result, displayed as plain text only (%%grad --text)."""
        return TextOnly(self.summary())


def _draw() -> Any:
    if hooks.draw is None:
        raise RuntimeError("drawing needs ad_magic.render: import it (the magic does)")
    return hooks.draw


class TextOnly(str):
    """A string IPython shows as it is, without quotes."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
