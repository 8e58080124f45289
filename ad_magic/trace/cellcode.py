"""A %%grad cell's code, compiled the way IPython compiles any cell.

The cell goes through the shell's input transforms and AST transformers and
its compiler (so `%magics`, `!commands` and future imports behave as in a
normal cell, and tracebacks show the cell's lines). Three changes are made:

- every assignment to a plain name at the cell's top level (`h = ...`,
  `h += ...`, `a, b = ...`, `for h in ...`) also reports the name and value to
  a callback (and, for a loop variable, that it is one), so that each traced
  value can be shown under the variable it was bound to;
- every call whose result the cell hands on without naming it (an argument,
  an operand, a method's receiver: `np.array([a, b])` in
  `np.tanh(np.array([a, b]) * 2)`) is passed through a second function, which
  makes an object array a Tensor (`engine.tensor.seen`), so the numpy calls on
  it are seen as calls as on a named one; functions and lambdas the cell
  defines are left as written (they outlive the cell);
- a final expression is compiled separately, so its value can be the output.

Code positions (Python 3.11 `co_positions`) are untouched: the callbacks add
instructions around the cell's own, each with the position of the statement
or call it follows or wraps, and make no node.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Any

BIND = "__ad_magic_bind__"  # the callback's name in the namespace while a cell runs
SEEN = "__ad_magic_seen__"  # the function unnamed results go through, while a cell runs
COMPREHENSIONS = ("<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>")


@dataclass
class CellCode:
    """The compiled parts of one cell."""

    source: str  # the transformed cell, whose lines positions refer to
    filename: str
    body: CodeType
    last: CodeType | None  # the final expression, if the cell ends with one
    last_text: str = ""  # its source on one line, e.g. "(x + x)" for "(x +\n x)"

    @property
    def codes(self) -> tuple[CodeType, ...]:
        """The cell's code and that of the comprehensions in it (`sum(f(i) for i in ...)`),
        whose positions are in the cell too: a node made in one is placed at its
        sub-expression, not at the whole comprehension."""
        found = [self.body, self.last] if self.last else [self.body]
        for code in found:  # grows as comprehensions inside comprehensions are found
            found += [
                c
                for c in code.co_consts
                if isinstance(c, CodeType) and c.co_name in COMPREHENSIONS
            ]
        return tuple(found)


class _Binder(ast.NodeTransformer):
    """Follow each top-level name binding with `name = BIND('name', name)`."""

    def visit_FunctionDef(self, node: ast.AST) -> ast.AST:
        return node  # names inside functions and classes are the function's own

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        self.generic_visit(node)
        names = [n for t in node.targets for n in _names(t)]
        if not names:
            return node
        return [node, *(_report(n, node) for n in names)]  # type: ignore[return-value]

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        return [node, *(_report(n, node) for n in _names(node.target))]  # type: ignore[return-value]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return node
        return [node, *(_report(n, node) for n in _names(node.target))]  # type: ignore[return-value]

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        node.body[:0] = [_report(n, node.target, loop=True) for n in _names(node.target)]
        return node


class _Handed(ast.NodeTransformer):
    """Wrap each call whose result another expression takes, `SEEN(call)`: the
    arguments of a call, the operands of an operator or comparison, the object of
    an attribute or subscript, and the items of a list, tuple or comprehension
    found there (`np.stack([np.array(r) for r in rows])`)."""

    def __init__(self) -> None:
        self.handed: set[int] = set()  # id of each call node to wrap

    def visit_FunctionDef(self, node: ast.AST) -> ast.AST:
        return node  # a function or lambda runs after the cell too, without SEEN

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for taken in _operands(node):
            self._hand(taken)
        return super().generic_visit(node)

    def _hand(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            self.handed.add(id(node))
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for item in node.elts:
                self._hand(item)
        elif isinstance(node, ast.Starred):
            self._hand(node.value)
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            self._hand(node.elt)
        elif isinstance(node, ast.IfExp):
            self._hand(node.body)
            self._hand(node.orelse)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if id(node) not in self.handed:
            return node
        wrapped = ast.Call(func=ast.Name(SEEN, ast.Load()), args=[node], keywords=[])
        for new in (wrapped, wrapped.func):
            ast.copy_location(new, node)
            new.end_lineno, new.end_col_offset = node.end_lineno, node.end_col_offset
        return wrapped


def _operands(node: ast.AST) -> list[ast.AST]:
    """The expressions whose values node takes as operands."""
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return [node.value]
    return []


def _names(target: ast.AST) -> list[str]:
    """The plain names a target binds (`a`, or `a, b` in tuples/lists)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _names(t)]
    if isinstance(target, ast.Starred):
        return _names(target.value)
    return []


