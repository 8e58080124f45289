"""Tracing a cell: run it on Value leaves (reverse mode) and on Duals (forward mode).

`Tracer` holds a compiled cell, its inputs and the namespace it runs in. Its
`trace()` runs the cell once with Value inputs in the user's namespace (so the
cell's bindings persist, as after any cell), records every node with its name,
source position and user-function calls, runs the backward pass, then runs the
cell again once per seed input with Dual inputs in a scratch copy of the
namespace to get each node's forward-mode tangent. The result is a
`GradResult`. `Tracer.run_plain()` runs the cell on floats, for finite
differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ad_magic.engine import value
from ad_magic.engine.dual import Dual
from ad_magic.engine.functions import FUNCTIONS
from ad_magic.engine.value import Value
from ad_magic.trace.cellcode import BIND, CellCode, quiet
from ad_magic.trace.forward import forward_passes
from ad_magic.trace.inputs import Bindings, Input, ignore
from ad_magic.trace.output import Choice, OutputError, choose, output_names, outputs
from ad_magic.trace.recorder import Recorder
from ad_magic.trace.records import backward_into, build_graph, graph_of_value, unused_notes
from ad_magic.trace.result import GradResult

__all__ = ["Input", "TraceError", "Tracer", "graph_of_value", "quiet"]


class TraceError(Exception):
    """The cell ran, but what it made cannot be differentiated as asked (one line)."""


class Tracer:
    """Runs one compiled cell in the modes %%grad needs."""

    def __init__(
        self,
        code: CellCode,
        inputs: list[Input],
        namespace: dict[str, Any],
        out: str | None = None,
    ) -> None:
        self.code = code
        self.inputs = inputs
        self.namespace = namespace
        self.out = out
        self.snapshot = dict(namespace)  # the namespace before the cell ran
        self.output_note = ""  # which binding was taken as the output, if not plain
        self.lines = code.source.splitlines()

    # -- running the cell -------------------------------------------------
    def run(self, ns: dict[str, Any], bind: Any) -> Any:
        """Execute the cell in ns with ad_magic's functions and bind available.

        Returns the final expression's value (None without one). The names
        added for the run are removed again unless the cell rebound them.
        """
        __tracebackhide__ = True  # tracebacks start at the cell, as for a normal cell
        added = {k: f for k, f in FUNCTIONS.items() if k not in ns}
        added[BIND] = bind
        outer = ns.get(BIND)  # a %%grad run from inside a %%grad cell: the outer's
        ns.update(added)
        try:
            exec(self.code.body, ns)
            return eval(self.code.last, ns) if self.code.last else None
        finally:
            for k, f in added.items():
                if ns.get(k) is f:
                    del ns[k]
            if outer is not None:
                ns[BIND] = outer

    def _pick(
        self, ns: dict[str, Any], last: Any, bound_last: str | None, choice: Choice | None = None
    ) -> tuple[str, Any]:
        """The output's name and object: --out, else a final expression, else the chosen
        binding (see output.py), else the last binding.

        The first trace settles which; later runs (finite differences, live
        inputs) take the output from the same place.
        """
        if self.out is not None:
            for name in output_names(self.out):
                if name not in ns:
                    raise TraceError(f"--out {self.out}: the cell did not define {name!r}")
            if "," in self.out:  # -o y1,y2: a vector output
                return self.out, tuple(ns[name] for name in output_names(self.out))
            return self.out, ns[self.out]
        final = (Value, Dual, float, int, np.ndarray, list, tuple)
        if self.code.last is not None and isinstance(last, final):
            return self._last_text(), last
        if choice is not None:
            if ns.get(choice.name) is choice.value:
                self.out = choice.name
            self.output_note = choice.note
            return choice.name, choice.value
        if bound_last is not None:
            self.out = bound_last
            return bound_last, ns[bound_last]
        return "", last

    def _last_text(self) -> str:
        tail = self.code.last_text
        return tail if len(tail) <= 40 else "_"

    def run_plain(self, values: dict[str, Any]) -> float:
        """The output with inputs as plain numbers (by name), printing suppressed.

        A cell that reads `.data` cannot run on floats; it runs on Duals with
        zero derivative instead, which compute the very same numbers.
        """
        try:
            return self._run_numbers(values, lambda v, label: v)
        except (AttributeError, TypeError):
            return self._run_numbers(values, lambda v, label: Dual(v, 0.0))

    def _run_numbers(self, values: dict[str, Any], leaf: Any) -> float:
        ns = dict(self.snapshot)
        for inp in self.inputs:
            ns[inp.name] = Input(inp.name, values.get(inp.name, inp.data)).make(leaf)
        with quiet():
            last = self.run(ns, ignore)
        name, obj = self._pick(ns, last, None)
        if isinstance(obj, np.ndarray) and obj.size == 1:
            obj = obj.reshape(()).item()
        if isinstance(obj, (Value, Dual)):
            return obj.primal
        try:
            return float(obj)
        except (TypeError, ValueError):
            raise TraceError(f"on plain numbers the output {name!r} is {obj!r:.40}") from None

    # -- reverse mode --------------------------------------------------------
    def rerun(self, values: dict[str, float]) -> Any:
        """A new trace with some inputs changed, in a scratch copy of the namespace."""
        inputs = [Input(i.name, values.get(i.name, i.data)) for i in self.inputs]
        again = Tracer(self.code, inputs, dict(self.snapshot), out=self.out)
        with quiet():
            return again.trace(self.seeds, self.max_forward)

    def trace(self, seeds: list[str] | None = None, max_forward: int = 16) -> Any:
        """Run the cell in reverse mode, then forward mode; a GradResult."""
        __tracebackhide__ = True
        self.seeds, self.max_forward = seeds, max_forward
        leaves = {
            inp.name: inp.make(lambda v, label: Value(v, label=label)) for inp in self.inputs
        }
        self.namespace.update(leaves)
        bindings = Bindings()
        bindings.declared = {
            name: {id(v) for v in (x.flat if isinstance(x, np.ndarray) else [x])}
            for name, x in leaves.items()
        }
        recorder = Recorder(self.code.codes)
        outer = value.on_create  # a trace running this one (a nested %%grad) records on after
        value.on_create = recorder
        try:
            last = self.run(self.namespace, bindings)
        finally:
            value.on_create = outer
            recorder.release()
        own = {
            id(v) for x in leaves.values() for v in (x.flat if isinstance(x, np.ndarray) else [x])
        }
        choice = choose(bindings.bound, {id(v) for v in recorder.made}, own)
        name, out = self._pick(self.namespace, last, bindings.last or bindings.last_any, choice)
        try:
            outs = outputs(name, out)
        except OutputError as exc:
            raise TraceError(str(exc)) from None
        graph, values, older = build_graph(outs, leaves, recorder, bindings, self.lines)
        out = outs[0][1]  # the first output: node.grad, .grads and the display's reverse pass
        backward_into(out, graph, values, keep=[v for v in values[:older] if id(v) not in own])
        ids = {id(v): node.id for v, node in zip(values, graph.nodes, strict=True)}
        input_ids = {
            name: np.vectorize(lambda v: ids.get(id(v)), otypes=[object])(x)
            if isinstance(x, np.ndarray)
            else ids.get(id(x))
            for name, x in leaves.items()
        }
        notes = [
            f"line {line} rebinds input {name} to a new Value, so the input is not used; "
            f"remove that line or drop {name} from the magic line"
            for name, line in bindings.rebound.items()
        ]
        kept = {k: x for k, x in leaves.items() if k not in bindings.rebound}  # said above
        notes += unused_notes(graph, values, kept)
        notes += [self.output_note] if self.output_note else []
        result = GradResult(self, graph, input_ids, notes)
        ops = [v for v in recorder.made if v._prev]  # every op node the run made, in order
        forward_passes(
            self,
            result,
            dict(zip(map(id, values), graph.nodes, strict=True)),
            ops,
            seeds,
            max_forward,
        )
        return result
