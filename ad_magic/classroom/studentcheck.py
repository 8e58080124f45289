"""Checking a student's own autograd: `%grad NAME --check` and `assert_student_grads`.

The most common exercise in the field is to write a micrograd-style `Value`
class with hand-written `_backward` closures. Read through
`trace.foreign.foreign_graph`, its graph keeps the student's `.grad` on every
node and the ops mapped to rows of the primitive table, so the chain rule can
be run again here and every gradient compared. Where they disagree, the
likely mistake is named in words:

- the forward pass computes a wrong value at some node;
- `backward()` was called more than once without zeroing the gradients (the
  numbers are exactly what repeated calls would leave);
- the output's own gradient does not start at 1;
- a node used twice keeps only one contribution (`=` instead of `+=`);
- nothing reached a node (`out._backward = _backward` missing);
- one op's `_backward` passes the wrong local derivative: a missing
  `(1 - t**2)` of tanh, a wrong power rule, the wrong factor of `*`, ...

The search goes from the output towards the inputs and stops at the first
node whose gradient disagrees with what its users passed down, so an error
is blamed where it is made, not where it lands.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ad_magic.engine.ops import fill
from ad_magic.trace.foreign import is_unknown
from ad_magic.trace.graph import Graph, Node, elide, name_column
from ad_magic.trace.result import GradResult, hooks
from ad_magic.trace.steps import factor


@dataclass(frozen=True)
class StudentGrad:
    """One node's gradient as the student's code left it and as the chain rule gives it."""

    node: str  # node id
    yours: float
    right: float | None  # None where an op without a rule stands between it and the output
    ok: bool

    @property
    def status(self) -> str:
        return "unchecked" if self.right is None else ("right" if self.ok else "WRONG")


@dataclass(frozen=True)
class StudentCheck:
    """Every node's gradient checked, and the likely mistake in words ('' if none)."""

    rows: list[StudentGrad]
    diagnosis: str  # '' when every gradient and value is right
    first: str | None  # the node the diagnosis blames, e.g. the one with half its gradient

    @property
    def ok(self) -> bool:
        return not self.diagnosis and all(r.ok for r in self.rows)

    @property
    def wrong(self) -> list[StudentGrad]:
        return [r for r in self.rows if not r.ok]


def fmt(x: float) -> str:
    """A number as the messages show it: 1.0, 0.5, -0.6667."""
    text = f"{x:.4g}"
    return text + ".0" if text.lstrip("-").isdigit() else text


def who(node: Node) -> str:
    """'o (n9)', or 'n9' for a node without a name."""
    return node.id if node.title == node.id else f"{node.title} ({node.id})"


