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

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ad_magic import dual, value
from ad_magic.cellcode import BIND, CellCode
from ad_magic.dual import Dual
from ad_magic.functions import FUNCTIONS
from ad_magic.graph import Graph, Node
from ad_magic.recorder import Recorder
from ad_magic.value import Value, propagate, topological


class TraceError(Exception):
    """The cell ran, but what it made cannot be differentiated as asked (one line)."""


@dataclass
class Input:
    """One %%grad input: a name and a number or an array of numbers."""

    name: str
    data: float | np.ndarray

    def scalars(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        """(display name, index) of each scalar: 'x' and (), or 'W[0,1]' and (0, 1)."""
        if isinstance(self.data, np.ndarray):
            for idx in np.ndindex(self.data.shape):
                yield f"{self.name}[{','.join(map(str, idx))}]", idx
        else:
            yield self.name, ()

    def make(self, leaf: Any) -> Any:
        """The input as traced objects: leaf(number, label) per scalar."""
        if not isinstance(self.data, np.ndarray):
            return leaf(self.data, self.name)
        out = np.empty(self.data.shape, dtype=object)
        for label, idx in self.scalars():
            out[idx] = leaf(float(self.data[idx]), label)
        return out


@dataclass
class Bindings:
    """The names the cell's top level bound traced values to, in order."""

    names: dict[int, str] = field(default_factory=dict)  # id(node) -> display name
    versions: dict[str, int] = field(default_factory=dict)  # name -> bindings so far
    last: str | None = None  # the last name bound to a traced value or array
    last_any: str | None = None  # the last name bound to anything
    seen: dict[str, Any] = field(default_factory=dict)  # name -> latest traced object

    def __call__(self, name: str, obj: Any) -> None:
        self.last_any = name
        if isinstance(obj, Value):
            self._name(obj, name)
            self.last = name
            self.seen[name] = obj
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            for idx in np.ndindex(obj.shape):
                item = obj[idx]
                if isinstance(item, Value):
                    self._name(item, f"{name}[{','.join(map(str, idx))}]")
                    self.last = name
            self.seen[name] = obj

    def _name(self, node: Value, name: str) -> None:
        if id(node) in self.names:
            return
        k = self.versions.get(name, 0)
        self.versions[name] = k + 1
        self.names[id(node)] = name if k == 0 else (name + "'" * k if k < 3 else f"{name}@{k}")


def _ignore(name: str, obj: Any) -> None:
    """The binding callback for runs that record nothing."""


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
        self.lines = code.source.splitlines()

    # -- running the cell -------------------------------------------------
    def _run(self, ns: dict[str, Any], bind: Any) -> Any:
        """Execute the cell in ns with ad_magic's functions and bind available.

        Returns the final expression's value (None without one). The names
        added for the run are removed again unless the cell rebound them.
        """
        __tracebackhide__ = True  # tracebacks start at the cell, as for a normal cell
        added = {k: f for k, f in FUNCTIONS.items() if k not in ns}
        added[BIND] = bind
        ns.update(added)
        try:
            exec(self.code.body, ns)
            return eval(self.code.last, ns) if self.code.last else None
        finally:
            for k, f in added.items():
                if ns.get(k) is f:
                    del ns[k]

    def _pick(self, ns: dict[str, Any], last: Any, bound_last: str | None) -> tuple[str, Any]:
        """The output's name and object: --out, else a final expression, else the last binding.

        The first trace settles which; later runs (finite differences, live
        inputs) take the output from the same place.
        """
        if self.out is not None:
            if self.out not in ns:
                raise TraceError(f"--out {self.out}: the cell did not define {self.out!r}")
            return self.out, ns[self.out]
        if self.code.last is not None and isinstance(last, (Value, Dual, float, int, np.ndarray)):
            return self._last_text(), last
        if bound_last is not None:
            self.out = bound_last
            return bound_last, ns[bound_last]
        return "", last

    def _last_text(self) -> str:
        tail = (
            self.code.source.strip().splitlines()[-1].strip() if self.code.source.strip() else ""
        )
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
        with _quiet():
            last = self._run(ns, _ignore)
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
        with _quiet():
            return again.trace(self.seeds, self.max_forward)

    def trace(self, seeds: list[str] | None = None, max_forward: int = 16) -> Any:
        """Run the cell in reverse mode, then forward mode; a GradResult."""
        from ad_magic.result import GradResult

        __tracebackhide__ = True
        self.seeds, self.max_forward = seeds, max_forward
        leaves = {
            inp.name: inp.make(lambda v, label: Value(v, label=label)) for inp in self.inputs
        }
        self.namespace.update(leaves)
        bindings = Bindings()
        recorder = Recorder(self.code.codes)
        value.on_create = recorder
        try:
            last = self._run(self.namespace, bindings)
        finally:
            value.on_create = None
            recorder.release()
        name, out = self._pick(self.namespace, last, bindings.last or bindings.last_any)
        out = self._scalar_output(name, out)
        graph, values, older = self._graph(out, name, leaves, recorder, bindings)
        own = {
            id(v) for x in leaves.values() for v in (x.flat if isinstance(x, np.ndarray) else [x])
        }
        backward_into(out, graph, values, keep=[v for v in values[:older] if id(v) not in own])
        ids = {id(v): node.id for v, node in zip(values, graph.nodes, strict=True)}
        input_ids = {
            name: np.vectorize(lambda v: ids.get(id(v)), otypes=[object])(x)
            if isinstance(x, np.ndarray)
            else ids.get(id(x))
            for name, x in leaves.items()
        }
        result = GradResult(self, graph, input_ids, self._unused(graph, values, leaves))
        ops = [v for v in recorder.made if v._prev]  # every op node the run made, in order
        self._forward(
            result, dict(zip(map(id, values), graph.nodes, strict=True)), ops, seeds, max_forward
        )
        return result

    def _scalar_output(self, name: str, out: Any) -> Value:
        if isinstance(out, np.ndarray) and out.dtype == object and out.size == 1:
            out = out.reshape(()).item()
        if isinstance(out, Value):
            return out
        what = name or "the final expression"
        if isinstance(out, np.ndarray):
            raise TraceError(
                f"the output {what} is an array of shape {out.shape}; %%grad differentiates a "
                f"scalar: reduce it (e.g. np.sum({name or '...'})) or pick an element with --out"
            )
        if name or out is not None:
            raise TraceError(
                f"the output {what} = {out!r:.40} does not depend on any input; "
                "use the inputs in the cell, or name the output with --out"
            )
        raise TraceError(
            "the cell computed nothing from its inputs; assign a result, e.g. y = ..."
        )

    def _graph(
        self,
        out: Value,
        out_name: str,
        leaves: dict[str, Any],
        recorder: Recorder,
        bindings: Bindings,
    ) -> tuple[Graph, list[Value], int]:
        """Records of every node the output depends on: older nodes first, then the cell's."""
        reachable = topological(out)  # the output first
        wanted = set(map(id, reachable))
        made_at = [(k, v) for k, v in enumerate(recorder.made) if id(v) in wanted]
        mine = {id(v) for _, v in made_at}
        older = [v for v in reversed(reachable) if id(v) not in mine]
        values = older + [v for _, v in made_at]
        ids = {id(v): f"n{i}" for i, v in enumerate(values)}
        names = dict(bindings.names)
        for x in leaves.values():
            for leaf in x.flat if isinstance(x, np.ndarray) else [x]:
                names[id(leaf)] = leaf.label
        node_id = ids.__getitem__
        nodes = [
            Node(
                node_id(id(v)),
                v._fn,
                tuple(map(node_id, map(id, v._prev))),
                v.data,
                name=names.get(id(v)) or v.label,
            )
            for v in older
        ]
        # (id of the code, offset) -> position, text. (Hashing a code object hashes its bytes.)
        where: dict[tuple[int, int], tuple[Any, str]] = {}
        for k, v in made_at:
            site = recorder.sites[k]
            node = Node(
                node_id(id(v)), v._fn, tuple(map(node_id, map(id, v._prev))), v.data,
                name=names.get(id(v), ""), calls=site[0] if site else (),
            )  # fmt: skip
            if site is not None:
                key = (id(site[1]), site[2])
                if key not in where:
                    pos = recorder.position(k)
                    where[key] = (pos, self._text(pos) if pos else "")
                pos, node.text = where[key]
                if pos is not None:
                    node.line, node.end_line, node.col, node.end_col = pos
            nodes.append(node)
        graph = Graph(nodes, output=ids[id(out)])
        if not graph[graph.output].name:
            graph[graph.output].name = out_name or "out"
        return graph, values, len(older)

    def _text(self, pos: tuple[int, int, int, int]) -> str:
        line, end_line, col, end_col = pos
        if line != end_line or not 0 < line <= len(self.lines):
            return ""
        return self.lines[line - 1][col:end_col]

    @staticmethod
    def _unused(graph: Graph, values: list[Value], leaves: dict[str, Any]) -> list[str]:
        present = set(map(id, values))
        return [
            f"{graph[graph.output].name} does not depend on {name}: its gradient is 0"
            for name, x in leaves.items()
            if not any(id(s) in present for s in (x.flat if isinstance(x, np.ndarray) else [x]))
        ]

    # -- forward mode ---------------------------------------------------------
    def _forward(
        self,
        result: Any,
        records: dict[int, Node],
        ops: list[Value],
        seeds: list[str] | None,
        max_forward: int,
    ) -> None:
        """One Dual run per seed: each node's tangent, if the runs agree with the trace.

        The k-th Dual an operation makes in a run is the k-th op node of the
        trace, when the cell is deterministic: checked value by value.
        """
        scalars = [(label, inp, idx) for inp in self.inputs for label, idx in inp.scalars()]
        if seeds is not None:
            chosen = [s for s in scalars if s[0] in seeds or s[1].name in seeds]
        elif len(scalars) <= max_forward:
            chosen = scalars
        else:
            chosen = []
            result.notes.append(
                f"forward mode needs one pass per input: {len(scalars)} passes is more than "
                f"max_forward_passes={max_forward}, so pick seeds with --seed"
            )
        for label, seed_input, seed_idx in chosen:
            try:
                duals = self._dual_run(seed_input, seed_idx)
            except Exception as exc:  # the cell could not run on Duals
                result.forward_note = f"forward mode could not run this cell on Duals: {exc}"
                break
            if len(duals) != len(ops) or not all(map(_same, duals, ops)):
                result.forward_note = (
                    "forward mode: running the cell again gave different values "
                    "(randomness or side effects?), so no tangents are shown"
                )
                break
            for node in result.graph.nodes:
                seeded = node.kind == "input" and node.name == label
                node.tangents[label] = 1.0 if seeded else 0.0
            for d, v in zip(duals, ops, strict=True):
                node = records.get(id(v))
                if node is not None:
                    node.tangents[label] = d.deriv
        if result.forward_note:
            for node in result.graph.nodes:
                node.tangents.clear()

    def _dual_run(self, seed_input: Input, seed_idx: tuple[int, ...]) -> list[Dual]:
        ns = dict(self.snapshot)
        for inp in self.inputs:
            seeded = inp is seed_input
            if isinstance(inp.data, np.ndarray):
                arr = inp.make(lambda v, label: Dual(v, 0.0))
                if seeded:
                    arr[seed_idx] = Dual(float(inp.data[seed_idx]), 1.0)
                ns[inp.name] = arr
            else:
                ns[inp.name] = Dual(inp.data, 1.0 if seeded else 0.0)
        made: list[Dual] = []
        dual.on_create = made.append
        try:
            with _quiet():
                self._run(ns, _ignore)
        finally:
            dual.on_create = None
        return made


def backward_into(out: Value, graph: Graph, values: list[Value], keep: list[Value]) -> None:
    """Backward from out, giving each record its exact adjoint.

    values are the graph's nodes in record order. Every .grad is zeroed
    first, so what the pass leaves is exactly d(out)/d(node); the nodes in
    keep (made before the cell ran, such as a model's parameters) get their
    old .grad back afterwards, so tracing has no side effect on them.
    """
    saved = [(v, v.grad) for v in keep]
    for v in values:
        v.grad = 0.0
    out.grad = 1.0
    propagate(values[::-1])
    for node, v in zip(graph.nodes, values, strict=True):
        node.grad = float(v.grad)
    for v, old in saved:
        v.grad = old


def graph_of_value(root: Value, name: str) -> Any:
    """A GradResult for a Value built outside the magic, leaving every .grad as it was."""
    from ad_magic.result import GradResult

    values = topological(root)[::-1]
    graph = Graph.from_value(root)
    backward_into(root, graph, values, keep=values)
    if not graph[graph.output].name:
        graph[graph.output].name = name
    inputs = {n.name or n.id: n.id for n in graph if n.kind == "input"}
    result = GradResult(None, graph, inputs, [])
    result.forward_note = (
        "forward mode re-runs a %%grad cell on Duals; this graph was built outside one"
    )
    return result


def _same(d: Dual, v: Value) -> bool:
    """The same number in both runs (nan included)."""
    return d.val == v.data or (d.val != d.val and v.data != v.data)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
