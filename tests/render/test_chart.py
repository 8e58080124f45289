"""ad_magic's own SVG line chart."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

from ad_magic.render.chart import line_chart

SVG = "{http://www.w3.org/2000/svg}"


def points(svg: str, name: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    for g in root.iter(f"{SVG}g"):
        if g.get("data-name") == name:
            line = g.find(f"{SVG}polyline")
            assert line is not None
            return [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
    raise AssertionError(f"no series {name}")


def test_one_line_per_series_with_a_point_per_x():
    svg = line_chart([1, 10, 100], {"a": [1, 10, 100], "b": [2, 2, 2]}, title="T & U")
    assert ET.fromstring(svg).get("aria-label") == "T & U"
    assert len(points(svg, "a")) == 3 and len(points(svg, "b")) == 3
    assert svg.count("<circle") == 6


def test_log_axes_make_powers_straight_lines():
    svg = line_chart([1, 10, 100, 1000], {"linear": [2, 20, 200, 2000], "flat": [3, 3, 3, 3]})
    lin = points(svg, "linear")
    steps = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(lin)]
    assert all(abs(s[0] - steps[0][0]) < 0.2 and abs(s[1] - steps[0][1]) < 0.2 for s in steps)
    assert steps[0][1] < 0  # going up: SVG's y grows downwards
    flat = points(svg, "flat")
    assert len({y for _, y in flat}) == 1


def test_grid_lines_at_decades_and_labels():
    svg = line_chart([1, 1000], {"a": [0.001, 1]}, x_label="N", y_label="time")
    labels = re.findall(r">([^<>]+)</text>", svg)
    for tick in ("1", "10", "100", "1,000", "0.001", "0.01", "0.1"):
        assert tick in labels
    assert "N" in labels and "time" in labels


def test_non_positive_points_are_left_out_on_log_axes_and_kept_on_linear_ones():
    assert len(points(line_chart([1, 2, 3], {"a": [0, 1, 2]}), "a")) == 2
    assert len(points(line_chart([1, 2, 3], {"a": [0, 1, 2]}, log=False), "a")) == 3


def test_text_follows_the_theme_and_a_background_can_be_painted():
    svg = line_chart([1, 2], {"a": [1, 2]}, title="t")
    assert 'fill="currentColor"' in svg and "<rect width" not in svg
    assert '<rect width="600" height="360" fill="white"/>' in line_chart(
        [1, 2], {"a": [1, 2]}, background="white"
    )
