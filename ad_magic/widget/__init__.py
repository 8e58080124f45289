"""The notebook display: the live `GradWidget` (an anywidget with a hand-written
ES module beside it) and `display`, which decides what a result shows where.
Imports rendering, classroom, trace and engine.
"""

from ad_magic.widget.display import mimebundle  # registers the rich display of a result
from ad_magic.widget.export import page_html, save_page  # registers save("trace.html")
from ad_magic.widget.widget import GradWidget

__all__ = ["GradWidget", "mimebundle", "page_html", "save_page"]
