"""Rendering a traced graph: DOT (`dot`), groups of nodes past a budget
(`groups`), layout by Graphviz's `dot` or its WebAssembly build (`layout`),
and SVG, PNG, HTML and text (`draw`). Imports the trace layer's graph only.

    >>> from ad_magic import render
    >>> render.to_svg(_grad.graph)
"""

from __future__ import annotations

import sys

from ad_magic.render.animate import animated_svg  # registers save(..., animate=True)
from ad_magic.render.draw import (
    Config,
    config,
    readable,
    save,
    summary,
    to_dot,
    to_html,
    to_svg,
    view_of,
    with_modes,
)
from ad_magic.render.groups import View
from ad_magic.render.layout import BACKENDS, LayoutError
from ad_magic.trace.result import hooks

__all__ = [
    "BACKENDS",
    "Config",
    "LayoutError",
    "View",
    "animated_svg",
    "config",
    "readable",
    "save",
    "summary",
    "to_dot",
    "to_html",
    "to_svg",
    "view_of",
    "with_modes",
]

hooks.draw = sys.modules[__name__]  # GradResult.to_dot/to_svg/save draw through this package
