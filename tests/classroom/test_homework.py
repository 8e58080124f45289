"""%%grad's homework options through a real IPython shell: --check, --expect, --quiz, --annotate,
and student-defined primitives in traced cells."""

from __future__ import annotations

import math

import pytest
from IPython.core.error import UsageError
from support import failure, run

from ad_magic.engine import ops
from ad_magic.engine.primitives import defined, remove_primitive

DY_DX = 2 * 1.5 * math.cos(3.25)  # the chapter's y = sin(x**2 + 1) at x = 1.5: -2.98238903


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    yield shell
    for name in defined():
        remove_primitive(name)


def usage_error(ip, cell):
    """The one-line UsageError a cell raises (the cell's own lines must not have run)."""
    err = failure(ip, cell)
    assert isinstance(err, UsageError), err
    assert "\n" not in str(err)
    return str(err)


CUBE = "from ad_magic import primitive\n@primitive(derivative=lambda a: {rule})\ndef cube(a):\n"
CUBE += "    return a**3\n"


# -- --check: every input, every node's local rule -------------------------------------


def test_check_marks_inputs_and_local_rules(ip, capsys):
    out = run(ip, "%%grad x=1.5 --check --text\na = x**2\ny = sin(a + 1) * relu(a - 1)")
    g = ip.user_ns["_grad"]
    assert g.check_table["x"].ok() and g.flagged is None
    statuses = {(g.graph[c.node].op.name, c.status) for c in g.node_checks}
    assert statuses == {(op, "pass") for op in ("pow", "add", "sub", "sin", "mul", "relu")}
    assert len(g.node_checks) == 6 + 1  # mul checks both arguments; constants are not checked
    text = out.result
    assert "pass within tol=1e-05" in text
    assert "d sin(a)/da = cos(a)" in text and "FAIL" not in text
    # relu at its kink has no derivative to compare: skipped, not flagged.
    run(ip, "%%grad x=1.5 --check\ny = relu(x - 1.5) + x")
    g = ip.user_ns["_grad"]
    assert [c.status for c in g.node_checks] == ["pass", "skip", "pass", "pass"]
    assert g.flagged is None and "skip (no derivative here)" in g.summary()


def test_check_flags_the_first_wrong_student_rule(ip):
    run(ip, CUBE.format(rule="3 * a"))  # should be 3 * a**2
    out = run(ip, "%%grad x=3.0 --check --text\nu = x * 0.5\ny = sin(cube(u)) + cube(x)")
    g = ip.user_ns["_grad"]
    flagged = g.flagged
    assert flagged.op.name == "cube" and flagged.text == "cube(u)" and flagged.line == 2
    assert [n.id for n in g.nodes if n.flagged] == [flagged.id]  # only the first
    assert not g.check_table["x"].ok(g.check_tol, g.check_tol)
    text = out.result
    assert "first rule that disagrees: " + flagged.id in text
    assert "d cube(a)/da = cube'(a) gives 4.5, numerically 6.75" in text
    assert "<- first rule that disagrees" in text and "FAIL" in text
    run(ip, CUBE.format(rule="3 * a**2"))  # redefined: the rule is right now
    run(ip, "%%grad x=3.0 --check\nu = x * 0.5\ny = sin(cube(u)) + cube(x)")
    g = ip.user_ns["_grad"]
    assert g.flagged is None and all(c.ok for c in g.node_checks)
    assert g.grads["x"] == pytest.approx(math.cos(1.5**3) * 3 * 1.5**2 * 0.5 + 27.0)


def test_check_tolerance_comes_from_config(ip):
    try:
        run(ip, "%config GradMagics.check_tol = 1e-30")
        run(ip, "%%grad x=1.5 --check\ny = sin(x**2 + 1)")
        g = ip.user_ns["_grad"]
        assert g.check_tol == 1e-30 and "FAIL" in g.summary()
        ip.run_cell("%config GradMagics.check_tol = -1")  # refused, the old value stays
        assert ip.magics_manager.registry["GradMagics"].check_tol == 1e-30
        run(ip, "%%grad x=1.5 --check\ny = sin(x**2 + 1)")
        assert ip.user_ns["_grad"].check_tol == 1e-30
    finally:
        run(ip, "%config GradMagics.check_tol = 1e-5")


# -- --expect ------------------------------------------------------------------------


def test_expect_marks_answers_without_revealing_them(ip, capsys):
    out = run(ip, '%%grad x=1.5 --text --expect "dy/dx=-2.98, y=0.1"\ny = sin(x**2 + 1)')
    g = ip.user_ns["_grad"]
    assert [(e.what, e.expected, e.right, e.actual) for e in g.expectations] == [
        ("dy/dx", -2.98, True, None), ("y", 0.1, False, None)
    ]  # fmt: skip
    text = out.result
    assert "dy/dx = -2.98: right" in text and "y = 0.1: wrong" in text
    assert "y = ?" in text and "dy/dx = ?" in text
    assert "-2.982" not in text and "-0.1082" not in text  # neither answer shows


