"""The pass as an animation: `save("backward.svg", animate=True)` and `save("backward.gif")`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from ad_magic.render import animate

SVG = "{http://www.w3.org/2000/svg}"


def trace(shell, line, cell):
    shell.reset(new_session=False)
    result = shell.run_cell(f"%%grad {line}\n{cell}")
    assert result.success, result.error_in_exec or result.error_before_exec
    return shell.user_ns["_grad"]


@pytest.fixture
def fanout(shell):
    """h is used twice: its gradient is a running sum of two steps."""
    return trace(shell, "x=0.7 w=1.3", "h = tanh(w * x)\ny = h * x + h**2")


def keyframes(svg: str) -> dict[str, str]:
    return dict(re.findall(r"@keyframes ([\w-]+)\{(.*?\}+?)\}", svg))


def shown(svg: str) -> set[str]:
    """Texts visible in a still of one frame (opacity 1), the narration among them."""
    root = ET.fromstring(svg)
    return {t.text or "" for t in root.iter(f"{SVG}text") if t.get("opacity") == "1"}


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_one_keyframes_rule_per_step_valid_xml_and_no_script(fanout, tmp_path, mode):
    seed = "w" if mode == "forward" else None
    path = fanout.save(tmp_path / "pass.svg", mode=mode, seed=seed, animate=True)
    svg = path.read_text(encoding="utf-8")
    root = ET.fromstring(svg)  # valid XML
    assert root.tag == f"{SVG}svg" and "<script" not in svg.lower()
    assert not any(
        el.tag.endswith("script") or el.tag.endswith("foreignObject") for el in root.iter()
    )
    steps = fanout.steps(mode, seed)
    names = [n for n in keyframes(svg) if n.startswith("ad-step-")]
    assert sorted(names) == sorted(f"ad-step-{k}" for k in range(len(steps)))
    # Each step's rule shows it in its own frame only: frame k + 1 of len(steps) + 2.
    frames = len(steps) + 2
    rule = keyframes(svg)["ad-step-1"]
    assert f"{100 * 2 / frames:.4g}%{{opacity:1}}" in rule
    assert f"{100 * 3 / frames:.4g}%{{opacity:0}}" in rule
    # The narration under the graph: each step's equation, timed by that step's rule.
    narration = {t.text: t.get("style") for t in root.iter(f"{SVG}text") if t.text}
    for k, step in enumerate(steps):
        assert narration[step.equation] == f"animation-name:ad-step-{k}"
    assert "step-end" in svg and "infinite" in svg  # held frames, looping


def test_each_step_outlines_its_node_and_writes_its_running_total(fanout):
    anim = animate.Animation(fanout)
    steps = anim.steps
    h = next(n for n in fanout.nodes if n.name == "h")
    h_steps = [k for k, s in enumerate(steps) if s.node == h.id]
    assert len(h_steps) == 2  # fan-out: two contributions
    first, second = (f"grad {animate.num(steps[k].total)}" for k in h_steps)
    assert first != second and second == f"grad {animate.num(h.grad)}"
    before = anim.svg(h_steps[0])  # the frame just before h's first step
    during = anim.svg(h_steps[0] + 1)
    after = anim.svg(h_steps[1] + 1)
    assert first not in shown(before) and "grad ·" in shown(before)
    assert first in shown(during) and second not in shown(during)
    assert second in shown(after) and first not in shown(after)
    assert steps[h_steps[0]].equation in shown(during)
    # Outlined in red in its frame: a copy of h's shape in the overlay, shown.
    overlay = ET.fromstring(during).find(f".//{SVG}g[@class='ad-overlay']")
    assert overlay is not None
    red = [e for e in overlay if e.get("opacity") == "1"]
    assert red and all(e.get("stroke") == animate.RED for e in red)
    # No animation (reduced motion, or the still): the finished pass.
    final = anim.svg()
    assert "prefers-reduced-motion" in final
    g = {name: animate.num(v) for name, v in fanout.grads.items()}
    assert f"Done: dy/dw = {g['w']}, dy/dx = {g['x']}" in shown(final)  # graph order


def test_a_plain_svg_is_not_animated_and_kept_back_derivatives_are_not_animated(fanout, shell):
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        plain = fanout.save(pathlib.Path(tmp) / "g.svg").read_text(encoding="utf-8")
    assert "@keyframes" not in plain
    quiz = trace(shell, "x=1.5 --quiz", "y = sin(x**2 + 1)")
    with pytest.raises(ValueError, match="give them away"):
        animate.animated_svg(quiz)
    with pytest.raises(ValueError, match=r"animate=True writes \.svg or \.gif"):
        fanout.save("pass.png", animate=True)


def test_a_pass_too_long_to_watch_points_to_the_page(shell, monkeypatch):
    monkeypatch.setattr(animate, "MAX_STEPS", 5)
    result = trace(shell, "x=0.3", "h = x\nfor k in range(5):\n    h = tanh(h)\ny = h")
    with pytest.raises(ValueError, match=r"save\('trace.html'\)"):
        animate.animated_svg(result)


def test_gif_has_a_frame_per_step_where_a_rasterizer_is_installed(fanout, tmp_path):
    """CI installs rsvg-convert (.ci/run) and Pillow (the test extra): this runs there."""
    from PIL import Image

    assert animate.rasterizer(), "rsvg-convert is missing: apt-get install librsvg2-bin"
    path = fanout.save(tmp_path / "backward.gif")
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(fanout.steps()) + 2
        assert gif.info["loop"] == 0 and gif.info["duration"] == 1200
        gif.seek(1)
        red = gif.convert("RGB").getcolors(1 << 20)
        assert red is not None and any(rgb == (220, 38, 38) for _, rgb in red)  # the outline


def test_magic_save_writes_every_named_file(shell, tmp_path):
    page, gif = tmp_path / "trace.html", tmp_path / "backward.gif"
    trace(shell, f"x=1.5 --save {page} --save {gif}", "y = sin(x**2 + 1)")
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert gif.read_bytes()[:6] == b"GIF89a"
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=r"--save .*nope.txt: save\(\) writes"):
        shell.run_cell_magic("grad", f"x=1.5 --save {tmp_path / 'nope.txt'}", "y = x * 2")


def test_a_step_inside_a_group_outlines_the_group_box(shell, monkeypatch):
    from ad_magic.render import config
    from ad_magic.render.groups import View

    monkeypatch.setattr(config, "budget", 50)  # the 101-node chain is grouped
    result = trace(
        shell, "x=0.3", "h = x\nfor k in range(20):\n    h = tanh(h * 0.9 + 0.1)\ny = h"
    )
    graph = result.graph
    unit = dict(zip((n.id for n in graph), View(graph, config.budget).unit_of(), strict=True))
    anim = animate.Animation(result)
    k = next(
        k
        for k, s in enumerate(anim.steps)
        if unit[s.node] != s.node and all(unit[a] == unit[b] for a, b in s.edges)
    )
    frame = ET.fromstring(anim.svg(k + 1))
    overlay = frame.find(f".//{SVG}g[@class='ad-overlay']")
    assert overlay is not None
    red = [e for e in overlay if e.get("opacity") == "1"]
    assert red and all(e.get("fill") == "none" for e in red)  # an outline, not a red block
    box = next(
        g for g in frame.iter(f"{SVG}g") if g.findtext(f"{SVG}title") == unit[anim.steps[k].node]
    )
    assert red[0].get("points") == box.find(f"{SVG}polygon").get("points")
