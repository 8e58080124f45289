"""Groups within a long line: its nodes by the terms of the line's expression.

    >>> steps = term_paths(graph, candidates, most=20)   # doctest: +SKIP
    >>> steps[13]                                         # node index -> its terms
    ('tanh(x*x + y*y) * log(1 + x*y)\\x1e2',)

A line that makes more nodes in one run than read at a glance (`most`) is
split into the top-level terms of its expression: a chain of one operation
is flattened, so `a + b*c + d - e` has the terms `a`, `b*c`, `d`, `e` (and
`x*y/z` the factors `x`, `y`, `z`); a call's terms are its arguments, and an
expression with a single part (`tanh(a + b)`) is looked through to that
part's terms. A node belongs to the term whose source span holds its own
(the tracer records each node's line and columns); the nodes of no term (the
`+` nodes of the chain, the `tanh`) stay beside the terms; when there are
several and each term is evaluated once, all but the last are one group too
(a long chain of them would make the view too wide to read). A term of more
than `most` nodes is split the same way, one level down. A comprehension's
term is its element, evaluated once per item: `sum(f(i) for i in ...)` opens
into its `f(i)`s (the tracer places their nodes inside the comprehension).

One run of the line is one evaluation of its expression: in a loop body the
same term is evaluated once per iteration, and each evaluation is a group of
its own (the evaluations of a line are told apart by the terms' left-to-right
order starting again). A line whose every run is small is not split, so a
loop of short lines stays as it was. A line with several big runs gets one
group per run, its terms inside.

Each step is a term's source text (elided past `LONGEST` characters), then
`TERM` and a number that keeps repeated terms apart; `groups.shown_title`
drops the number.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from ad_magic.trace.graph import Graph, Node, Place, elide

TERM = "\x1e"  # in a path: `text TERM k`, k keeping groups of one text apart
LONGEST = 32  # characters of a term's source text shown in its title

Span = tuple[int, int]  # [col, end_col) on the line, in UTF-8 bytes as code positions are


@dataclass(frozen=True)
class Term:
    """A sub-expression of a line: its span, its source text and its syntax tree."""

    span: Span
    text: str
    expr: ast.expr | None
    many: bool = False  # a comprehension's element: evaluated once per item

    def holds(self, span: Span) -> bool:
        return self.span[0] <= span[0] and span[1] <= self.span[1]


def elided(text: str) -> str:
    """A term's text as a title: one line, at most `LONGEST` characters, its start and
    end kept (`sin(x*y) + exp(x/y)…+ abs(y - 2)`)."""
    return elide(" ".join(text.split()).replace(" … ", " ... "), LONGEST)  # ` … `: a block


@functools.lru_cache(maxsize=4096)
def parse(text: str, start: int, many: bool = False) -> Term:
    """The term for the source text of a sub-expression starting at column `start` (each
    call of a function parses the same lines: once is enough)."""
    try:
        expr: ast.expr | None = ast.parse(text, mode="eval").body
    except SyntaxError:
        expr = None
    return Term((start, start + len(text.encode())), text, expr, many)


COMPREHENSIONS = (ast.GeneratorExp, ast.ListComp, ast.SetComp)
# Operators that chain into one flat list of terms: + with -, and * with /.
CHAINS = ((ast.Add, ast.Sub), (ast.Mult, ast.Div))


def operands(expr: ast.expr) -> list[ast.expr]:
    """The direct parts of an expression, a chain of one operation flattened."""
    if isinstance(expr, ast.BinOp):
        chain = next((c for c in CHAINS if isinstance(expr.op, c)), None)
        if chain is None:
            return [expr.left, expr.right]
        out = [expr.right]
        left = expr.left
        while isinstance(left, ast.BinOp) and isinstance(left.op, chain):
            out.append(left.right)
            left = left.left
        return [left, *reversed(out)]
    if isinstance(expr, ast.Call):
        return [*expr.args, *(k.value for k in expr.keywords)]
    if isinstance(expr, COMPREHENSIONS):
        return [expr.elt]
    return [c for c in ast.iter_child_nodes(expr) if isinstance(c, ast.expr)]


@functools.lru_cache(maxsize=4096)
def parts(term: Term) -> list[Term]:
    """A term's own terms, looking through a part that is the only one (`tanh(a + b)`),
    and a call's comprehension argument to its element (`sum((w*x for ...), b)`: `w*x`
    and `b`)."""
    if term.expr is None:
        return []
    found = operands(term.expr)
    if isinstance(term.expr, COMPREHENSIONS):
        found = [term.expr]  # its part is its element
    while len(found) == 1 and not isinstance(found[0], COMPREHENSIONS):
        found = operands(found[0])  # one part: look through it
    # A comprehension's element is evaluated once per item: its evaluations are the
    # parts (`sum(f(i) for i in ...)` is its f(i)s).
    elements = {id(e.elt) for e in found if isinstance(e, COMPREHENSIONS)}
    found = [e.elt if isinstance(e, COMPREHENSIONS) else e for e in found]
    source = term.text.encode()
    out = []
    for expr in found:
        lo, hi = expr.col_offset, expr.end_col_offset
        if expr.end_lineno != 1 or hi is None:
            continue  # a term over several lines: its nodes stay beside the others
        text = source[lo:hi].decode(errors="replace")
        out.append(parse(text, term.span[0] + lo, id(expr) in elements))
    return out


def line_terms(spans: dict[Span, str]) -> tuple[Term, list[Term]]:
    """The line's expression (its widest span) and its terms: the outermost spans'
    expressions (one, unless the line has several statements), looked through to its
    parts when there is one."""
    outer = sorted(
        s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)
    )
    terms = [parse(spans[s], s[0]) for s in outer]
    whole = max(terms, key=lambda t: t.span[1] - t.span[0])
    return whole, parts(terms[0]) if len(terms) == 1 else terms


def runs(nodes: list[int], spans: list[Span], terms: list[Term]) -> list[tuple[int, int] | None]:
    """For each node, (its term, the how-manieth run of that term), or None beside them.

    A run is a stretch of consecutive nodes inside one term: the term evaluated once."""
    counts = [0] * len(terms)
    last: int | None = None
    out: list[tuple[int, int] | None] = []
    for i in nodes:
        t = next((k for k, term in enumerate(terms) if term.holds(spans[i])), None)
        if t is not None and t != last:
            counts[t] += 1
        out.append(None if t is None else (t, counts[t] - 1))
        last = t
    return out


def evaluations(
    nodes: list[int],
    spans: list[Span],
    found: list[tuple[int, int] | None],
    whole: Term,
    terms: list[Term],
) -> list[int]:
    """Each node's evaluation of the line's expression (`whole`): a new one begins where a
    term to the left of (or at) the last one starts again (but a comprehension's element,
    evaluated once per item), or after a node of the whole
    expression (its last operation), unless that is a sum over a comprehension whose `+`
    nodes come between its element's evaluations."""
    ends = whole.expr is not None and not any(
        isinstance(e, COMPREHENSIONS) for e in ast.walk(whole.expr)
    )
    out = []
    k, right, last, done = 0, -1, None, False
    for i, run in zip(nodes, found, strict=True):
        if (done and spans[i] != whole.span) or (
            run is not None and run != last and run[0] <= right and not terms[run[0]].many
        ):
            k, right = k + 1, -1
        if run is not None:
            right = run[0]
        out.append(k)
        last = run
        done = ends and spans[i] == whole.span
    return out


