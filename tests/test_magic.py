"""%%grad and %grad driven through a real IPython shell."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from IPython.core.error import UsageError
from support import failure, run
from traitlets import TraitError

from ad_magic import Value
from ad_magic.engine import dual, value
from ad_magic.trace.result import GradResult


@pytest.fixture
def ip(shell):
    shell.reset(new_session=False)
    shell.run_cell("import numpy as np")
    yield shell
    assert value.on_create is None and dual.on_create is None  # nothing left hooked


# -- the chapter, both modes ------------------------------------------------------


def test_chapter_function(ip, capsys):
    out = run(ip, "%%grad x=1.5\ny = sin(x**2 + 1)\nprint(f'y = {y.data:.8f}')")
    g = ip.user_ns["_grad"]
    assert out.result is g and isinstance(g, GradResult)
    assert f"{g.value:.8f}" == "-0.10819513" and g.output == "y"
    assert f"{g.grads['x']:.8f}" == "-2.98238903"
    assert f"{g.tangents['x'][g.graph.output]:.8f}" == "-2.98238903"
    printed = capsys.readouterr().out
    assert printed.count("y = -0.10819513") == 1  # forward passes print nothing
    assert "dy/dx = -2.982" in printed  # the text display
    # The cell's bindings persist, micrograd style.
    assert ip.user_ns["y"].data == g.value and ip.user_ns["x"].grad == g.grads["x"]


def test_chapter_sigmoid_network(ip):
    run(ip, "%%grad x=2.0 w=0.5 b=-0.1\ny_hat = sigmoid(w*x + b)\nloss = (y_hat - 0.8)**2")
    g = ip.user_ns["_grad"]
    assert g.output == "loss" and f"{g.value:.6f}" == "0.007930"
    assert f"{g.grads['w']:.8f}" == "-0.07319962"
    assert f"{g.grads['b']:.8f}" == "-0.03659981"
    out = g.graph.output
    for seed in ("w", "b", "x"):  # forward mode agrees with reverse mode, input by input
        assert g.tangents[seed][out] == pytest.approx(g.grads[seed], rel=1e-12)


def test_steps_narrate_the_chain_rule(ip):
    run(ip, "%%grad x=1.5\na = x**2\nb = a + 1\ny = sin(b)")
    g = ip.user_ns["_grad"]
    reverse = [s.equation for s in g.steps("reverse")]
    assert reverse[0] == "grad(y) = 1"
    assert reverse[1] == "grad(b) += cos(b) * grad(y) = cos(3.25) * 1 = -0.9941"
    assert reverse[-1].startswith("grad(x) += 2*x**(2-1) * grad(a) = 2*1.5**(2-1) * -0.9941")
    forward = [s.equation for s in g.steps("forward", "x")]
    assert forward[1] == "tangent(a) = 2*x**(2-1)*tangent(x) = 2*1.5**(2-1)*1 = 3"
    assert g.steps("reverse")[1].rule == "d sin(a)/da = cos(a)"


def test_fan_out_contributions_are_counted(ip):
    run(ip, "%%grad a=3.0\nb = a * a\nc = b + b")
    g = ip.user_ns["_grad"]
    assert g.grads["a"] == 12.0
    b_id = next(n.id for n in g.nodes if n.name == "b")
    assert g.graph[next(n.id for n in g.nodes if n.name == "c")].parents == (b_id, b_id)
    to_b = [s for s in g.steps() if s.node == b_id]
    assert [(s.part, s.parts, s.total) for s in to_b] == [(1, 2, 1.0), (2, 2, 2.0)]
    assert "contribution 2 of 2, running sum 2" in to_b[1].equation


# -- nodes: ids, names, positions ---------------------------------------------------


def test_source_positions_pin_sub_expressions(ip):
    run(ip, "%%grad x=1.5\nz = 1\ny = sin(x**2 + 1)")
    g = ip.user_ns["_grad"]
    by_text = {n.text: n for n in g.nodes if n.text}
    square = by_text["x**2"]
    assert (square.line, square.end_line, square.col, square.end_col) == (2, 2, 8, 12)
    assert by_text["x**2 + 1"].col == 8 and by_text["sin(x**2 + 1)"].name == "y"
    assert [n.id for n in g.nodes] == [f"n{i}" for i in range(len(g.nodes))]
    assert [n.op.name for n in g.nodes] == ["input", "const", "pow", "const", "add", "sin"]


def test_rebinding_in_a_loop_gets_distinct_names(ip):
    run(ip, "%%grad x=1.0\nh = x * 1\nfor i in range(3):\n    h = h * 2 + 1\nh")
    g = ip.user_ns["_grad"]
    names = [n.name for n in g.nodes if n.name.startswith("h")]
    assert names == ["h", "h'", "h''", "h@3"]
    assert g.value == 15.0 and g.grads["x"] == 8.0


def test_a_label_is_shown_with_its_variable(ip):
    ip.user_ns["Value"] = Value
    run(ip, "w = Value(0.5, label='weight')")  # made before the cell, bound to w
    run(ip, "%%grad x=2.0\nv = x * w\nv.label = 'prod'\nx.label = 'xx'\nout = v + 1")
    g = ip.user_ns["_grad"]
    by = {n.name: n for n in g.nodes if n.name}
    assert by["prod"].also == "v" and by["prod"].shown == "prod (v)"
    assert by["weight"].shown == "weight"  # its variable is outside the cell
    assert by["x"].shown == "x (xx)" and g.grads == {"x": 0.5}  # an input keeps its name
    assert by["out"].also == "" and by["out"].shown == "out"
    dot = g.to_dot()
    assert "prod (v) (*)" in dot and "x (xx)" in dot
    run(ip, "%%grad x=2.0 --expect 'v=1.0, dout/dv=1'\nv = x * 0.5\nv.label = 'half'\nout = v + 1")
    assert all(e.right for e in ip.user_ns["_grad"].expectations)  # the variable still answers


def test_a_declared_input_rebound_by_the_cell_gets_a_note(ip):
    ip.user_ns["Value"] = Value
    run(ip, "%%grad a=2.0 b=-3.0\na = Value(2.0, label='a')\ny = a * b")
    g = ip.user_ns["_grad"]
    assert g.grads == {"a": 0.0, "b": 2.0}
    assert g.notes[0] == (
        "line 1 rebinds input a to a new Value, so the input is not used; "
        "remove that line or drop a from the magic line"
    )
    assert not any("does not depend on a" in n for n in g.notes)
    run(ip, "%%grad a=2.0\na = a * 3\ny = a + 1")  # rebinding to an operation is fine
    assert ip.user_ns["_grad"].notes == [] and ip.user_ns["_grad"].grads == {"a": 3.0}


def test_the_output_of_a_loop_is_never_a_leaf_or_a_loop_variable(ip):
    ip.user_ns["Value"] = Value
    run(ip, "ps = [Value(1.0), Value(2.0)]\nqs = [p * 2 for p in ps]")
    cell = "%%grad x=1.0\nh = x * 1\nfor i in range(3):\n    h = h * 2 + 1\n"
    run(ip, cell + "for p in ps:\n    p.grad = 0.0\nfor q in qs:\n    z = q")
    g = ip.user_ns["_grad"]
    assert g.value == 15.0 and g.grads == {"x": 8.0}
    assert g.notes == [
        "the output is h (its last value, line 3), not p, q, z; pick another with -o NAME"
    ]
    run(ip, "%%grad x=1.0\nys = [x * 2, x * 3]\nfor y in ys:\n    pass")  # made in the cell
    assert ip.user_ns["_grad"].value == 3.0
    run(ip, "%%grad x=1.0\ny = x * 2")  # one plain binding: no note
    assert ip.user_ns["_grad"].notes == []


def test_user_function_nodes_map_to_the_calling_line(ip):
    run(ip, "def f(u):\n    return u * u + 1\n")
    run(ip, "%%grad x=2.0\nz = 3 * x\ny = f(z)")
    g = ip.user_ns["_grad"]
    inside = [n for n in g.nodes if n.calls]
    assert inside and all(n.line == 2 and n.func == "f" for n in inside)
    assert len({n.calls for n in inside}) == 1
    assert g.grads["x"] == pytest.approx(2 * 6.0 * 3)


def test_micrograd_style_mlp_defined_in_one_cell_traced_in_another(ip):
    ip.user_ns["Value"] = Value
    run(
        ip,
        """
