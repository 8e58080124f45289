"""ad_magic.testing: the autograding assertions, in a shell and in an nbgrader-style notebook."""

from __future__ import annotations

import math
import re

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ad_magic.classroom.testing import assert_grad, assert_matches_numeric, assert_value
from ad_magic.engine.primitives import defined, remove_primitive

DY_DX = 2 * 1.5 * math.cos(3.25)


@pytest.fixture
def grad(shell):
    """Trace a cell in the shell; its GradResult."""

    def trace(cell: str):
        result = shell.run_cell(cell)
        assert result.success, result.error_in_exec or result.error_before_exec
        return shell.user_ns["_grad"]

    shell.reset(new_session=False)
    shell.run_cell("import numpy as np")
    yield trace
    for name in defined():
        remove_primitive(name)


def test_assert_grad_passes_and_fails_readably(grad):
    g = grad("%%grad x=1.5 w=2.0\ny = sin(x**2 + 1) * w")
    assert_grad(g, x=2 * DY_DX, w=math.sin(3.25))
    assert_grad(g, x=-5.96, rtol=1e-3)
    with pytest.raises(AssertionError) as err:
        assert_grad(g, x=-5.96)
    assert str(err.value) == (
        "wrong answer (rtol=1e-06, atol=1e-09): dy/dx is -5.964778056, expected -5.96 "
        "(off by 0.00478)"
    )
    with pytest.raises(AssertionError) as err:
        assert_grad(g, x=1.0, z=2.0)
    assert str(err.value).splitlines() == [
        "wrong answer (rtol=1e-06, atol=1e-09):",
        "  - dy/dx is -5.964778056, expected 1 (off by 6.96)",
        "  - no input named z (inputs: x, w)",
    ]


def test_assert_grad_on_array_inputs(grad):
    g = grad("%%grad v=[1.0, 2.0]\ny = np.sum(v * v)")
    assert_grad(g, v=[2.0, 4.0])
    with pytest.raises(AssertionError, match=r"dy/dv is \[2\. 4\.\], expected \[2\. 5\.\]"):
        assert_grad(g, v=[2.0, 5.0])
    with pytest.raises(AssertionError, match=r"has shape \(2,\), expected \(3,\)"):
        assert_grad(g, v=[2.0, 4.0, 0.0])


def test_assert_value(grad):
    g = grad("%%grad x=1.5\ny = sin(x**2 + 1)")
    assert_value(g, -0.10819513, rtol=1e-7)
    with pytest.raises(AssertionError, match=r"y is -0.1081951345, expected -0.1"):
        assert_value(g, -0.1)


def test_assert_matches_numeric_finds_a_wrong_rule(grad):
    g = grad("%%grad x=1.5\ny = sin(x**2 + 1)")
    assert_matches_numeric(g)
    grad("from ad_magic import primitive\n"
         "@primitive(derivative=lambda a: 3 * a)\ndef cube(a):\n    return a**3\n")  # fmt: skip
    g = grad("%%grad x=1.5\nu = x + 1\ny = sin(cube(u))")
    with pytest.raises(AssertionError) as err:
        assert_matches_numeric(g)
    lines = str(err.value).splitlines()
    assert lines[0] == "AD disagrees with numerical differentiation (rtol=1e-05, atol=1e-07):"
    assert re.fullmatch(r"  - dy/dx: AD gives -?[\d.]+, central differences -?[\d.]+ .*", lines[1])
    assert lines[2] == (
        "  - node n3 (cube(u) on line 2): the rule d cube(a)/da = cube'(a) gives 7.5, "
        "numerically 18.75"
    )


def test_assert_matches_numeric_on_a_graph_built_outside_the_magic(shell):
    shell.run_cell("from ad_magic import Value\nx = Value(2.0, label='x')\nL = (x * x).tanh()")
    shell.run_cell("%grad L")
    assert_matches_numeric(shell.user_ns["_grad"])  # the node rules; there is no cell to re-run


def test_helpers_refuse_what_is_not_a_result():
    with pytest.raises(TypeError, match="needs the GradResult of a %%grad cell"):
        assert_grad(1.0, x=1.0)
    with pytest.raises(TypeError, match="needs the GradResult"):
        assert_matches_numeric(np.zeros(2))


# -- an nbgrader-style notebook, executed by a real kernel ------------------------------

STUDENT = """\
from ad_magic import primitive

@primitive(derivative=lambda a: {rule})
def cube(a):
    return a**3
"""
TEST = """\
import math
from ad_magic.classroom.testing import assert_grad, assert_matches_numeric

assert_matches_numeric(_grad)
assert_grad(_grad, x=math.cos(1.5**3) * 3 * 1.5**2)
print("all tests passed")
"""


def notebook(rule: str) -> nbformat.NotebookNode:
    """A student cell (the derivative to write), a given %%grad cell and a graded test cell."""
    nb = nbformat.v4.new_notebook()
    solution = {"nbgrader": {"solution": True, "grade": False, "grade_id": "cube"}}
    tests = {"nbgrader": {"solution": False, "grade": True, "grade_id": "test_cube", "points": 1}}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ad_magic"),
        nbformat.v4.new_code_cell(STUDENT.format(rule=rule), metadata=solution),
        nbformat.v4.new_code_cell("%%grad x=1.5 --check\ny = sin(cube(x))"),
        nbformat.v4.new_code_cell(TEST, metadata=tests),
    ]
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()


def test_a_notebook_passes_with_the_right_derivative():
    nb = notebook("3 * a**2")
    execute(nb)
    outputs = nb.cells[-1].outputs
    assert [o.get("text") for o in outputs] == ["all tests passed\n"]


def test_a_notebook_fails_with_a_wrong_derivative():
    nb = notebook("3 * a")
    with pytest.raises(CellExecutionError) as err:
        execute(nb)
    assert err.value.ename == "AssertionError"
    assert "AD disagrees with numerical differentiation" in err.value.evalue
    assert "the rule d cube(a)/da = cube'(a) gives 4.5, numerically 6.75" in err.value.evalue
    (error,) = [o for o in nb.cells[-1].outputs if o.output_type == "error"]
    assert error.ename == "AssertionError"
