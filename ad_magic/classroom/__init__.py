"""Classroom features on a traced result: `--check` per node (`localcheck`),
`--expect` (`expect`), `--quiz` (`quiz`), what those keep hidden and add to the
text (`homework`), `--annotate` (`annotate`) and autograding (`testing`).
Imports the trace layer and the engine, never the widget or the magic.
"""

from ad_magic.classroom import homework  # registers what a result hides and adds to its text

__all__ = ["homework"]
