"""Student-defined primitives: one new row of the table, seen by every mode and removable."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ad_magic
from ad_magic import Dual, Value, primitive, remove_primitive
from ad_magic.classroom.localcheck import check_nodes
from ad_magic.engine import ops
from ad_magic.engine.functions import FUNCTIONS
from ad_magic.engine.primitives import defined
from ad_magic.trace.graph import Graph


@pytest.fixture(autouse=True)
def clean_table():
    before = ops.TABLE
    yield
    for name in defined():
        remove_primitive(name)
    assert list(ops.TABLE) == list(before)


def define_cube(rule=lambda a: 3 * a**2):
    @primitive(derivative=rule, rule="3*a**2")
    def cube(a):
        """a cubed."""
        return a**3

    return cube


def test_a_primitive_is_a_row_every_mode_reads():
    cube = define_cube()
    op = ops.OPS["cube"]
    assert ops.TABLE[-1] is op and ad_magic.TABLE[-1] is op and op in ops.UNARY
    assert op.rule() == "d cube(a)/da = 3*a**2" and FUNCTIONS["cube"] is cube
    assert cube(2) == 8.0 and list(cube(np.array([1.0, 2.0]))) == [1.0, 8.0]
    x = Value(2.0, label="x")
    y = cube(x) + x.cube()
    y.backward()
    assert y.data == 16.0 and x.grad == 24.0
    assert y._prev[0].op is op  # one node per call, like a built-in op
    d = cube(Dual(2.0, 1.0))
    assert (d.val, d.deriv) == (8.0, 12.0) and Dual(2.0, 1.0).cube().deriv == 12.0
    leaves = np.array([Value(1.0), Value(2.0)], dtype=object)
    assert [v.data for v in cube(leaves)] == [1.0, 8.0]


def test_a_binary_primitive_takes_one_rule_per_argument():
    @primitive(derivative=(lambda a, b: b * a ** (b - 1), lambda a, b: a**b * math.log(a)))
    def power(a, b):
        return a**b

    a, b = Value(2.0), Value(3.0)
    power(a, b).backward()
    assert a.grad == pytest.approx(12.0) and b.grad == pytest.approx(8 * math.log(2))
    assert ops.OPS["power"] in ops.BINARY and ops.OPS["power"].derivs == ("dpower/da", "dpower/db")
    assert power(Dual(2.0, 0.0), Dual(3.0, 1.0)).deriv == pytest.approx(8 * math.log(2))


def test_redefining_replaces_the_rule_and_removing_takes_it_everywhere():
    define_cube(lambda a: 0.0)
    define_cube()
    assert [op.name for op in ops.TABLE].count("cube") == 1
    x = Value(2.0)
    x.cube().backward()
    assert x.grad == 12.0
    remove_primitive("cube")
    assert "cube" not in ops.OPS and "cube" not in FUNCTIONS
    assert not hasattr(Value, "cube") and not hasattr(Dual, "cube")
    with pytest.raises(ValueError, match="no student-defined primitive named 'cube'"):
        remove_primitive("cube")
    with pytest.raises(ValueError, match="built-in rows cannot be removed"):
        remove_primitive("sin")


def test_a_wrong_rule_is_flagged_at_its_node():
    cube = define_cube(lambda a: 3 * a)  # should be 3*a**2
    x = Value(2.0, label="x")
    y = (cube(x) + 1).sin()
    y.backward()
    graph = Graph.from_value(y)
    checks = check_nodes(graph)
    bad = [c for c in checks if not c.ok]
    assert len(bad) == 1 and graph[bad[0].node].op.name == "cube"
    assert bad[0].ad == 6.0 and bad[0].numeric == pytest.approx(12.0, rel=1e-6)
    assert [n.op.name for n in graph if n.flagged] == ["cube"]


@pytest.mark.parametrize(
    ("fn", "derivative", "message"),
    [
        (lambda a: a**3, lambda a, b: 3 * a**2, r"derivative must take the function's 1 argument"),
        (lambda a, b: a * b, lambda a: 1.0, r"needs a tuple of 2 functions"),
        (lambda a, b: a * b, (lambda a: 1.0, lambda a, b: a), r"derivative d/da must take"),
        (lambda a: 1 / a, lambda a: 1 / (a - 0.7), r"raised ZeroDivisionError at a=0.7"),
        (lambda a: a, lambda a: "one", r"must return a number"),
        (lambda a, b, c: a, lambda a: 1.0, r"takes 3 arguments; a primitive takes 1 or 2"),
    ],
    ids=["arity", "one-rule-for-two", "rule-arity", "raises", "not-a-number", "three-args"],
)
def test_a_broken_rule_is_one_type_error_and_changes_nothing(fn, derivative, message):
    before = ops.TABLE
    with pytest.raises(TypeError, match=message) as err:
        primitive(fn, derivative=derivative, name="mine")
    assert "\n" not in str(err.value)
    assert ops.TABLE is before and "mine" not in ops.OPS and "mine" not in FUNCTIONS
    assert not hasattr(Value, "mine") and not defined()


@pytest.mark.parametrize("name", ["sin", "data", "backward", "not a name", "lambda"])
def test_a_primitive_cannot_take_a_taken_name(name):
    sin = ops.OPS["sin"]
    with pytest.raises(TypeError, match="name"):
        primitive(lambda a: a, derivative=lambda a: 1.0, name=name)
    assert ops.OPS.get("sin") is sin and sin.fn(0.5) == math.sin(0.5)
