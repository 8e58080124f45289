"""A pass as an animation: an SVG that plays by itself, and a GIF.

    >>> _grad.save("backward.svg", animate=True)                      # doctest: +SKIP
    >>> _grad.save("forward.svg", animate=True, mode="forward", seed="x")
    >>> _grad.save("backward.gif")         # needs rsvg-convert (librsvg) and Pillow

The SVG is the graph as `to_svg` draws it, with the narration line under it,
animated by CSS keyframes alone (no script), so it plays inside `<img>`, on
GitHub and in MyST pages, and loops. Frame 0 shows the pass about to start;
frame k + 1 is step k: its node and edges outlined in red, the node's gradient
(or tangent) written in, the step's equation underneath; the last frame shows
the pass done. Each step has one `@keyframes ad-step-K` rule; the numbers a
node shows hold from its step until a later step of the same node (a fan-out's
running sum) replaces them. Without animation (prefers-reduced-motion, or a
viewer that ignores CSS) the finished pass shows.

A GIF is the same frames, each rasterized by `rsvg-convert` and put together
by Pillow; with pip alone, the SVG is what there is.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ad_magic.render.draw import config, to_svg
from ad_magic.render.groups import View
from ad_magic.trace.result import GradResult, hooks
from ad_magic.trace.steps import Step, num

SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
SECONDS = 1.2  # one frame
MAX_STEPS = 400  # past this, an animation is no way to read a pass: use the HTML page
LINE = 24.0  # the narration line's height, in the SVG's points
RED = "#dc2626"
GIF_WIDTH = 1600  # pixels at most: a long chain drawn left to right is scaled down
FRAME_TIMEOUT = 60.0  # seconds rsvg-convert may take for one frame (a busy machine is slow)


@dataclass
class Timed:
    """An element shown in frames [start, end) of the loop."""

    el: ET.Element
    start: int
    end: int
    name: str  # its keyframes


def _tag(name: str) -> str:
    return f"{{{SVG}}}{name}"


def _classes(el: ET.Element) -> list[str]:
    return el.get("class", "").split()


def _by_title(graph_g: ET.Element, kind: str) -> dict[str, ET.Element]:
    found: dict[str, ET.Element] = {}
    for g in graph_g.iter(_tag("g")):
        title = g.find(_tag("title"))
        if kind in _classes(g) and title is not None and title.text:
            found.setdefault(title.text, g)
    return found


def _outline(shape: ET.Element, solid: bool = False) -> ET.Element:
    """A red copy of a node's shape or an edge's path (solid: an arrowhead), drawn over it."""
    copy = ET.Element(shape.tag, {k: v for k, v in shape.attrib.items() if k != "fill"})
    copy.set("fill", RED if solid else "none")
    copy.set("stroke", RED)
    copy.set("stroke-width", "3")
    return copy


class Animation:
    """The frames of one pass over a result's graph, as SVG elements with their windows."""

    def __init__(self, result: GradResult, mode: str = "reverse", seed: str | None = None):
        if hooks.conceal(result).grad("0") != "0":
            raise ValueError(
                "this result keeps its derivatives back (--quiz or --expect without --reveal): "
                "an animation would give them away"
            )
        self.steps: list[Step] = result.steps(mode, seed)
        if len(self.steps) > MAX_STEPS:
            raise ValueError(
                f"the pass has {len(self.steps)} steps, more than an animation can show "
                f"({MAX_STEPS}): save('trace.html') gives a page that steps through it"
            )
        graph = result.graph
        view = View(graph, config.budget, boxes=config.boxes)
        unit = dict(zip((n.id for n in graph), view.unit_of(), strict=True))
        seed = seed or (result.seeds[0] if mode == "forward" else None)
        svg = to_svg(graph, view, mode=mode, seed=seed)
        inner = ET.fromstring(svg[svg.index("<svg") :])
        self.width, self.height = (float(v) for v in inner.get("viewBox", "0 0 0 0").split()[2:])
        self.frames = len(self.steps) + 2  # the start, one per step, the end
        self.timed: list[Timed] = []
        graph_g = inner.find(_tag("g"))
        assert graph_g is not None, "Graphviz SVG has its graph group"
        nodes, edges = _by_title(graph_g, "node"), _by_title(graph_g, "edge")
        which = result.seeds.index(seed) if seed in result.seeds else 0
        line_class = "grad" if mode == "reverse" else f"tangent seed-{which}"
        label = "grad" if mode == "reverse" else f"d/d{seed}"
        overlay = ET.SubElement(graph_g, _tag("g"), {"class": "ad-overlay"})
        # Step k: its box and edges outlined.
        for k, step in enumerate(self.steps):
            box = nodes.get(unit[step.node])
            shapes = [] if box is None else [e for e in box if e.tag != _tag("title")][:1]
            outlines = [_outline(shape) for shape in shapes]
            for a, b in step.edges:
                edge = edges.get(f"{unit[a]}->{unit[b]}")
                for e in [] if edge is None else edge:
                    if e.tag in (_tag("path"), _tag("polygon")):
                        outlines.append(_outline(e, solid=e.tag == _tag("polygon")))
            for outline in outlines:
                self._time(overlay, outline, k + 1, k + 2, f"ad-step-{k}")
        # Each drawn node's numbers: a dot until its first step, then each step's total.
        by_node: dict[str, list[int]] = {}
        for k, step in enumerate(self.steps):
            if unit[step.node] == step.node:
                by_node.setdefault(step.node, []).append(k)
        for node_id, ks in by_node.items():
            box = nodes.get(node_id)
            line = None if box is None else _mode_line(box, line_class)
            if box is None or line is None:
                continue
            box.remove(line)
            self._text(box, line, f"{label} ·", 0, ks[0] + 1)
            for k, after in zip(ks, [*ks[1:], None], strict=True):
                end = self.frames if after is None else after + 1
                self._text(box, line, f"{label} {num(self.steps[k].total)}", k + 1, end)
        # The narration line under the graph.
        out = graph[graph.output]
        first = (
            f"The backward pass from {out.title}: grad({out.title}) = 1, then the chain rule"
            if mode == "reverse"
            else f"The forward pass for seed {seed}: tangent({seed}) = 1, the other inputs 0"
        )
        if mode == "reverse":
            inputs = [n for n in graph if n.kind == "input"]
            done = ", ".join(f"d{out.title}/d{n.title} = {num(n.grad)}" for n in inputs)
        else:
            done = f"d{out.title}/d{seed} = {num(out.tangents.get(seed or '', 0.0))}"
        lines = [first, *(s.equation for s in self.steps), f"Done: {done}"]
        self.narration = ET.Element(_tag("g"), {"class": "ad-narration"})
        for f, text in enumerate(lines):
            name = f"ad-step-{f - 1}" if 0 < f < self.frames - 1 else ""
            el = ET.Element(_tag("text"), {"x": "8", "y": "0"})
            el.text = text
            self._time(self.narration, el, f, f + 1, name)
        self.text_width = max(len(t) for t in lines) * 7.3 + 16
        self.inner = inner

    def _time(self, parent: ET.Element, el: ET.Element, start: int, end: int, name: str) -> None:
        parent.append(el)
        self.timed.append(Timed(el, start, end, name or f"ad-w{start}-{end}"))

    def _text(self, box: ET.Element, like: ET.Element, text: str, start: int, end: int) -> None:
        el = ET.Element(like.tag, {k: v for k, v in like.attrib.items() if k != "display"})
        el.text = text
        self._time(box, el, start, end, "")

    def keyframes(self, name: str, start: int, end: int) -> str:
        """Opacity 1 in frames [start, end), else 0; held (step-end) between stops."""
        pct = lambda f: f"{100 * f / self.frames:.4g}%"  # noqa: E731
        stops = {"0%": 1 if start == 0 else 0, pct(start): 1}
        stops[pct(end) if end < self.frames else "100%"] = 0 if end < self.frames else 1
        body = "".join(f"{at}{{opacity:{v}}}" for at, v in stops.items())
        return f"@keyframes {name}{{{body}}}"

    def svg(self, frame: int | None = None) -> str:
        """The animated SVG, or (frame=F) a still of frame F without animation."""
        width = max(self.width, self.text_width)
        height = self.height + LINE
        final = self.frames - 1
        for t in self.timed:
            shown = t.start <= (final if frame is None else frame) < t.end
            t.el.set("opacity", "1" if shown else "0")
            if frame is None:
                t.el.set("style", f"animation-name:{t.name}")
            elif "style" in t.el.attrib:
                del t.el.attrib["style"]
        root = ET.Element(
            _tag("svg"),
            {"width": f"{width:.0f}pt", "height": f"{height:.0f}pt",
             "viewBox": f"0 0 {width:.2f} {height:.2f}", "class": "ad-animation"},
        )  # fmt: skip
        style = ET.SubElement(root, _tag("style"))
        rules = [
            f".ad-animation [style]{{animation-duration:{self.frames * SECONDS:.1f}s;"
            "animation-timing-function:step-end;animation-iteration-count:infinite}",
            "@media (prefers-reduced-motion: reduce){.ad-animation [style]{animation:none}}",
            ".ad-narration text{font-family:ui-monospace,DejaVu Sans Mono,monospace;"
            "font-size:12px;fill:#1e1b4b}",
        ]
        if frame is None:
            names = {t.name: t for t in self.timed}
            rules += [self.keyframes(name, t.start, t.end) for name, t in names.items()]
        style.text = "".join(rules)
        ET.SubElement(root, _tag("rect"), {"width": "100%", "height": "100%", "fill": "white"})
        self.inner.set("x", f"{(width - self.width) / 2:.2f}")
        self.inner.set("width", f"{self.width:.2f}")
        self.inner.set("height", f"{self.height:.2f}")
        root.append(self.inner)
        band = ET.SubElement(root, _tag("g"), {"transform": f"translate(0 {height - 8:.2f})"})
        band.append(self.narration)
        try:
            return ET.tostring(root, encoding="unicode")
        finally:
            root.remove(self.inner)
            band.remove(self.narration)