def _report(name: str, where: ast.AST, loop: bool = False) -> ast.stmt:
    """`name = BIND('name', name)`, placed at `where` for tracebacks;
    `BIND('name', name, True)` for a loop variable. BIND gives back what the name
    holds, or an object array as a Tensor (so numpy calls on it are seen)."""
    args: list[ast.expr] = [ast.Constant(name), ast.Name(name, ast.Load())]
    if loop:
        args.append(ast.Constant(True))
    call = ast.Call(func=ast.Name(BIND, ast.Load()), args=args, keywords=[])
    stmt = ast.Assign(targets=[ast.Name(name, ast.Store())], value=call)
    for n in ast.walk(stmt):
        ast.copy_location(n, where)
        n.end_lineno = getattr(where, "end_lineno", None)  # type: ignore[attr-defined]
        n.end_col_offset = getattr(where, "end_col_offset", None)  # type: ignore[attr-defined]
    return stmt


def compile_cell(shell: Any, cell: str) -> CellCode:
    """Transform, rewrite and compile a cell with the shell's own machinery.

    Raises SyntaxError as a normal cell would.
    """
    source = shell.transform_cell(cell)
    filename = shell.compile.cache(source, cell_number(shell), raw_code=cell)
    tree = shell.compile.ast_parse(source, filename=filename)
    tree = shell.transform_ast(tree)
    last = None
    last_text = ""
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        last_text = " ".join((ast.get_source_segment(source, last.body) or "").split())
        last = _Handed().visit(last)
    tree = ast.fix_missing_locations(_Binder().visit(_Handed().visit(tree)))
    body = shell.compile(tree, filename, "exec")
    last_code = shell.compile(last, filename, "eval") if last else None
    return CellCode(source, filename, body, last_code, last_text)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Run with printing suppressed (the runs a student did not ask to see)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def cell_number(shell: Any) -> int:
    """The In[N] of the cell running now, for tracebacks' `Cell In[N]`.

    IPython 9 counts the cell before running it, IPython 8 after; the running
    cell's own ExecutionResult knows its number in both.
    """
    running = getattr(shell.displayhook, "exec_result", None)
    count = getattr(running, "execution_count", None)
    return count if isinstance(count, int) else shell.execution_count


def fail_cell(shell: Any, exc: BaseException) -> None:
    """Show a SyntaxError as a plain cell's, and mark the running cell as failed.

    Raising it through the magic would show the magic's frames; instead the
    shell shows it as for any cell, and the cell's ExecutionResult records it,
    so the kernel replies with an error and Run All or nbclient stop there.
    """
    shell.showsyntaxerror()
    running = getattr(shell.displayhook, "exec_result", None)
    if running is not None:
        running.error_in_exec = exc


_ENGINE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "engine")
# The frames a numpy call on a Tensor passes through (engine.tensor and the recorder).
_PASSED = (
    os.path.join(_ENGINE, "tensor.py"),
    os.path.join(os.path.dirname(__file__), "recorder.py"),
)


def hide_engine_frames(exc: BaseException) -> None:
    """Drop the engine's frames from the end of a traceback, so it ends at the cell's line.

    An explanatory TypeError such as "int() of a Value would cut it out of the
    graph" is raised inside ad_magic/engine; the line to fix is the student's.
    So is any error numpy raises in a call on a Tensor (`W @ x` of mismatched
    shapes): the frames it passed through to get there go, as a plain cell has none.
    """
    tb = exc.__traceback__
    last_outside: TracebackType | None = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not (name.startswith(_ENGINE) if isinstance(exc, TypeError) else name in _PASSED):
            last_outside = tb
        tb = tb.tb_next
    if last_outside is not None:
        last_outside.tb_next = None


def restore(ns: dict[str, Any], snapshot: dict[str, Any]) -> None:
    """Put a namespace back as it was before a cell ran (the same dict, as IPython holds it)."""
    ns.clear()
    ns.update(snapshot)


def ends_quietly(cell: str) -> bool:
    """The cell ends with ';': as in a plain cell, its result is not displayed."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(cell).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    last = next((t for t in reversed(tokens) if t.type not in skip), None)
    return last is not None and last.type == tokenize.OP and last.string == ";"
