"""What `--check`, `--expect` and `--quiz` add to a result's text, and what they hide.

`concealment(result)` says which numbers the display keeps back for now:
every derivative while a stated derivative (`--expect` without `--reveal`)
or a quiz is open, and the values the student stated. `homework_lines(result)`
is the check table with pass/fail marks, the per-node rule checks, the
expectations and the quiz's score, as lines of the text summary.
`carry_over(old, new)` moves all of it to a new trace of the same cell (a
live input moved), marked against the new numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ad_magic.classroom import expect
from ad_magic.classroom.localcheck import check_nodes
from ad_magic.engine.check import GradCheck
from ad_magic.trace.graph import elide, name_column
from ad_magic.trace.result import GradResult, Shown, hooks

HIDDEN = "?"


@dataclass(frozen=True)
class Concealment(Shown):
    grads: bool = False  # derivatives are kept back
    values: frozenset[str] = frozenset()  # names whose values are kept back

    def grad(self, text: str) -> str:
        return HIDDEN if self.grads else text

    def value(self, name: str, text: str) -> str:
        return HIDDEN if name in self.values else text


def concealment(result: GradResult) -> Concealment:
    """What the display must not show yet."""
    quiz_open = result.quiz is not None and not result.quiz.done
    if result.reveal:
        return Concealment(quiz_open)
    stated = [e.what for e in result.expectations]
    # A value stated by its variable (v) is kept back under its label (a (v)) too.
    labels = [n.name for n in result.graph if n.also and n.also in stated] if stated else []
    return Concealment(quiz_open or any("/" in w for w in stated), frozenset(stated + labels))


def mark(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def check_lines(result: GradResult) -> list[str]:
    """--check: per input AD vs central differences, then per node its rule vs its row's fn."""
    hide = concealment(result)
    lines = []
    if result.check_table is not None:
        lines += _table(result.check_table, "input", result.check_tol, hide)
    if result.hessian_check is not None:
        lines += _table(result.hessian_check, "Hessian", result.hessian_tol, hide)
    if result.node_checks:
        graph = result.graph
        lines.append("local rules (each node's partial vs central differences of its row):")
        width = max(len(c.rule) for c in result.node_checks)
        names = name_column(graph[c.node].title for c in result.node_checks)
        for c in result.node_checks:
            title = elide(graph[c.node].title, names)
            status = mark(c.ok) if c.status != "skip" else "skip (no derivative here)"
            lines.append(
                f"  {c.node:>5} {title:<{names}} {c.rule:<{width}} "
                f"rule={c.ad:<11.6g} numeric={c.numeric:<11.6g} {status}"
            )
        flagged = result.flagged
        if flagged is not None:
            bad = next(c for c in result.node_checks if c.node == flagged.id and not c.ok)
            where = f" (line {flagged.line})" if flagged.line else ""
            lines.append(
                f"  first rule that disagrees: {flagged.id} {flagged.title}{where}: "
                f"{bad.rule} gives {bad.ad:.6g}, numerically {bad.numeric:.6g}"
            )
    return lines


def _table(table: GradCheck, what: str, tol: float, hide: Concealment) -> list[str]:
    """AD against central differences, one line per entry, marked pass or FAIL."""
    width = max([len(what), *(len(n) for n in table)])
    lines = [
        f"{what:<{width}}  {'AD (' + table.mode + ')':>18}  {'numeric':>18}  {'error':>9}  check"
    ]
    for e in table.values():
        ad, numeric = hide.grad(f"{e.ad:.10g}"), hide.grad(f"{e.numeric:.10g}")
        # A nudge across a branch or kink compares nothing: say so rather than FAIL.
        status = mark(True) if e.close(tol, tol) else f"skip: {e.note}" if e.note else mark(False)
        lines.append(f"{e.name:<{width}}  {ad:>18}  {numeric:>18}  {e.error:>9.2e}  {status}")
    order = "second-order " if table.mode == "forward-over-reverse" else ""
    lines.append(f"({order}central differences, h={table.h:g}; pass within tol={tol:g})")
    return lines


def homework_lines(result: GradResult) -> list[str]:
    lines = check_lines(result)
    if result.expectations:
        right = sum(e.right for e in result.expectations)
        lines.append(f"expected: {right} of {len(result.expectations)} right")
        lines += [f"  {e}" for e in result.expectations]
    if result.quiz is not None:
        quiz = result.quiz
        state = "over" if quiz.done else f"next: {quiz.current.prompt}"
        lines.append(f"quiz: score {quiz.score} of {quiz.total}; {state}")
    return lines


def carry_over(old: GradResult, new: GradResult) -> None:
    """Give a new trace of the same cell the old one's homework: the display's mode and
    seed, --check (computed again), --expect (marked again, still concealed) and the
    quiz (its place and score kept, its questions asking for the new numbers)."""
    new.mode, new.seed = old.mode, old.seed
    new.reveal, new.check_tol, new.expect_tol = old.reveal, old.check_tol, old.expect_tol
    if old.check_table is not None:
        new.check_table = new.check(old.check_table.h)
        new.node_checks = check_nodes(new.graph, old.check_table.h, old.check_tol)
    if old.expectations:
        stated = {e.what: e.expected for e in old.expectations}
        try:
            new.expectations = expect.evaluate(new, stated, old.expect_tol, old.reveal)
        except expect.ExpectError:  # a name the new run did not bind: keep the old marks
            new.expectations = old.expectations
    if old.quiz is not None:
        mode = old.quiz.questions[0].step.mode if old.quiz.questions else new.mode
        try:
            new.quiz = old.quiz.moved_to(new.steps(mode, new.seed))
        except ValueError:  # no such pass any more
            new.quiz = old.quiz


# The trace layer shows a result's text through these (see trace/result.py).
hooks.conceal = concealment
hooks.lines.append(homework_lines)