def _mode_line(box: ET.Element, line_class: str) -> ET.Element | None:
    for text in box.iter(_tag("text")):
        if " ".join(_classes(text)) == line_class:
            return text
    return None


def animated_svg(result: GradResult, mode: str = "reverse", seed: str | None = None) -> str:
    """The pass as an SVG animated by CSS keyframes (see the module doc)."""
    return Animation(result, mode, seed).svg()


def save_svg(
    result: GradResult,
    path: str | os.PathLike[str],
    mode: str = "reverse",
    seed: str | None = None,
) -> Path:
    path = Path(path)
    path.write_text(animated_svg(result, mode, seed), encoding="utf-8")
    return path


def rasterizer() -> str | None:
    """What can turn an SVG frame into pixels here: librsvg's rsvg-convert, if on PATH."""
    return shutil.which("rsvg-convert")


def save_gif(
    result: GradResult,
    path: str | os.PathLike[str],
    mode: str = "reverse",
    seed: str | None = None,
) -> Path:
    """The pass as an animated GIF: each frame rasterized by rsvg-convert, joined by Pillow."""
    tool = rasterizer()
    try:
        from PIL import Image
    except ImportError:
        Image = None  # type: ignore[assignment]
    if tool is None or Image is None:
        raise RuntimeError(
            "a GIF needs rsvg-convert (Debian: apt-get install librsvg2-bin) and Pillow "
            "(pip install pillow); save('backward.svg', animate=True) needs neither"
        )
    animation = Animation(result, mode, seed)
    zoom = min(1.5, GIF_WIDTH / (max(animation.width, animation.text_width) * 4 / 3))  # pt -> px
    frames: list[Any] = []
    for f in range(animation.frames):
        png = subprocess.run(
            [tool, "--format=png", f"--zoom={zoom:.3f}", "--background-color=white"],
            input=animation.svg(f).encode(),
            capture_output=True,
            check=True,
            timeout=FRAME_TIMEOUT,
        ).stdout
        frames.append(Image.open(io.BytesIO(png)).convert("RGB"))
    path = Path(path)
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=int(SECONDS * 1000), loop=0
    )
    return path


hooks.savers[".svg animated"] = save_svg
hooks.savers[".gif"] = hooks.savers[".gif animated"] = save_gif
