"""Numbers a %%grad cell reads out of its Values with `.data`.

Driven through a real IPython shell. A new Value made from such a number
(`Value(a.data * 2)`, `Value(float(a.data))`) cuts the graph: the gradient
through it is 0, and a note names the line. A comparison on `.data` (`if
x.data > 0.5:`) is recorded like one on the Value, so `--check` says when a
nudge flips it. After the cell `.data` is a plain float again.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from support import run

from ad_magic.engine.value import Value

CUT = "line 2 makes a new Value from a.data: the graph is cut there, derivatives through it are 0"


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    shell.run_cell("from ad_magic import Value")
    return shell


@pytest.mark.parametrize(
    ("made", "times"), [("Value(a.data * 2)", 2.0), ("Value(float(a.data))", 1.0)]
)
def test_a_value_made_from_a_read_is_named_as_a_cut(ip, made, times):
    run(ip, f"%%grad x=1.5\na = x * 3\nb = {made}\ny = b * x")
    g = ip.user_ns["_grad"]
    assert g.notes == [CUT]
    # y = (3x * times) x, but the path through b is cut: dy/dx is b's number, 4.5 * times,
    # not twice that
    assert g.grads["x"] == 4.5 * times
    assert g.tangents["x"][g.graph.output] == 4.5 * times
    assert g.check()["x"].numeric == pytest.approx(4.5 * times)  # the record is cut alike


def test_what_leaves_through_a_plain_float_is_not_followed(ip):
    # float() gives a plain float: only that number itself is recognised, not one computed
    # from it (the documented limit)
    run(ip, "%%grad x=1.5\na = x * 3\nb = Value(float(a.data) * 2)\ny = b * x")
    assert ip.user_ns["_grad"].notes == []


def test_a_copy_of_a_read_under_a_loop_is_one_note(ip):
    run(ip, "%%grad x=0.5\nh = x\nfor k in range(3):\n    h = Value(h.data) * x\ny = h")
    g = ip.user_ns["_grad"]
    # named as the graph names that value of h (its third binding)
    assert g.notes == [
        "line 3 makes a new Value from h''.data: the graph is cut there, derivatives through "
        "it are 0"
    ]
    assert g.grads["x"] == pytest.approx(0.5**3)  # only the last multiplication counts


def test_no_note_where_nothing_is_cut(ip):
    # a read used as a constant (the textbook's stop-gradient), and a copy the output
    # does not use, leave the output's graph whole
    run(ip, "%%grad x=1.5\nc = Value(x.data * 2)\ny = x * x.data")
    g = ip.user_ns["_grad"]
    assert g.notes == [] and g.grads["x"] == 1.5
    # a leaf made from a whole number that a read happened to equal (a count) is no cut
    run(ip, "%%grad x=2.0\nn = Value(2.0)\ny = x * n + x.data")
    assert ip.user_ns["_grad"].notes == []


def test_a_comparison_on_data_is_recorded_for_check(ip, capsys):
    run(ip, "%%grad x=0.5 --check\nif x.data > 0.5:\n    y = x * 2\nelse:\n    y = x * 3")
    entry = ip.user_ns["_grad"].check_table["x"]
    assert entry.note.startswith("a nudge of ±1e-06 flips the comparison 0.5 > 0.5 on line 1")
    assert "FAIL" not in capsys.readouterr().out
    # away from the branch point nothing flips and the check passes as usual
    run(ip, "%%grad x=0.9 --check\nif x.data > 0.5:\n    y = x * 2\nelse:\n    y = x * 3")
    entry = ip.user_ns["_grad"].check_table["x"]
    assert entry.note == "" and entry.ok() and entry.numeric == pytest.approx(2.0)


def test_two_reads_compared_are_both_rows(ip):
    run(ip, "%%grad x=0.3 w=0.3 --check\ny = x * w if max(x.data, w.data) > w.data else x - w")
    table = ip.user_ns["_grad"].check_table
    assert "flips the comparison 0.3 > 0.3 on line 1" in table["x"].note
    assert "flips the comparison" in table["w"].note


def test_data_is_a_plain_float_outside_a_cell(ip):
    run(ip, "%%grad x=1.5\nkept = [x.data]\nt = x.data * 2\ny = x * t")
    ns = ip.user_ns
    assert type(ns["y"].data) is float and type(ns["x"].data) is float
    assert ns["kept"] == [1.5] and isinstance(ns["kept"][0], float)
    # A number kept from the cell holds its Value weakly: no graph stays alive through it.
    y = ns["y"]
    ref = weakref.ref(y)
    del y
    ip.run_cell("del y, _grad, x, t")
    gc.collect()
    assert ref() is None and ns["kept"][0] == 1.5


def test_data_assigned_from_a_read_is_stored_as_a_float():
    v = Value(2.0)
    v.data = 3.5
    assert type(v.data) is float and v.data == 3.5
    v.data += 1
    assert v.data == 4.5 and v.primal == 4.5
