"""Tracing a cell: run it once on Value leaves, then read everything from the record.

`Tracer` holds a compiled cell, its inputs and the namespace it runs in. Its
`trace()` runs the cell exactly once, with Value inputs, in the user's
namespace (so the cell's bindings and side effects persist, as after any
cell), records every node with its name, source position and user-function
calls and every comparison made on a traced value, and runs the backward
pass. Forward mode (one pass per seed, as dual numbers) and finite differences
(`GradResult.check()`) evaluate the recorded program again; nothing runs the
cell a second time. The result is a `GradResult`. `retrace()` runs the cell
once more with some inputs changed, as re-executing the cell would (a live
input in the widget).
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from ad_magic.engine import scalar, tensor, value
from ad_magic.engine.dual import Dual
from ad_magic.engine.functions import FUNCTIONS
from ad_magic.engine.ops import INPUT
from ad_magic.engine.value import Value
from ad_magic.trace.bare import LeafRecorder, found_leaves, in_order, leaf_names
from ad_magic.trace.cellcode import BIND, SEEN, CellCode, quiet
from ad_magic.trace.forward import forward_passes
from ad_magic.trace.graph import ArrayOp, Graph
from ad_magic.trace.inputs import Bindings, Input
from ad_magic.trace.naming import few
from ad_magic.trace.output import Choice, OutputError, choose, output_names, outputs
from ad_magic.trace.program import Program
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
        self.seeds: list[str] | None = None
        self.max_forward = 16
        self.names: list[str] = []  # namespace names that hold the latest result (_grad, -r)
        self.output_note = ""  # which binding was taken as the output, if not plain
        # Bare %%grad (no inputs): the leaves the cell makes are the inputs (see bare.py).
        self.bare = not inputs
        self.leaf_values: dict[int, float] = {}  # a live input: the k-th leaf made -> number
        self.leaf_keys: dict[str, int | Value] = {}  # input -> k, or the leaf made before
        self.lines = code.source.splitlines()

    # -- running the cell -------------------------------------------------
    def run(self, ns: dict[str, Any], bind: Any) -> Any:
        """Execute the cell in ns with ad_magic's functions and bind available.

        Returns the final expression's value (None without one). The names
        added for the run are removed again unless the cell rebound them.
        """
        __tracebackhide__ = True  # tracebacks start at the cell, as for a normal cell
        added = {k: f for k, f in FUNCTIONS.items() if k not in ns}
        added[BIND], added[SEEN] = bind, tensor.seen
        # A %%grad run from inside a %%grad cell: the outer's, put back after.
        outer = {k: ns[k] for k in (BIND, SEEN) if k in ns}
        ns.update(added)
        try:
            exec(self.code.body, ns)
            return eval(self.code.last, ns) if self.code.last else None
        finally:
            for k, f in added.items():
                if ns.get(k) is f:
                    del ns[k]
            ns.update(outer)

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

    # -- reverse mode, recorded --------------------------------------------------
    def retrace(self, values: dict[str, float]) -> GradResult:
        """The cell run once more with some inputs changed, in the same namespace.

        Like re-executing the cell with new numbers on its magic line: its
        bindings and side effects happen (once); printing is suppressed.
        """
        inputs = [Input(i.name, values.get(i.name, i.data)) for i in self.inputs]
        again = Tracer(self.code, [] if self.bare else inputs, self.namespace, out=self.out)
        for inp in inputs if self.bare else []:
            key = self.leaf_keys[inp.name]
            if isinstance(key, int):
                again.leaf_values[key] = float(inp.data)
            else:
                key.data = float(inp.data)  # a leaf made before the cell, as if assigned
        again.names = self.names
        with quiet():
            result = again.trace(self.seeds, self.max_forward)
        for name in self.names:
            self.namespace[name] = result
        return result

    def _tensors_read(self, ns: dict[str, Any]) -> dict[str, tuple[np.ndarray, tensor.Tensor]]:
        """Bind the object arrays the cell reads (made before it) to Tensor views of them,
        so numpy calls on them are seen as calls; name -> (the array, its view)."""
        viewed = {}
        for name in self.code.body.co_names:
            array = ns.get(name)
            if (
                isinstance(array, np.ndarray)
                and array.dtype == object
                and not isinstance(array, tensor.Tensor)
            ):
                viewed[name] = (array, tensor.tensor(array))
                ns[name] = viewed[name][1]
        return viewed

    def trace(self, seeds: list[str] | None = None, max_forward: int = 16) -> GradResult:
        """Run the cell once in reverse mode; forward mode over the record; a GradResult."""
        __tracebackhide__ = True
        self.seeds, self.max_forward = seeds, max_forward
        made = {inp.name: inp.make(lambda v, label: Value(v, label=label)) for inp in self.inputs}
        # Array inputs as Tensors: the numpy calls on them are recorded (drawn as one box each).
        made = {k: tensor.tensor(x) if isinstance(x, np.ndarray) else x for k, x in made.items()}
        # The leaves as made, whatever the cell then does to the arrays holding them.
        leaves = [
            (label, made[inp.name][idx] if isinstance(inp.data, np.ndarray) else made[inp.name])
            for inp in self.inputs
            for label, idx in inp.scalars()
        ]
        self.namespace.update(made)
        bindings = Bindings()
        bindings.taken([*made, *(label for label, _ in leaves)])  # x = x*3 shows as x'
        bindings.declared = {
            name: {id(v) for v in (x.flat if isinstance(x, np.ndarray) else [x])}
            for name, x in made.items()
        }
        recorder = (
            LeafRecorder(self.code.codes, self.leaf_values)
            if self.bare
            else Recorder(self.code.codes)
        )
        # A trace running this one (a nested %%grad) records on afterwards.
        outer = value.on_create, scalar.on_compare, value.on_read, value.on_leaf, tensor.on_call
        value.on_create, scalar.on_compare = recorder, recorder.compare
        value.on_read, value.on_leaf = recorder.read, recorder.leaf
        tensor.on_call = recorder.array_call
        # Object arrays made before the cell (bare mode's leaves) as Tensors while it runs.
        viewed = self._tensors_read(self.namespace)
        try:
            last = self.run(self.namespace, bindings)
        finally:
            value.on_create, scalar.on_compare, value.on_read, value.on_leaf, tensor.on_call = (
                outer
            )
            recorder.release()
            for name, (array, view) in viewed.items():
                if self.namespace.get(name) is view:
                    self.namespace[name] = array
        own = {id(v) for _, v in leaves}
        if self.bare and not recorder.made:
            raise TraceError(
                "the cell made no Value to differentiate: make some in it "
                "(a = Value(2.0, label='a')) or give inputs on the magic line (%%grad x=1.5)"
            )
        made_ids = {id(v) for v in recorder.made}
        choice = choose(bindings.bound, made_ids, None if self.bare else own)
        name, out = self._pick(self.namespace, last, bindings.last or bindings.last_any, choice)
        try:
            outs = outputs(name, out)
        except OutputError as exc:
            raise TraceError(str(exc)) from None
        if self.bare:
            leaves, own = self._bare_leaves([v for _, v in outs], recorder, bindings), made_ids
        graph, values, older = build_graph(outs, leaves, recorder, bindings, self.lines)
        out = outs[0][1]  # the first output: node.grad, .grads and the display's reverse pass
        # Leaves whose .data the cell changed after using it (a training update) take part
        # with the number the computation read, in the records and the backward pass.
        used = recorder.leaf_data
        changed = [
            (v, v.data, used[id(v)][1], node)
            for v, node in zip(values, graph.nodes, strict=True)
            if id(v) in used and used[id(v)][1] != v.data
        ]
        for v, _, then, node in changed:
            v.data = node.value = then
        try:
            keep = [v for v in values[:older] if id(v) not in own]
            backward_into(out, graph, values, keep=keep)
        finally:
            for v, now, _, _ in changed:
                v.data = now
        ids = {id(v): node.id for v, node in zip(values, graph.nodes, strict=True)}
        if self.bare:
            leaves = self._bare_inputs(leaves, ids, graph, recorder, bindings)
        by_label = {label: ids.get(id(leaf)) for label, leaf in leaves}
        input_ids = {inp.name: _ids_of(inp, by_label) for inp in self.inputs}
        graph.arrays[:0] = [
            ArrayOp(
                name,
                (),
                held.shape,
                tuple(i for i in held.flat if i is not None),
                tuple(i or "" for i in held.flat),
            )
            for name, held in input_ids.items()
            if isinstance(held, np.ndarray) and any(i is not None for i in held.flat)
        ]
        notes = [
            f"line {line} rebinds input {name} to a new Value, so the input is not used; "
            f"remove that line or drop {name} from the magic line"
            for name, line in bindings.rebound.items()
        ]
        kept = [(k, v) for k, v in leaves if k.partition("[")[0] not in bindings.rebound]
        notes += unused_notes(graph, values, kept)  # (a rebound input is said above)
        notes += cut_notes(recorder, ids, graph, bindings)
        notes += [self.output_note] if self.output_note else []
        result = GradResult(self, graph, input_ids, notes)
        program = Program.record(graph, values, recorder.comparisons, recorder.where, leaves)
        result.program = program
        if self.bare:
            _check_seeds(self.seeds or [], list(by_label))
        forward_passes(result, by_label, self.seeds, self.max_forward, program.args)
        return result

    def _bare_leaves(
        self, outs: list[Value], recorder: Recorder, bindings: Bindings
    ) -> list[tuple[str, Value]]:
        """Bare %%grad: the leaves the cell made, then those made before it that the
        outputs depend on, each with its name ('' until it gets its node id)."""
        found = found_leaves(recorder.made, outs)
        loops = bindings.loop_names()  # `p` of `for p in params` names no parameter
        seen = {k: x for k, x in self.namespace.items() if k not in loops}
        names = leaf_names(found, bindings.variables(), seen)
        made = {id(v) for v in recorder.made}
        return in_order(list(zip(names, found, strict=True)), sum(id(v) in made for v in found))

    def _bare_inputs(
        self,
        leaves: list[tuple[str, Value]],
        ids: dict[int, str],
        graph: Graph,
        recorder: Recorder,
        bindings: Bindings,
    ) -> list[tuple[str, Value]]:
        """Bare %%grad's inputs: a leaf without a name gets its node id; a labelled one
        shows its variable beside the label; each becomes an Input a live input can move."""
        made = [v for v in recorder.made if v._fn is INPUT]
        order = {id(v): k for k, v in enumerate(made)}  # the k-th leaf the cell made
        named = []
        self.inputs, self.leaf_keys = [], {}
        for label, leaf in leaves:
            node = graph[ids[id(leaf)]]
            label = label or node.id
            var = bindings.names.get(id(leaf), "")
            if var and var != node.name:
                node.also = var
            self.inputs.append(Input(label, node.value))  # the number the cell used
            self.leaf_keys[label] = order.get(id(leaf), leaf)
            named.append((label, leaf))
        return named


def _check_seeds(seeds: list[str], leaves: list[str]) -> None:
    """Bare %%grad: each --seed names a leaf (or the container before its `[`), now that
    the leaves are known; else a TraceError naming the leaves it could be."""
    for seed in seeds:
        if not any(seed in (leaf, leaf.partition("[")[0]) for leaf in leaves):
            near = difflib.get_close_matches(seed, leaves, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(near)}? " if near else ""
            raise TraceError(
                f"--seed {seed}: not a leaf of this cell; {hint}its leaves: {few(leaves)}"
            )


def _ids_of(inp: Input, by_label: dict[str, str | None]) -> Any:
    """An input's node id (None if unused), or an object array of them for an array input."""
    if not isinstance(inp.data, np.ndarray):
        return by_label[inp.name]
    ids = np.empty(inp.data.shape, dtype=object)
    for label, idx in inp.scalars():
        ids[idx] = by_label[label]
    return ids


def cut_notes(
    recorder: Recorder, ids: dict[int, str], graph: Graph, bindings: Bindings
) -> list[str]:
    """A note per line that made a leaf the output depends on from a number read out
    of a traced Value (`Value(x.data * 2)`): the derivative through it is lost."""
    notes: dict[str, None] = {}
    for leaf, origin, site in recorder.cuts:
        if id(leaf) not in ids:
            continue  # the output does not depend on it
        node = graph.by_id.get(ids.get(id(origin), ""))
        name = (node.name if node else "") or origin.label or bindings.names.get(id(origin), "")
        pos = recorder.where(site)
        where = f"line {pos[0]}" if pos else "the cell"
        what = f"{name}.data" if name else "the .data of a traced value"
        notes[
            f"{where} makes a new Value from {what}: the graph is cut there, "
            "derivatives through it are 0"
        ] = None
    return list(notes)