def _close(x: float, y: float, tol: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= tol * max(1.0, abs(y))


def _args(graph: Graph, node: Node) -> list[float]:
    return [graph[p].value for p in node.parents]


def _partial(graph: Graph, node: Node, i: int) -> float:
    return float(node.op.partials[i](*_args(graph, node), node.value))


def _checked(node: Node) -> bool:
    """Nodes whose gradient the student's code keeps (constants of `**k` have none)."""
    return node.kind != "const"


def chain_rule(graph: Graph, runs: int = 1, zero_inner: bool = False) -> dict[str, float | None]:
    """Each node's gradient by the table, None behind an op without a rule.

    runs > 1 gives what that many calls of a micrograd-style `backward()`
    leave when nothing is zeroed in between (the output set to 1 each time),
    or, with zero_inner, when only the leaves accumulate (as in PyTorch).
    """
    grad: dict[str, float] = {n.id: 0.0 for n in graph}
    blocked: set[str] = set()
    for _ in range(runs):
        if zero_inner:
            grad.update({n.id: 0.0 for n in graph if n.parents})
        grad[graph.output] = 1.0
        for node in reversed(graph.nodes):  # creation order is topological: users first
            stuck = node.id in blocked or is_unknown(node.op)
            for i, p in enumerate(node.parents):
                if stuck:
                    blocked.add(p)
                elif grad[node.id] and graph[p].kind != "const":
                    grad[p] += _partial(graph, node, i) * grad[node.id]
    return {k: (None if k in blocked else v) for k, v in grad.items()}


def check_student(graph: Graph, tol: float = 1e-6) -> StudentCheck:
    """The student's gradients (node.grad) against the chain rule; the first wrong one flagged."""
    right = chain_rule(graph)
    rows = [
        StudentGrad(n.id, n.grad, right[n.id], _agree(graph, right, tol, n))
        for n in graph
        if _checked(n)
    ]
    for n in graph:
        n.flagged = False
    first, text = _forward_wrong(graph, tol) or (None, "")
    if not first and not all(r.ok for r in rows):
        first, text = _diagnose(graph, tol)
    if first is not None:
        graph[first].flagged = True
    return StudentCheck(rows, text, first)


def _diagnose(graph: Graph, tol: float) -> tuple[str | None, str]:
    out = graph[graph.output]
    for finder in (_never_run, _run_again):
        found = finder(graph, tol)
        if found is not None:
            return found
    if not _close(out.grad, 1.0, tol):
        return out.id, (
            f"the output {who(out)} has gradient {fmt(out.grad)}; backward() starts the "
            f"chain rule from {out.title}.grad = 1.0"
        )
    uses: dict[str, list[tuple[Node, int]]] = {}
    for node in graph:
        for i, p in enumerate(node.parents):
            uses.setdefault(p, []).append((node, i))
    right = chain_rule(graph)
    for node in reversed(graph.nodes):
        if node is out or not _checked(node) or right[node.id] is None:
            continue
        parts = [_partial(graph, c, i) * c.grad for c, i in uses.get(node.id, [])]
        if not _close(node.grad, sum(parts), tol):
            return node.id, _blame(graph, node, uses[node.id], parts, tol)
    return None, ""


def _forward_wrong(graph: Graph, tol: float) -> tuple[str, str] | None:
    """The forward pass itself computes a wrong value somewhere."""
    for node in graph:
        if node.kind != "op" or is_unknown(node.op):
            continue
        args = _args(graph, node)
        try:
            y = float(node.op.fn(*args))
        except (ArithmeticError, ValueError):
            continue
        if not _close(node.value, y, tol):
            shown = fill(node.op.expr, {a: fmt(x) for a, x in zip("ab", args, strict=False)})
            return node.id, (
                f"{node.op.symbol} node {who(node)}: its data is {fmt(node.value)}, but "
                f"{shown} = {fmt(y)}: the forward pass is wrong here, so every gradient "
                "below it is too"
            )
    return None


def _never_run(graph: Graph, tol: float) -> tuple[str, str] | None:
    if any(n.grad for n in graph):
        return None
    out = graph[graph.output]
    return out.id, f"every gradient is 0: call {out.title}.backward() first"


def _run_again(graph: Graph, tol: float) -> tuple[str, str] | None:
    """Gradients exactly as k calls of backward() without zeroing would leave them."""
    right = chain_rule(graph)
    for runs in range(2, 6):
        for zero_inner in (False, True):
            if _agree(graph, chain_rule(graph, runs, zero_inner), tol):
                wrong = next(n for n in reversed(graph.nodes) if not _agree(graph, right, tol, n))
                times = "twice" if runs == 2 else f"{runs} times"
                return wrong.id, (
                    f"gradients too large: {who(wrong)} has {fmt(wrong.grad)}, the chain rule "
                    f"gives {fmt(right[wrong.id] or 0.0)}, exactly what {runs} calls of "
                    f"backward() leave — backward() called {times} without zeroing the "
                    "gradients? (set every .grad = 0.0 before each backward())"
                )
    return None


def _agree(
    graph: Graph, grads: dict[str, float | None], tol: float, node: Node | None = None
) -> bool:
    """The student's gradients (of one node, or all) match grads where those are known."""
    for n in [node] if node is not None else graph.nodes:
        want = grads[n.id]
        if _checked(n) and want is not None and not _close(n.grad, want, tol):
            return False
    return True


def _blame(
    graph: Graph, node: Node, uses: list[tuple[Node, int]], parts: list[float], tol: float
) -> str:
    """What went wrong where node's users passed it a gradient."""
    total = sum(parts)
    if len(uses) > 1 and any(_close(node.grad, p, tol) for p in parts):
        users = {c.id: c for c, _ in uses}
        if len(users) == 1:
            user = next(iter(users.values()))
            times = "twice" if len(uses) == 2 else f"{len(uses)} times"
            how = f"used {times} by {user.op.symbol} node {who(user)}"
        else:
            how = f"used by {len(users)} nodes ({', '.join(map(who, users.values()))})"
        share = (
            "half its gradient"
            if len(parts) == 2 and _close(parts[0], parts[1], tol)
            else "only one of its contributions"
        )
        return (
            f"{who(node)} is {how} and has {share}: {fmt(node.grad)}, the chain rule adds them "
            f"to {' + '.join(map(fmt, parts))} = {fmt(total)} — `=` instead of `+=` in "
            "`_backward`?"
        )
    found = []
    for (user, i), part in zip(uses, parts, strict=True):
        if user.grad == 0.0:
            continue
        passed = node.grad - (total - part)
        hint = _hint(graph, user, i, passed / user.grad, tol)
        if hint is not None:
            found.append((user, i, part, passed, hint))
    if not found and node.grad == 0.0:
        user = next((c for (c, _), p in zip(uses, parts, strict=True) if p), uses[0][0])
        return (
            f"no gradient reached {who(node)}: its .grad is 0.0, the chain rule gives "
            f"{fmt(total)} — is `out._backward = _backward` missing in the "
            f"{user.op.symbol} op of {who(user)}?"
        )
    if found or len(uses) == 1:
        user, i, part, passed, hint = (found or [(*uses[0], parts[0], node.grad, "")])[0]
        hint = hint or f"the rule is {user.op.rule(i)}"
        return (
            f"{user.op.symbol} node {who(user)}: the gradient it passes to {who(node)} is "
            f"{fmt(passed)}, the chain rule gives {fmt(part)} = {_local(graph, user, i)} * "
            f"{fmt(user.grad)} — {hint}"
        )
    return (
        f"{who(node)}: your gradient {fmt(node.grad)}, the chain rule gives "
        f"{' + '.join(map(fmt, parts))} = {fmt(total)} from its {len(uses)} uses"
    )


# Local derivatives written with the output's value, as micrograd's closures compute them.
_BY_OUTPUT = {"tanh": "1 - y**2", "exp": "y", "sigmoid": "y*(1 - y)"}


def _local(graph: Graph, user: Node, i: int) -> str:
    """The local derivative with the numbers in, e.g. '(1 - 0.7071**2)'."""
    numbers = {a: fmt(x) for a, x in zip("ab", _args(graph, user), strict=False)}
    numbers["y"] = fmt(user.value)
    return factor(fill(_BY_OUTPUT.get(user.op.name, user.op.derivs[i]), numbers))


def _hint(graph: Graph, user: Node, i: int, d: float, tol: float) -> str | None:
    """The likely bug in user's `_backward`, from the local derivative it applied (d)."""
    right = _partial(graph, user, i)
    if _close(d, right, tol):
        return None
    args, y = _args(graph, user), user.value
    same: Callable[[float], bool] = lambda x: _close(d, x, tol)  # noqa: E731
    name = user.op.name
    if name == "tanh":
        if same(1.0):
            return "is `_backward` missing the `(1 - t**2)` factor?"
        if same(1.0 - y):
            return "`(1 - t)` where the rule has `(1 - t**2)`?"
        if same(1.0 - args[0] ** 2):
            return "`1 - x**2` of the input where the rule has `1 - t**2` of the output t?"
    if name == "exp" and same(1.0):
        return "is `_backward` missing the factor `out.data` (d exp(x)/dx = exp(x))?"
    if name == "pow" and i == 0:
        a, k = args
        if same(k * a**k):
            return (
                "wrong `**` rule: `other * self.data**other`; it is "
                "`other * self.data**(other - 1)`"
            )
        if same(a ** (k - 1)):
            return (
                "wrong `**` rule: the factor `other` is missing: `other * self.data**(other - 1)`"
            )
        return "wrong `**` rule? d(x**k)/dx = k * x**(k - 1)"
    if name == "mul":
        if same(args[i]) and not _close(args[i], args[1 - i], tol):
            return (
                "a factor's gradient is the other factor's data times out.grad "
                "(`self.grad += other.data * out.grad`), not its own data"
            )
        if same(1.0):
            return "is the factor `other.data` missing?"
    if name == "relu" and same(1.0):
        return (
            "ReLU passes a gradient only where its output is positive: `(out.data > 0) * out.grad`"
        )
    if right and same(-right):
        return "is the sign flipped?"
    if right and same(2 * right):
        return "is the contribution added twice?"
    if same(1.0):
        return "is `_backward` missing the local derivative (it passes out.grad on unchanged)?"
    return None


def student_notes(check: StudentCheck, graph: Graph) -> list[str]:
    """The check's outcome as notes, which every display shows (widget, HTML, text): how
    many gradients are right, the first wrong one (yours beside the chain rule's) and the
    likely mistake."""
    right = len(check.rows) - len(check.wrong)
    notes = [f"your gradients against the chain rule: {right} of {len(check.rows)} right"]
    row = first_wrong(check)
    if row is not None:
        out = graph[graph.output].title
        notes.append(
            f"first wrong gradient, d{out}/d{who(graph[row.node])}: yours {fmt(row.yours)}, "
            f"chain rule {compared(row)}"
        )
    if check.diagnosis:
        notes.append(f"likely mistake: {check.diagnosis}")
    return notes


def first_wrong(check: StudentCheck) -> StudentGrad | None:
    """The first wrong gradient from the output (rows are in creation order)."""
    return check.wrong[-1] if check.wrong else None


def compared(row: StudentGrad) -> str:
    """`0.5, difference +0.5 (yours - chain rule)`: the chain rule's gradient, and yours
    minus it."""
    if row.right is None:
        return "? (an op without a rule stands between it and the output)"
    return f"{fmt(row.right)}, difference {signed(row.yours - row.right)} (yours - chain rule)"


def signed(x: float) -> str:
    """A difference as the messages show it: +0.5, -1.5, +1.0."""
    return ("+" if x >= 0 else "") + fmt(x)


def student_lines(result: GradResult) -> list[str]:
    """The text summary's table of the wrong and unchecked gradients: yours, the chain
    rule's and the difference."""
    check = result.student_check
    if check is None:
        return []
    graph = result.graph
    rows = [row for row in check.rows if not row.ok or row.right is None]
    width = name_column(graph[row.node].title for row in rows)
    lines = []
    for row in rows:
        right = "?" if row.right is None else fmt(row.right)
        diff = "" if row.right is None else signed(row.yours - row.right)
        lines.append(
            f"  {row.node:>5} {elide(graph[row.node].title, width):<{width}} "
            f"yours={fmt(row.yours):<10} chain rule={right:<10} difference={diff:<10} "
            f"{row.status}"
        )
    return ["your gradients against the chain rule, where they differ:", *lines] if lines else []


hooks.lines.append(student_lines)
