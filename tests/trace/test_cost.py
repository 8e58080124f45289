"""What the Jacobian costs each way: passes and steps counted, times measured."""

from __future__ import annotations

import numpy as np
import pytest

from ad_magic import sigmoid, sin
from ad_magic.cost import Scaling, scaling, tape_of
from ad_magic.engine.value import Value
from ad_magic.trace.cost import count, measure, plural, seconds


def model(n: int, outputs: int = 1):
    w = np.empty(n, dtype=object)
    for k in range(n):
        w[k] = Value(0.1 * k - 0.5, label=f"w[{k}]")
    ys = [sigmoid((w * np.linspace(0, 1, n)).sum() + j) for j in range(outputs)]
    return tape_of(ys if outputs > 1 else ys[0], w)


def test_counts_follow_the_shape_of_J():
    tape = model(5, outputs=3)
    cost = count(tape)
    assert (cost.outputs, cost.inputs) == (3, 5)
    assert (cost.reverse_passes, cost.forward_passes, cost.runs) == (3, 5, 10)
    assert cost.forward_steps == 5 * tape.forward_steps()
    assert cost.reverse_steps == sum(tape.reverse_steps(o) for o in tape.outputs)


def test_the_line_reads_as_the_chapter_says_it():
    cost = count(model(113))
    assert cost.line() == (
        f"J is 1 × 113: reverse 1 pass ({cost.reverse_steps:,} steps), "
        f"forward 113 passes ({cost.forward_steps:,} steps), "
        "finite differences 226 evaluations of the recorded program"
    )
    assert cost.forward_steps > 10_000  # thousands separated in the line
    assert f"{cost.forward_steps:,}" in cost.line()


def test_measure_times_every_method_and_shows_them_beside_the_counts():
    cost = measure(model(8, outputs=2), budget=0.05)
    assert set(cost.times) == {"reverse", "forward", "numeric", "evaluation"}
    assert all(t > 0 for t in cost.times.values())
    line = cost.line()
    for method in ("reverse", "forward", "numeric"):
        assert seconds(cost.times[method]) in line
    assert cost.ratio() == cost.times["numeric"] / cost.times["reverse"]


def test_plural_and_seconds():
    assert plural(1, "pass", "passes") == "1 pass"
    assert plural(112_661, "step") == "112,661 steps"
    assert seconds(2.5e-6) == "2.5 µs"
    assert seconds(0.0123) == "12.3 ms"
    assert seconds(3.0) == "3 s"


def test_scaling_counts_grow_with_N_and_times_are_positive():
    sizes = [1, 4, 16, 64]
    table = scaling(lambda w: sigmoid((w * w).sum()), sizes, budget=0.02)
    assert isinstance(table, Scaling)
    assert table.sizes == sizes
    rows = table.table()
    assert [r["forward_passes"] for r in rows] == sizes
    assert [r["numeric_runs"] for r in rows] == [2 * n for n in sizes]
    assert [r["reverse_passes"] for r in rows] == [1] * 4
    for key in ("nodes", "reverse_steps", "forward_steps"):
        column = [r[key] for r in rows]
        assert column == sorted(column) and column[0] < column[-1], key
    for method in ("reverse", "forward", "numeric"):
        assert all(t > 0 for t in table.times(method))
    assert all(r > 0 for r in table.ratio())
    assert len(table.text().splitlines()) == 1 + len(sizes)


def test_scaling_with_several_outputs_and_a_point():
    table = scaling(
        lambda w: [sin(w[0]) * w[-1], w.sum()], [2, 3], point=lambda n: np.ones(n), budget=0.01
    )
    rows = table.table()
    assert [r["reverse_passes"] for r in rows] == [2, 2]
    assert [r["forward_passes"] for r in rows] == [2, 3]


def test_scaling_shows_as_a_chart_of_the_three_methods():
    table = scaling(lambda w: w.sum() * 2, [1, 10], budget=0.01)
    html = table._repr_html_()
    assert html.count('class="ad-series"') == 4
    for name in ("reverse", "forward", "finite differences", "2N evaluations"):
        assert f'data-name="{name}"' in html
    assert table.text() in html
    assert table.chart(relative=False).count('class="ad-series"') == 3


def test_a_function_of_no_value_is_refused():
    with pytest.raises(TypeError, match="hold no Value"):
        scaling(lambda w: 3.0, [2])


def test_the_readme_example():
    table = scaling(lambda w: sigmoid(w.sum() / len(w)), [1, 10, 100], budget=0.02)
    assert len(table.ratio()) == 3 and all(r > 0 for r in table.relative("reverse"))
    assert table.table()[-1]["numeric_runs"] == 200