def test_expect_tol_and_reveal(ip):
    out = run(ip, '%%grad x=1.5 --text --tol 1e-6 --reveal --expect "dy/dx=-2.98"\n'
                  "y = sin(x**2 + 1)")  # fmt: skip
    (e,) = ip.user_ns["_grad"].expectations
    assert not e.right and e.actual == pytest.approx(DY_DX)
    assert "dy/dx = -2.98: wrong (it is -2.98239)" in out.result
    assert "dy/dx = -2.982" in out.result  # revealed in the gradients too


def test_expect_intermediate_values_and_array_elements(ip):
    run(ip, "import numpy as np")
    spec = f"dy/da={-math.sin(2.0):.6f}, dy/dW[0,1]={math.cos(2.0) - math.sin(2.0):.6f}, a=2"
    run(ip, f'%%grad W=np.array([[1.0, 2.0]]) --expect "{spec}"\n'
            "a = W[0, 0] + W[0, 1] * 0.5\ny = cos(a) * W[0, 1]")  # fmt: skip
    g = ip.user_ns["_grad"]
    assert [e.right for e in g.expectations] == [False, True, True]  # dy/da is -sin(a) * W[0,1]
    run(ip, f'%%grad W=np.array([[1.0, 2.0]]) --expect "dy/da={-math.sin(2.0) * 2:.6f}"\n'
            "a = W[0, 0] + W[0, 1] * 0.5\ny = cos(a) * W[0, 1]")  # fmt: skip
    assert ip.user_ns["_grad"].expectations[0].right


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('--expect "dz/dx=1"', "--expect dz/dx: z is neither an input nor assigned in the cell"),
        ('--expect "dy/dq=1"', "q is neither an input nor assigned"),
        ('--expect "dy/dx=abc"', "--expect dy/dx: 'abc' is not a number"),
        ('--expect "dy/dx=1, dy/dx=2"', "--expect: dy/dx is given twice"),
        ('--expect "dy/dx"', "cannot read 'dy/dx'; write dy/dx=NUMBER"),
        ('--expect "dy/dx=1,"', "cannot read ''"),
        ("--tol 0", "--tol must be a positive number, not 0"),
        ("--tol -0.5", "--tol must be a positive number, not -0.5"),
        ("--tol abc", "argument --tol: invalid float value"),
    ],
)
def test_bad_expect_or_tol_is_one_line_and_the_cell_does_not_run(ip, option, message):
    err = usage_error(ip, f"%%grad x=1.5 {option}\nran = True\ny = sin(x**2 + 1)")
    assert message in err
    assert "ran" not in ip.user_ns and "_grad" not in ip.user_ns


def test_expect_of_a_name_the_trace_did_not_make(ip):
    err = usage_error(ip, '%%grad x=1.5 --expect "dk/dx=1"\nk = 3\ny = sin(x)')
    assert err == "--expect dk/dx: the output is y; write dy/dx"
    assert "_grad" not in ip.user_ns


# -- --quiz --------------------------------------------------------------------------


def test_quiz_reverse_pass(ip):
    out = run(ip, "%%grad x=1.5 --quiz --text\na = x**2\nb = a + 1\ny = sin(b)")
    g = ip.user_ns["_grad"]
    quiz = g.quiz
    steps = g.steps("reverse")
    assert quiz.total == len(steps) - 1  # grad(y) = 1 is given
    assert quiz.current.prompt == "grad(b) = ?" and quiz.current.step == steps[1]
    assert "dy/dx = ?" in out.result and "quiz: score 0 of 3; next: grad(b) = ?" in out.result
    wrong = quiz.answer(1.0)
    assert not wrong.right and not wrong.advanced and wrong.answer is None
    assert wrong.hint == "d sin(a)/da = cos(a); the chain rule: grad(b) += cos(b) * grad(y)"
    assert quiz.hint() == wrong.hint and quiz.tries_left == 1
    assert quiz.answer("not a number").message.startswith("'not a number' is not a number")
    assert quiz.tries_left == 1  # that did not use up a try
    right = quiz.answer(f"{math.cos(3.25):.3f}")
    assert right.right and right.advanced and quiz.score == 1
    assert quiz.current.prompt == "grad(a) = ?"
    assert quiz.answer(0).right is False
    last = quiz.answer(0)  # out of tries: the answer is shown and the pass goes on
    assert last.advanced and last.answer == pytest.approx(math.cos(3.25))
    assert "grad(a) += 1 * grad(b) = 1 * -0.9941 = -0.9941" in last.message
    assert quiz.current.prompt == "grad(x) = ?"
    assert quiz.answer(DY_DX).right and quiz.done and quiz.score == 2
    assert quiz.state() == {"done": True, "score": 2, "total": 3, "position": 3, "step": None,
                            "node": None, "prompt": "", "tries_left": 2}  # fmt: skip
    assert "dy/dx = -2.982" in g.summary()  # the quiz is over: nothing is hidden any more
    with pytest.raises(RuntimeError, match="the quiz is over: 2 of 3 right"):
        quiz.answer(1)