def split(
    nodes: list[int],
    spans: list[Span],
    texts: list[str],
    terms: list[Term],
    most: int,
    prefix: tuple[str, ...],
    out: dict[int, tuple[str, ...]],
) -> None:
    """Put nodes (one evaluation) in groups by terms, splitting big terms further.

    The nodes beside the terms but the last (the `+` nodes of a long sum before its
    result) are one group too, titled by the widest of them, when there are several
    and each term is evaluated once: a chain of them drawn one by one would make the
    view wider than it is readable. (A sum over a generator keeps its `+` nodes
    between the evaluations of its element, a chain that reads in blocks.)
    """
    stack = [(nodes, terms, prefix)]
    while stack:
        nodes, terms, prefix = stack.pop()
        if len(nodes) <= most or not terms:
            continue
        members: dict[tuple[int, int], list[int]] = {}
        beside = []
        for i, run in zip(nodes, runs(nodes, spans, terms), strict=True):
            if run is None:
                beside.append(i)
            else:
                members.setdefault(run, []).append(i)
        for j, ((t, _), held) in enumerate(members.items()):
            if len(held) == 1:
                continue  # a term of one node is drawn as that node: no group (30,000 fewer)
            step = (*prefix, f"{elided(terms[t].text)}{TERM}{j}")
            for i in held:
                out[i] = step
            stack.append((held, parts(terms[t]), step))
        if members and len(beside) > 2 and all(k == 0 for _, k in members):
            widest = max(beside[:-1], key=lambda i: spans[i][1] - spans[i][0])
            step = (*prefix, f"{elided(texts[widest])}{TERM}{len(members)}")
            for i in beside[:-1]:
                out[i] = step


