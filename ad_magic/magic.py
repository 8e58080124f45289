"""The IPython front door: `%%grad` and `%grad`.

`%load_ext ad_magic` registers them, `%unload_ext ad_magic` removes them.
This module only reads the magic line, hands the cell to the tracer and
returns the result for display; misuse is a one-line UsageError. A cell run
again replaces its result: the old one leaves IPython's output history
(`Out`, `_`), so that it is freed unless the student kept it under a name.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, CaselessStrEnum, Float, Integer, TraitError, TraitType, validate
from traitlets.config import Config

from ad_magic import widget  # noqa: F401  (registers how results show: widget, SVG, text)
from ad_magic.classroom import expect
from ad_magic.classroom.annotate import annotate
from ad_magic.classroom.localcheck import check_nodes
from ad_magic.classroom.quiz import Quiz
from ad_magic.classroom.studentcheck import check_student, student_notes
from ad_magic.engine.value import Value
from ad_magic.magicline import cell_assigns, cell_labels, check_names, read_inputs, split_line
from ad_magic.trace.cellcode import (
    compile_cell,
    ends_quietly,
    fail_cell,
    hide_engine_frames,
    restore,
)
from ad_magic.trace.foreign import graph_of_foreign, is_foreign
from ad_magic.trace.hessian import second_order
from ad_magic.trace.result import GradResult
from ad_magic.trace.tracer import Input, TraceError, Tracer, graph_of_value
from ad_magic.widget.display import current_cell

# The cell (its id in the notebook, else its text) -> its last result, while alive.
_results: dict[str, weakref.ref[GradResult]] = {}


def forget(shell: Any, old: Any) -> None:
    """Take an object out of IPython's output history: Out[n], _n, _, __ and ___ (which the
    display hook also keeps in the hidden namespace), and the outputs of its run that the
    history manager keeps (the displayed bundle, its text)."""
    history = shell.user_ns.get("_oh", {})
    numbers = [n for n, value in history.items() if value is old]
    kept = shell.history_manager
    for n in numbers:
        del history[n]
        for outputs in (getattr(kept, "outputs", {}), getattr(kept, "output_hist_reprs", {})):
            outputs.pop(n, None)
    hook = shell.displayhook
    for name in ("_", "__", "___"):
        if getattr(hook, name, None) is old:
            setattr(hook, name, "")
    for ns in (shell.user_ns, getattr(shell, "user_ns_hidden", {})):
        for n in numbers:
            if ns.get(f"_{n}") is old:
                del ns[f"_{n}"]
        for name in ("_", "__", "___"):
            if ns.get(name) is old:
                ns[name] = ""


@magics_class
class GradMagics(Magics):
    """%%grad traces a cell in reverse and forward mode; %grad shows a Value's graph."""

    max_forward_passes = Integer(
        16, help="Forward mode runs the cell once per input; above this many, only --seed inputs."
    ).tag(config=True)
    mode = CaselessStrEnum(
        ["reverse", "forward"], "reverse", help="The display's initial mode."
    ).tag(config=True)
    text = Bool(False, help="Show results as plain text instead of the rich display.").tag(
        config=True
    )
    check_step = Float(1e-6, help="The finite-difference step of --check.").tag(config=True)
    check_tol = Float(
        1e-5, help="--check passes where AD and central differences agree within this "
        "(relative, absolute near zero)."
    ).tag(config=True)  # fmt: skip
    expect_tol = Float(
        0.01, help="--expect and --quiz answers within this of the computed number "
        "(relative, absolute near zero) are right; --tol overrides it."
    ).tag(config=True)  # fmt: skip
    max_hessian_inputs = Integer(
        32, help="--order 2 runs one forward pass per input over the gradient computation; "
        "above this many inputs only hvp(v) is available."
    ).tag(config=True)  # fmt: skip
    hessian_step = Float(
        1e-4, help="The step of --check's second-order central differences (--order 2)."
    ).tag(config=True)
    hessian_tol = Float(
        1e-4, help="--order 2 --check passes where a Hessian entry and second-order "
        "central differences agree within this (relative, absolute near zero)."
    ).tag(config=True)  # fmt: skip
    quiz_tries = Integer(2, help="--quiz: tries per step before the answer is shown.").tag(
        config=True
    )

    @validate("check_step", "check_tol", "expect_tol", "quiz_tries", "hessian_step", "hessian_tol")
    def _positive(self, proposal: Any) -> Any:
        if not proposal["value"] > 0:
            raise TraitError(f"{proposal['trait'].name} must be positive, not {proposal['value']}")
        return proposal["value"]

    @validate("max_forward_passes")
    def _not_negative(self, proposal: Any) -> Any:
        if proposal["value"] < 0:
            raise TraitError(f"max_forward_passes must be 0 or more, not {proposal['value']}")
        return proposal["value"]

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._loaded = True  # from now on a refused %config raises (IPython shows it)

    def _load_config(
        self,
        cfg: Config,
        section_names: list[str] | None = None,
        traits: dict[str, TraitType[Any, Any]] | None = None,
    ) -> None:
        """Config loaded as traitlets does, except that a value the validators refuse is
        taken out of it again, and out of the shell's: `%config GradMagics.max_forward_passes
        = -5` then leaves nothing behind for a later %load_ext or %reload_ext to trip on.
        Loading with such a value (ipython_config.py) says so and keeps the default."""
        me = type(self).__name__
        refused = []
        for key, value in list(cfg[me].items()) if cfg._has_section(me) else []:
            try:
                super()._load_config(Config({me: {key: value}}), section_names, traits)
            except TraitError as exc:
                refused.append(f"{me}.{key} = {value!r} refused: {exc}")
                for config in (cfg, self.config, getattr(self.parent, "config", None)):
                    if isinstance(config, Config) and config._has_section(me):
                        config[me].pop(key, None)
        super()._load_config(cfg, section_names, traits)
        if refused and getattr(self, "_loaded", False):
            raise TraitError("; ".join(refused))
        for line in refused:
            print(f"ad_magic: {line}; kept the default", file=sys.stderr)

    @property
    def _shell(self) -> Any:
        assert self.shell is not None, "GradMagics needs a shell"
        return self.shell

    @magic_arguments(name="%grad")  # usage reads %%grad
    @argument(
        "inputs",
        nargs="*",
        help="Inputs to differentiate by: NAME=EXPRESSION (evaluated in the namespace) or "
        "NAME (its current value). A number gives one input, an array one per element.",
    )
    @argument("-o", "--out", help="The output to differentiate (default: the final "
              "expression, else the last variable the cell assigned a traced value); "
              "y1,y2 for several (the Jacobian).")  # fmt: skip
    @argument("-r", "--result", help="Also store the GradResult under this name (always _grad).")
    @argument("--mode", choices=["reverse", "forward"], help="The display's initial mode.")
    @argument("--seed", action="append", help="Run forward mode for this input (repeatable).")
    @argument(
        "--order",
        type=int,
        default=1,
        choices=[1, 2],
        help="2: also the Hessian, "
        "by forward mode over the gradient computation (_grad.hessian, _grad.hvp(v)).",
    )
    @argument("--check", action="store_true", help="Compare with central differences.")
    @argument("--cost", action="store_true", help="Time reverse mode, forward mode over all "
              "inputs and central differences on the recorded computation.")  # fmt: skip
    @argument("--text", action="store_true", help="Plain-text display.")
    @argument("--save", metavar="PATH", action="append", help="Also write the result to PATH "
              "(repeatable): .html an interactive page, .svg, .png, .dot, .gif the animated "
              "pass.")  # fmt: skip
    @argument("--expect", metavar="SPEC", help='Your answers, marked right or wrong: '
              '"dy/dx=-2.98, dy/dw=0.1, y=-0.108" (quoted; derivatives of the output by '
              'inputs or named values, and values).')  # fmt: skip
    @argument("--tol", type=float, help="Tolerance of --expect and --quiz (default expect_tol).")
    @argument("--reveal", action="store_true", help="Show the right values of --expect.")
    @argument("--quiz", action="store_true", help="Work out each step of the pass yourself: "
              "_grad.quiz.answer(value).")  # fmt: skip
    @argument("--annotate", action="store_true", help="Print the cell with each line's values "
              "and derivatives as comments.")  # fmt: skip
    @cell_magic
    def grad(self, line: str, cell: str) -> Any:
        """Run the cell with its inputs as differentiable Values; show the derivatives.

        Example:

            %%grad x=1.5
            y = sin(x**2 + 1)
        """
        __tracebackhide__ = True
        args = self.grad.parser.parse_args(split_line(line))
        if not cell.strip():
            raise UsageError("%%grad needs a cell to trace, e.g. y = sin(x**2 + 1)")
        if args.order == 2 and (args.quiz or (args.expect and not args.reveal)):
            raise UsageError(
                "--order 2 shows every gradient (its graph is the gradient computation): "
                "use it without --quiz, and with --expect only together with --reveal"
            )
        ns, reserved = self._shell.user_ns, self._shell.user_ns_hidden
        inputs = read_inputs(args.inputs, ns, reserved)
        check_names(args, inputs, cell, reserved)
        expected = self._expected(args, inputs, cell)
        try:
            code = compile_cell(self.shell, cell)
        except SyntaxError as exc:
            fail_cell(self._shell, exc)
            return None
        tracer = Tracer(code, inputs, ns, out=args.out)
        tracer.names = ["_grad", *([args.result] if args.result else [])]
        before = dict(ns)  # to put back if the cell cannot give a result (not kept after)
        try:
            result = tracer.trace(args.seed, self.max_forward_passes)
            result.mode = args.mode or self.mode
            result.seed = (args.seed or [None])[0]
            if args.order == 2:
                if result.vector:
                    raise UsageError(
                        "--order 2 differentiates a scalar output twice; "
                        f"{', '.join(result.outputs)} is a vector: pick one with --out"
                    )
                result.second = second_order(
                    result.graph, result.scalar_inputs, self.max_hessian_inputs
                )
            if args.cost:
                result.measure_cost()
            self._homework(result, args, expected, line)
        except TraceError as exc:
            restore(ns, before)
            raise UsageError(str(exc)) from None
        except UsageError:
            restore(ns, before)  # no half a result: the cell's names go too
            raise
        except Exception as exc:
            hide_engine_frames(exc)
            raise
        del before
        for name in tracer.names:
            ns[name] = result
        for path in args.save or []:
            try:
                result.save(path, result.mode, result.seed)
            except (OSError, ValueError, RuntimeError) as exc:
                raise UsageError(f"--save {path}: {exc}") from None
        self._replaces(line, cell, result)
        if ends_quietly(cell):
            return None
        return result.as_text() if (args.text or self.text) else result

    @magic_arguments()
    @argument("name", help="A Value (e.g. a loss built micrograd style), or any micrograd-"
              "style value: data, grad, _prev and _op (micrograd's own, your own).")  # fmt: skip
    @argument("--check", action="store_true", help="Check every gradient: a micrograd-style "
              "value's own .grad against the chain rule (naming the likely mistake), an "
              "ad_magic Value's local rules against central differences.")  # fmt: skip
    @argument("--text", action="store_true", help="Plain-text display.")
    @line_magic("grad")  # type: ignore[arg-type]
    def grad_line(self, line: str) -> Any:
        """Show the graph behind an existing value, with the gradient at every node.

        An ad_magic Value shows d(NAME)/d(node), computed without touching .grad;
        a micrograd-style value (micrograd's, the lecture's, your own class)
        shows the .grad its own backward() left.
        """
        args = self.grad_line.parser.parse_args(split_line(line, "%grad"))
        ns = self._shell.user_ns
        if args.name not in ns:
            raise UsageError(f"%grad {args.name}: no such name")
        root = ns[args.name]
        try:
            if isinstance(root, Value):
                result = graph_of_value(root, args.name, self.max_forward_passes)
            elif is_foreign(root):
                result = graph_of_foreign(root, args.name, ns, self.max_forward_passes)
            else:
                raise UsageError(
                    f"%grad {args.name}: a {type(root).__name__}, not a Value; %grad draws "
                    "values with data, grad, _prev and _op (ad_magic's, micrograd's, your own)"
                )
        except TypeError as exc:
            raise UsageError(f"%grad {args.name}: {exc}") from None
        if args.check:
            if isinstance(root, Value):
                result.node_checks = check_nodes(result.graph, self.check_step, self.check_tol)
            else:
                result.student_check = check_student(result.graph)
                result.notes += student_notes(result.student_check, result.graph)
        self._shell.user_ns["_grad"] = result
        return result.as_text() if (args.text or self.text) else result

    def _replaces(self, line: str, cell: str, result: GradResult) -> None:
        """This run of the cell replaces the last one's result in the output history."""
        running = current_cell()  # in a kernel: the notebook cell's id, else its code
        key = running[0] if running else f"code %%grad {line}\n{cell}"
        last = _results.get(key)
        old = last() if last is not None else None
        if old is not None and old is not result:
            forget(self._shell, old)
        _results[key] = weakref.ref(result)

    def _expected(self, args: Any, inputs: list[Input], cell: str) -> dict[str, float]:
        """--expect read and its names checked, and --tol, before the cell runs."""
        if args.tol is not None and not args.tol > 0:
            raise UsageError(f"--tol must be a positive number, not {args.tol:g}")
        if args.expect is None:
            return {}
        known = cell_assigns(cell) | {i.name for i in inputs} | set((args.out or "").split(","))
        if not inputs:  # bare: the leaves are named by their labels too
            known |= cell_labels(cell)
        try:
            expected = expect.parse(args.expect)
            expect.check_names(expected, known - {""})
        except expect.ExpectError as exc:
            raise UsageError(str(exc)) from None
        return expected

    def _homework(
        self, result: GradResult, args: Any, expected: dict[str, float], line: str
    ) -> None:
        """--check, --expect, --quiz and --annotate on a traced result."""
        tol = args.tol or self.expect_tol
        result.check_tol, result.expect_tol = self.check_tol, tol
        result.reveal = args.reveal
        if args.check:
            result.check_table = result.check(self.check_step)
            result.node_checks = check_nodes(result.graph, self.check_step, self.check_tol)
            if result.second is not None and not result.second.note:
                result.hessian_tol = self.hessian_tol
                tracer = result.tracer
                assert tracer is not None  # a %%grad cell's result
                point = {inp.name: inp.data for inp in tracer.inputs}
                result.hessian_check = result.second.check(
                    result.recorded, point, self.hessian_step
                )
        if expected:
            try:
                result.expectations = expect.evaluate(result, expected, tol, args.reveal)
            except expect.ExpectError as exc:
                raise UsageError(str(exc)) from None
        if args.quiz:
            try:
                steps = result.steps(result.mode, result.seed)
            except ValueError as exc:
                raise UsageError(f"--quiz: {exc}") from None
            result.quiz = Quiz(steps, tol, self.quiz_tries)
        if args.annotate:
            print(annotate(result, line))