def test_quiz_forward_pass_and_fan_out(ip):
    run(ip, "%config GradMagics.quiz_tries = 1")
    try:
        run(ip, "%%grad x=1.5 w=2.0 --quiz --mode forward --seed x\na = x**2\ny = a*w + a")
    finally:
        run(ip, "%config GradMagics.quiz_tries = 2")
    quiz = ip.user_ns["_grad"].quiz
    assert [q.prompt for q in quiz.questions] == [
        "tangent(a) = ?", "tangent(a*w) = ?", "tangent(y) = ?"
    ]  # fmt: skip
    assert quiz.current.chain == "tangent(a) = 2*x**(2-1)*tangent(x)"
    for answer in (3.0, 6.0, 9.0):
        assert quiz.answer(answer).right
    assert quiz.done and quiz.score == 3
    run(ip, "%%grad x=1.5 w=2.0 --quiz\na = x**2\ny = a*w + a")
    prompts = [q.prompt for q in ip.user_ns["_grad"].quiz.questions]
    assert "contribution 1 of 2 to grad(a) = ?" in prompts


# -- --annotate ----------------------------------------------------------------------

CHAPTER = """\
# %%grad x=1.5 --annotate
# y = -0.108195; grad = dy/d(node)
# input x = 1.5, grad = -2.98239
y = sin(x**2 + 1)
#   x**2     = 2.25       grad = -0.99413
#   x**2 + 1 = 3.25       grad = -0.99413
#   y        = -0.108195  grad = 1

"""


def test_annotate_the_chapter_example(ip, capsys):
    run(ip, "%%grad x=1.5 --annotate\ny = sin(x**2 + 1)")
    printed = capsys.readouterr().out
    assert printed.startswith(CHAPTER)
    compile(CHAPTER, "<annotated>", "exec")  # still Python: comments only


def test_annotate_loops_and_user_functions(ip, capsys):
    cell = "def f(t):\n    return tanh(t * 2) + t\nh = x\nfor i in range(2):\n"
    cell += "    h = f(h) * 2\nloss = h ** 2"
    run(ip, f"%%grad x=0.5 --annotate\n{cell}")
    printed = capsys.readouterr().out
    g = ip.user_ns["_grad"]
    second = next(n for n in g.nodes if n.name == "h''")
    assert f"    #   h''               = {second.value:.6g}  grad = {second.grad:.6g}" in printed
    assert "    #   f(h) (f: 3 nodes) = 1.26159" in printed  # one line per call of f
    assert "\nloss = h ** 2\n#   loss = " in printed


def test_annotate_keeps_expected_answers_hidden(ip, capsys):
    run(ip, '%%grad x=1.5 --annotate --expect "dy/dx=1"\ny = sin(x**2 + 1)')
    printed = capsys.readouterr().out
    assert "# input x = 1.5, grad = ?" in printed and "-2.98" not in printed


# -- student-defined primitives in cells ----------------------------------------------


def test_a_student_primitive_is_traced_like_a_built_in(ip):
    run(ip, CUBE.format(rule="3 * a**2"))
    run(ip, "del cube, primitive")  # %%grad cells see it without the name bound
    run(ip, "%%grad x=1.5\ny = sin(cube(x) + x.cube())")
    g = ip.user_ns["_grad"]
    cubes = [n for n in g.nodes if n.op.name == "cube"]
    assert [n.text for n in cubes] == ["cube(x)", "x.cube()"]
    expected = math.cos(2 * 1.5**3) * 2 * 3 * 1.5**2
    assert g.grads["x"] == pytest.approx(expected)
    assert g.tangents["x"][g.graph.output] == pytest.approx(expected)  # forward mode too
    assert "grad(x) += cube'(x) * grad(cube(x))" in "\n".join(s.equation for s in g.steps())
    remove_primitive("cube")
    err = ip.run_cell("%%grad x=1.5\ny = cube(x)").error_in_exec
    assert isinstance(err, NameError) and "cube" not in ops.OPS