import random
random.seed(0)
class Neuron:
    def __init__(self, nin):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
    def __call__(self, x):
        return sum((wi * xi for wi, xi in zip(self.w, x)), self.b).tanh()
class Layer:
    def __init__(self, nin, nout):
        self.neurons = [Neuron(nin) for _ in range(nout)]
    def __call__(self, x):
        return [n(x) for n in self.neurons]
net = [Layer(2, 3), Layer(3, 1)]
""",
    )
    run(ip, "%%grad x0=0.5 x1=-1.0\nh = net[0]([x0, x1])\nout = net[1](h)[0]\nloss = out**2")
    g = ip.user_ns["_grad"]
    assert {n.func for n in g.nodes if n.calls} == {"Neuron.__call__"}
    assert {n.calls[0].split("#")[0] for n in g.nodes if n.calls} == {"Layer.__call__"}
    neuron_calls = {n.calls[:2] for n in g.nodes if len(n.calls) >= 2}
    assert len(neuron_calls) == 4  # three neurons, then one
    out_id = g.graph.output  # the weights are Values made before: forward mode needs no rerun
    assert g.tangents["x0"][out_id] == pytest.approx(g.grads["x0"], rel=1e-12)
    assert not g.notes and not g.forward_note
    params = [w for layer in ip.user_ns["net"] for n in layer.neurons for w in n.w]
    assert all(p.grad == 0.0 for p in params)  # tracing leaves the model's .grad alone
    check = g.check()
    assert check.ok(rtol=1e-5), check


def test_array_inputs_and_dot(ip):
    run(ip, "%%grad W=np.array([[1.0, 2.0], [3.0, 4.0]]) v=[0.5, -1]\ny = np.sum(np.dot(W, v)**2)")
    g = ip.user_ns["_grad"]
    W, v = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0])
    h = W @ v
    assert g.grads["W"] == pytest.approx(2 * np.outer(h, v))
    assert g.grads["v"] == pytest.approx(2 * W.T @ h)
    assert {n.name for n in g.nodes if n.kind == "input"} == {
        "W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "v[0]", "v[1]"
    }  # fmt: skip
    assert set(g.tangents) == {"W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "v[0]", "v[1]"}


# -- inputs, outputs and options ---------------------------------------------------


def test_bare_name_input_and_rerun_gives_the_same_result(ip):
    ip.user_ns["x"] = 1.5
    run(ip, "%%grad x\ny = sin(x**2 + 1)")
    first = ip.user_ns["_grad"].grads["x"]
    assert isinstance(ip.user_ns["x"], Value)
    run(ip, "%%grad x\ny = sin(x**2 + 1)")  # x is now a Value: unwrapped to 1.5
    assert ip.user_ns["_grad"].grads["x"] == first


def test_functions_are_available_unless_the_user_defines_them(ip):
    run(ip, "def sin(t):\n    return t * 10\n")
    run(ip, "%%grad x=2.0\ny = sin(x) + cos(x)")
    g = ip.user_ns["_grad"]
    assert g.grads["x"] == pytest.approx(10 - math.sin(2.0))
    assert "cos" not in ip.user_ns  # only there while the cell runs
    run(ip, "%%grad x=2.0\ny = np.sin(x) * tanh(x)")


def test_output_choice(ip):
    run(ip, "%%grad x=2.0\na = x * 3\nb = a + x\na * 10")
    g = ip.user_ns["_grad"]
    assert g.value == 60.0 and g.grads["x"] == 30.0
    run(ip, "%%grad x=2.0 -o a\na = x * 3\nb = a + x")
    assert ip.user_ns["_grad"].output == "a" and ip.user_ns["_grad"].grads["x"] == 3.0
    run(ip, "%%grad x=2.0 --result mine\na = x * 3\nb = a + x")
    assert ip.user_ns["mine"] is ip.user_ns["_grad"] and ip.user_ns["mine"].output == "b"


def test_config_and_seed_options(ip, capsys):
    run(ip, "%config GradMagics.max_forward_passes = 2")
    try:
        run(ip, "%%grad a=1.0 b=2.0 c=3.0\ny = a * b * c")
        g = ip.user_ns["_grad"]
        assert g.tangents == {} and "max_forward_passes=2" in " ".join(g.notes)
        run(ip, "%%grad a=1.0 b=2.0 c=3.0 --seed b --mode forward\ny = a * b * c")
        g = ip.user_ns["_grad"]
        assert list(g.tangents) == ["b"] and g.tangents["b"][g.graph.output] == 3.0
        assert g.mode == "forward" and g.seed == "b"
    finally:
        run(ip, "%config GradMagics.max_forward_passes = 16")


def test_check_option_compares_with_finite_differences(ip, capsys):
    run(ip, "%%grad x=1.5 --check\ny = sin(x**2 + 1)")
    table = ip.user_ns["_grad"].check_table
    assert table.ok() and table["x"].error < 1e-8
    assert "central differences" in capsys.readouterr().out


def test_text_option(ip):
    out = run(ip, "%%grad x=1.5 --text\ny = sin(x**2 + 1)")
    assert isinstance(out.result, str) and "dy/dx = -2.982" in out.result


def test_text_shows_control_characters_in_labels_as_escapes(ip):
    cell = "from ad_magic import Value\nz = Value(-1.0, label='nul\\x00x')\ny = z * 2"
    out = run(ip, f"%%grad --text\n{cell}")
    assert "\x00" not in out.result  # as the boxes draw it, not a raw NUL in the terminal
    assert "dy/dnul\\x00x = 2" in out.result and "nul\\x00x" in out.result.split("nodes:")[1]
    assert ip.user_ns["_grad"].grads == {"nul\x00x": 2.0}  # the name itself is kept


def test_text_shows_long_names_whole_or_elided_in_a_readable_column(ip):
    cell = (
        "speed_of_the_cart = x * 3\n"  # 17 characters: shown whole
        "value_of_the_whole_formula_at_step_12 = speed_of_the_cart + x\n"
        "value_of_the_whole_formula_at_step_13 = value_of_the_whole_formula_at_step_12 * x"
    )
    out = run(ip, f"%%grad x=1.5 --text\n{cell}")
    rows = out.result.split("nodes:\n")[1].splitlines()
    by_id = {row.split()[0]: row for row in rows}
    graph = ip.user_ns["_grad"].graph
    speed = next(n.id for n in graph if n.name == "speed_of_the_cart")
    step_12 = next(n.id for n in graph if n.name.endswith("step_12"))
    assert " speed_of_the_cart " in by_id[speed]
    # Past 24 characters, the start and the end around an ellipsis: the steps stay apart.
    assert " value_of_the_wh…_step_13 mul " in by_id[graph.output]
    assert " value_of_the_wh…_step_12 add " in by_id[step_12]
    # Every row's op column starts at the same place, after a 24-character name column.
    starts = {row.index(" " + graph[row.split()[0]].op.name + " ", 8) for row in rows}
    assert starts == {2 + 5 + 1 + 24}
    # --check's table of local rules likewise.
    out = run(ip, f"%%grad x=1.5 --check --text\n{cell}")
    rules = out.result.split("local rules")[1].split("nodes:")[0].splitlines()[1:-1]
    names = ["speed_of_the_cart", *["value_of_the_wh…_step_12"] * 2]
    assert [row.split()[1] for row in rules] == names + ["value_of_the_wh…_step_13"] * 2
    assert {row.index(" d(") for row in rules} == {2 + 5 + 1 + 24}


def test_randomness_is_drawn_once_and_both_modes_agree_on_it(ip):
    run(ip, "%%grad x=1.0 --check\nimport random\nr = random.random()\ny = x * r")
    g = ip.user_ns["_grad"]
    r = ip.user_ns["r"]  # the one number the one run drew
    assert g.grads["x"] == r and g.tangents["x"][g.graph.output] == r
    assert not g.forward_note and g.check_table["x"].numeric == pytest.approx(r, rel=1e-8)


def test_line_magic_shows_an_existing_value(ip):
    ip.user_ns["Value"] = Value
    run(ip, "a = Value(2.0, label='a')\nb = a * a + a")
    out = run(ip, "%grad b")
    g = out.result
    assert g.output == "b" and g.grads["a"] == 5.0
    assert ip.user_ns["a"].grad == 0.0  # the display computed its own adjoints
    assert "5" in g.summary()
    assert g.tangents["a"][g.graph.output] == 5.0  # forward mode over the graph itself
    assert [s.equation for s in g.steps("forward", "a")][-1].endswith("= 5")


def test_help_lists_the_options(ip, capsys):
    ip.run_cell("%%grad?\n")
    text = capsys.readouterr().out
    for option in ("--out", "--result", "--mode", "--seed", "--check", "--text", "INPUTS"):
        assert option in text or option.lower() in text


# -- bad input ---------------------------------------------------------------------

# Every wrong magic line: (line, cell, the UsageError's text). None as the cell
# means the line magic (%grad LINE). `x` is 5.0 in the namespace beforehand.
USAGE = [
    ("", "y = 1", "the cell made no Value to differentiate"),
    ("--nope x=1", "y = x", "unrecognized arguments"),
    ("missing", "y = missing", "missing is not defined"),
    ("x='text'", "y = x", "must be a number"),
    ("x=[1, 'a']", "y = x", "must be a number"),
    ("x=1/0", "y = x", "ZeroDivisionError"),
    ("1x=2", "y = 1", "cannot read input"),
    ("x=1 x=2", "y = x", "given twice"),
    ("x=1 -o nothere", "y = x", "does not assign nothere"),
    ("x=1 --seed q", "y = x", "not an input"),
    ("x=1 --mode sideways", "y = x", "invalid choice"),
    ("x=", "y = x * x", "input x= has no value after '='"),
    ("w=1 x=", "y = x * w", "input x= has no value after '='"),
    ('x=1 --expect "dy/dx=1', "y = x * x", "No closing quotation; close the quote"),
    ('"v', None, "No closing quotation; close the quote"),
    ("x=10**400", "y = x * x", "input x is too large for a float"),
    ("x=[1.0, 10**400]", "y = x[0] * x[1]", "input x is too large for a float"),
    ("if=1", "y = 1", "input if: a Python keyword"),
    ("None=1", "y = 1", "input None: a Python keyword"),
    ("True=2.0", "y = 1", "input True: a Python keyword"),
    ("__builtins__=1.0", "y = __builtins__ * 2", "input __builtins__: Python's own name"),
    ("get_ipython=1.0", "y = get_ipython * 2", "input get_ipython: IPython's own name"),
    ("x=1 -r get_ipython", "y = x * x", "--result get_ipython: IPython's own name"),
    ("x=1 -r Out", "y = x * x", "--result Out: IPython's own name"),
    ("x=1 -r __name__", "y = x * x", "--result __name__: Python's own name"),
    ("x=1 -o None", "None = x", "--out None: a Python keyword"),
    ('x=1 --expect "q=2"', "y = x * x\nif False:\n    q = y", "no traced value named q"),
    ('x=1 --expect "dz/dx=2"', "y = x * x\nif False:\n    z = y", "the output is y"),
    ("x=1", "y = 3.0", "does not depend on any input"),
    ("x=1 -o y", "z = x * x\nif False:\n    y = z", "the cell did not define 'y'"),
]


@pytest.mark.parametrize(("line", "cell", "message"), USAGE, ids=[m for _, _, m in USAGE])
def test_bad_magic_line_is_one_usage_error_and_leaves_nothing_behind(ip, line, cell, message):
    run(ip, "%%grad t=0.5\nkept = t * 2")
    run(ip, "x = 5.0")
    before = dict(ip.user_ns)
    text = f"%grad {line}" if cell is None else f"%%grad {line}\n{cell}\nran = True"
    error = failure(ip, text)
    assert isinstance(error, UsageError) and message in str(error), str(error)
    assert "\n" not in str(error).strip()
    assert ip.user_ns.keys() == before.keys() and "ran" not in ip.user_ns
    assert all(ip.user_ns[k] is v for k, v in before.items()), "the namespace changed"
    assert ip.user_ns["x"] == 5.0 and ip.user_ns["_grad"].output == "kept"
    run(ip, "%%grad x=1.5\ny = x * x")  # the next %%grad works
    assert ip.user_ns["_grad"].grads == {"x": 3.0} and ip.user_ns["y"].data == 2.25


def test_a_negative_max_forward_passes_is_refused(ip, caplog):
    magics = ip.magics_manager.registry["GradMagics"]
    ip.run_line_magic("config", "GradMagics.max_forward_passes = -5")
    assert magics.max_forward_passes == 16
    assert "max_forward_passes must be 0 or more, not -5" in caplog.text  # %config's report
    assert "max_forward_passes" not in ip.config.GradMagics  # the refusal leaves nothing
    for reload in ("%reload_ext ad_magic", "%unload_ext ad_magic\n%load_ext ad_magic"):
        run(ip, reload)
        magics = ip.magics_manager.registry["GradMagics"]
        assert magics.max_forward_passes == 16
    run(ip, "%config GradMagics.max_forward_passes = 1")  # a valid value is taken and kept
    run(ip, "%reload_ext ad_magic")
    magics = ip.magics_manager.registry["GradMagics"]
    assert magics.max_forward_passes == 1 and ip.config.GradMagics.max_forward_passes == 1
    run(ip, "%%grad x=1.5 w=2.0\ny = x * w")
    assert ip.user_ns["_grad"].seeds == []  # two inputs, one pass allowed: --seed only
    with pytest.raises(TraitError, match="max_forward_passes must be 0 or more, not -5"):
        magics.max_forward_passes = -5
    magics.max_forward_passes = 0  # forward mode only for --seed inputs
    run(ip, "%%grad x=1.5 w=2.0 --seed w\ny = x * w")
    assert ip.user_ns["_grad"].seeds == ["w"]
    run(ip, "%config GradMagics.max_forward_passes = 16")


def test_a_bad_value_stored_before_loading_is_reported_and_dropped(ip, capfd):
    """ipython_config.py (or any config) holding a refused value: loading says so once,
    keeps the default and drops the value, so the next load is quiet."""
    ip.config.GradMagics.max_forward_passes = -7
    ip.config.GradMagics.check_step = 0.0
    run(ip, "%reload_ext ad_magic")
    err = capfd.readouterr().err
    assert "GradMagics.max_forward_passes = -7 refused: max_forward_passes must be 0" in err
    assert "GradMagics.check_step = 0.0 refused: check_step must be positive" in err
    magics = ip.magics_manager.registry["GradMagics"]
    assert (magics.max_forward_passes, magics.check_step) == (16, 1e-6)
    assert not {"max_forward_passes", "check_step"} & set(ip.config.GradMagics)
    run(ip, "%reload_ext ad_magic")
    assert "refused" not in capfd.readouterr().err
    run(ip, "%%grad x=1.5\ny = x * x")
    assert ip.user_ns["_grad"].grads == {"x": 3.0}


def test_empty_cell_is_a_usage_error(ip):
    assert isinstance(failure(ip, "%%grad x=1\n   \n"), UsageError)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%grad x=1.0\ny = 3.0", "does not depend on any input"),
        ("%%grad x=1.0\ny = np.array([x, 2.0])", "y[1] = 2.0 does not depend on any input"),
        ("%%grad x=1.0\ny = np.zeros(3)", "array of shape (3,) of plain numbers"),
        ("%%grad x=1.0 -o y\ny = 'not traced'", "does not depend on any input"),
    ],
)
def test_untraced_output(ip, cell, message):
    error = failure(ip, cell)
    assert isinstance(error, UsageError) and message in str(error)


def test_exception_in_the_cell_shows_like_a_normal_cell(ip, capsys):
    run(ip, "%%grad x=1.0\ny = x * 2")
    before = ip.user_ns["_grad"]
    error = failure(ip, "%%grad x=1.0\na = x * 2\nb = a * 1.0 + undefined_name\nc = 3")
    assert isinstance(error, NameError)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "----> 2 b = a * 1.0 + undefined_name" in text
    assert "ad_magic" not in text.split("Traceback")[-1]  # our frames are hidden
    assert ip.user_ns["_grad"] is before  # no new result
    assert ip.user_ns["a"].data == 2.0 and "c" not in ip.user_ns  # bound before the error
    assert "__ad_magic_bind__" not in ip.user_ns and "sin" not in ip.user_ns


def test_math_sin_gives_the_engine_error(ip):
    error = failure(ip, "%%grad x=1.0\nimport math\ny = math.sin(x)")
    assert isinstance(error, TypeError) and "np.sin" in str(error)


@pytest.mark.parametrize(
    ("call", "named"),
    [("int(y)", "int() of a Value"), ("round(y)", "round() of a Value"),
     ("y.item()", ".item() of a Value"), ("float(y)", "float() of a Value")],
)  # fmt: skip
def test_conversions_name_the_call_and_the_traceback_ends_at_the_cell(ip, capsys, call, named):
    error = failure(ip, f"%%grad x=2.0\ny = x * x\nz = {call}")
    assert isinstance(error, TypeError) and str(error).startswith(named)
    text = capsys.readouterr()
    shown = (text.out + text.err).split("Traceback")[-1]
    assert f"----> 2 z = {call}" in shown
    assert "scalar.py" not in shown and "ad_magic" not in shown  # no engine frame
    frames = [tb.tb_frame.f_code.co_filename for tb in _walk(error.__traceback__)]
    assert not any("ad_magic" in f and "engine" in f for f in frames)


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_syntax_error_fails_the_cell_like_a_plain_cells(ip, capsys):
    plain = ip.run_cell("y = (x +\n", store_history=True)
    plain_text = capsys.readouterr()
    result = ip.run_cell("%%grad x=1.0\ny = (x +\n", store_history=True)
    text = capsys.readouterr()
    assert not plain.success and not result.success  # Run All and nbclient stop here
    assert isinstance(result.error_in_exec, SyntaxError)
    shown = text.out + text.err
    # The error's name is the plain cell's: SyntaxError, or on Python 3.13 its subclass
    # _IncompleteInputError for an unfinished line.
    plain_shown = plain_text.out + plain_text.err
    assert type(result.error_in_exec) is type(plain.error_before_exec)
    assert plain_shown.strip().splitlines()[-1] == shown.strip().splitlines()[-1]
    assert "y = (x +" in shown
    assert "Traceback" not in shown and "run_cell_magic" not in shown  # as the plain cell's
    assert f"Cell In[{result.execution_count}], line 1" in shown
    assert f"Cell In[{plain.execution_count}], line 1" in plain_text.out + plain_text.err
    run(ip, "%%grad x=1.0\ny = x + 1")  # and the next one works


def test_traceback_names_the_running_cell(ip, capsys):
    # IPython 9 counts a cell before running it: the traceback must not say In[N+1].
    for _ in range(3):
        ip.run_cell("a = 1", store_history=True)
    result = ip.run_cell("%%grad x=2.0\ny = x * x\nraise ValueError('boom')", store_history=True)
    text = capsys.readouterr()
    cells = set(re.findall(r"Cell In\[(\d+)\]", text.out + text.err))
    assert cells == {str(result.execution_count)}, (cells, result.execution_count)


@pytest.mark.parametrize(
    ("cell", "name"),
    [("(x +\n x)", "x + x"), ("x*2;", "x*2"), ("x * 2  # twice", "x * 2"),
     ("y = x\nsin(\n  y\n)", "sin( y )")],
)  # fmt: skip
def test_final_expression_names_the_output(ip, cell, name):
    run(ip, f"%%grad x=1.0\n{cell}")
    assert ip.user_ns["_grad"].output == name


def test_a_semicolon_suppresses_the_display_as_in_a_plain_cell(ip):
    quiet = run(ip, "%%grad x=1.0\nx*2;")
    assert quiet.result is None and ip.user_ns["_grad"].value == 2.0
    assert run(ip, "%%grad x=1.0\nx*2").result is ip.user_ns["_grad"]
    assert run(ip, "%%grad x=1.0\ny = x*2  # ; in a comment").result is not None


def test_unicode_input_names_work(ip):
    run(ip, '%%grad α=1.0 --expect "dy/dα=2"\ny = α * 2')
    g = ip.user_ns["_grad"]
    assert g.grads == {"α": 2.0} and [e.right for e in g.expectations] == [True]


def test_a_grad_cell_may_run_another_grad_cell(ip):
    run(ip, "%%grad x=2.0\nget_ipython().run_cell_magic('grad', 'w=3.0', 'v = w*w')\ny = x*x")
    g = ip.user_ns["_grad"]
    assert g.output == "y" and g.grads == {"x": 4.0}
    assert g.tangents["x"][g.graph.output] == 4.0
    assert ip.user_ns["v"].data == 9.0 and ip.user_ns["w"].grad == 6.0
    assert "__ad_magic_bind__" not in ip.user_ns


def test_in_place_update_of_an_array_input(ip):
    run(ip, "%%grad w=[1.0, 2.0] x=3.0\nw += x\ny = w[0] * w[1]")
    g = ip.user_ns["_grad"]
    assert g.value == 20.0
    assert list(g.grads["w"]) == [5.0, 4.0] and g.grads["x"] == 9.0
    assert g.tangents["x"][g.graph.output] == 9.0


def test_in_place_into_a_float_array_says_what_to_write(ip):
    error = failure(ip, "%%grad x=3.0\nw = np.zeros(2)\nw += x\ny = w.sum()")
    assert isinstance(error, TypeError) and "w = w + x" in str(error)


def test_output_that_is_the_input_itself_keeps_its_name(ip):
    cell = "y = x if x > 0 else -x"
    run(ip, f'%%grad x=2.0 -o y --expect "dy/dx=1, y=2"\n{cell}')
    g = ip.user_ns["_grad"]
    assert g.output == "y" and g.grads == {"x": 1.0}
    assert [e.right for e in g.expectations] == [True, True]
    run(ip, f"%%grad x=2.0 -o y\n{cell}")
    assert ip.user_ns["_grad"].as_text().startswith("y = 2\n  dy/dx = 1")


def test_keyboard_interrupt_leaves_nothing_behind(ip):
    error = failure(ip, "%%grad x=1.0\ny = x * 2\nraise KeyboardInterrupt")
    assert isinstance(error, KeyboardInterrupt)
    assert value.on_create is None and "sin" not in ip.user_ns
    run(ip, "%%grad x=1.5\ny = sin(x**2 + 1)")
    assert f"{ip.user_ns['_grad'].grads['x']:.8f}" == "-2.98238903"


def test_unused_input_has_zero_gradient_and_a_note(ip):
    run(ip, "%%grad x=1.0 z=5.0\ny = x * 2")
    g = ip.user_ns["_grad"]
    assert g.grads["z"] == 0.0 and any("does not depend on z" in n for n in g.notes)


def test_unload_removes_the_magics(ip):
    ip.run_line_magic("unload_ext", "ad_magic")
    assert "grad" not in ip.magics_manager.magics["cell"]
    assert "grad" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "ad_magic")
    assert "grad" in ip.magics_manager.magics["cell"]


def test_reverse_steps_reach_every_node_even_through_a_zero_gradient(ip):
    run(ip, "%%grad x=1.0\na = x * 2\nb = relu(-a)\ny = b + x")
    g = ip.user_ns["_grad"]
    steps = g.steps("reverse")
    reached = {s.node for s in steps}
    assert reached == {n.id for n in g.nodes if n.kind != "const"}
    a = next(n for n in g.nodes if n.name == "a")
    assert [s.value for s in steps if s.node == a.id] == [0.0]
    assert steps[-1].total == g.grads["x"] == 1.0


def test_narration_brackets_a_sum_it_multiplies(ip):
    run(ip, "%%grad x=0.5\nh = tanh(x)\ny = h * 3")
    g = ip.user_ns["_grad"]
    last = g.steps("reverse")[-1].equation
    assert last.startswith("grad(x) += (1 - tanh(x)**2) * grad(h) = (1 - tanh(0.5)**2) * 3 = ")
    forward = g.steps("forward", "x")[1].equation
    assert forward.startswith("tangent(h) = (1 - tanh(x)**2)*tangent(x) = (1 - tanh(0.5)**2)*1")


def test_result_exports_dot_svg_and_files(ip, tmp_path):
    run(ip, "%%grad x=1.5\ny = sin(x**2 + 1)")
    g = ip.user_ns["_grad"]
    assert "n0" in g.to_dot() and "n5" in g.to_dot()
    assert "<title>n5</title>" in g.to_svg("forward", "x") and "d/dx -2.982" in g.to_svg()
    for suffix in ("svg", "dot", "png"):
        path = g.save(tmp_path / f"graph.{suffix}")
        assert path.stat().st_size > 100
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_syntax_error_stops_a_notebook_run_in_a_kernel(ip):
    import nbclient
    import nbformat

    # The name a plain cell's error has on this Python (3.13 says _IncompleteInputError).
    error = ip.run_cell("y = (x +\n").error_before_exec
    assert isinstance(error, SyntaxError)
    plain = type(error).__name__

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ad_magic"),
        nbformat.v4.new_code_cell("%%grad x=1.0\ny = (x +"),
        nbformat.v4.new_code_cell("print('went on')"),
    ]
    with pytest.raises(nbclient.exceptions.CellExecutionError) as err:
        nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert err.value.ename == plain
    assert nb.cells[2].outputs == []  # Run All stopped at the failing cell
    (shown,) = nb.cells[1].outputs
    assert shown["output_type"] == "error" and shown["ename"] == plain


@pytest.mark.parametrize(("count", "listed"), [(10, 10), (11, 6)])
def test_many_gradients_are_summarized_in_the_text(ip, count, listed):
    names = [f"a{k}" for k in range(count)]
    line = " ".join(f"{k}={i + 1}.0" for i, k in enumerate(names))
    run(ip, f"%%grad {line}\ny = {' * '.join(names)}")
    g = ip.user_ns["_grad"]
    assert list(g.grads) == names  # complete, whatever the text shows
    text = g.summary().splitlines()
    assert [s.split(" = ")[0] for s in text if s.startswith("  dy/d")] == [
        f"  dy/d{k}" for k in names[:listed]
    ]
    more = [s for s in text if "more (all in .grads)" in s]
    assert more == ([] if listed == count else [f"  … and {count - listed} more (all in .grads)"])
    assert repr(g).count("=") == listed + 1  # y= and one per gradient shown