def term_paths(
    graph: Graph, candidates: Iterable[int], most: int, inside: bool = False
) -> dict[int, tuple[str, ...]]:
    """Node index -> its groups by terms, for the candidates on lines where one run
    makes more than `most` nodes (the others, and nodes beside the terms, are left out).

    With `inside`, by where in a function a cell defines each node was made
    (`Node.body`), each call's lines apart from the other calls' (a function's line is
    one run per call): the function's long lines open to terms as the cell's do.
    """
    nodes = graph.nodes
    spans: list[Span] = [(0, 0)] * len(nodes)
    shown = [""] * len(nodes)
    by_line: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for i in candidates:
        n = nodes[i]
        at: Node | Place | None = n.body if inside else n
        if at is None or at.line is None or at.end_line != at.line or not at.text:
            continue
        if at.col is None or at.end_col is None:
            continue
        spans[i], shown[i] = (at.col, at.end_col), at.text
        by_line.setdefault((n.calls if inside else (), at.line), []).append(i)
    out: dict[int, tuple[str, ...]] = {}
    # The calls of a function make the same nodes on its lines, most often: split once.
    done: dict[tuple[tuple[Span, ...], tuple[str, ...]], list[tuple[str, ...]]] = {}
    for members in by_line.values():
        if len(members) <= most:
            continue
        key = (tuple([spans[i] for i in members]), tuple([shown[i] for i in members]))
        found = done.get(key)
        if found is None:
            found = done[key] = line_paths(*key, most)
        for i, steps in zip(members, found, strict=True):
            if steps:
                out[i] = steps
    return out


def line_paths(
    spans: tuple[Span, ...], texts: tuple[str, ...], most: int
) -> list[tuple[str, ...]]:
    """The groups by terms of each node of one line, given their spans and source texts
    in creation order."""
    members = list(range(len(spans)))
    whole, terms = line_terms(dict(zip(spans, texts, strict=True)))
    found = runs(members, list(spans), terms)
    evaluation = evaluations(members, list(spans), found, whole, terms)
    runs_of: dict[int, list[int]] = {}
    for i, k in zip(members, evaluation, strict=True):
        runs_of.setdefault(k, []).append(i)
    out: dict[int, tuple[str, ...]] = {}
    for k, held in runs_of.items():
        if len(held) <= most:
            continue
        prefix = (f"{elided(whole.text)}{TERM}{k}",) if len(runs_of) > 1 else ()
        for i in held:
            out[i] = prefix
        split(held, list(spans), list(texts), terms, most, prefix, out)
    return [out.get(i, ()) for i in members]


def by_terms(graph: Graph, budget: int) -> list[tuple[str, ...]]:
    """Each node's groups in a graph otherwise drawn whole: by terms on its long lines
    (more than two thirds of `budget` nodes in one run), none elsewhere. A long line in
    a function a cell defines makes its call a group, opening to the line's terms.
    The nodes of numpy calls on arrays are left out (they are grouped as tensors past
    the budget)."""
    nodes = graph.nodes
    in_array = {n for op in graph.arrays for n in op.nodes}
    candidates = [i for i, n in enumerate(nodes) if n.id not in in_array]
    most = max(2, budget * 2 // 3)
    found = term_paths(graph, candidates, most)
    inner = term_paths(graph, (i for i in candidates if nodes[i].body), most, inside=True)
    # The calls around a split line are groups (and the calls around them).
    calls = {nodes[i].calls[:d] for i in inner for d in range(1, len(nodes[i].calls) + 1)}
    out = []
    for i, n in enumerate(nodes):
        steps = found.get(i, ())
        if calls and n.calls:
            depth = next(d for d in range(len(n.calls), -1, -1) if d == 0 or n.calls[:d] in calls)
            steps = (*steps, *n.calls[:depth], *inner.get(i, ()))
        out.append(steps)
    return out
