"""Classroom features on a traced result: `--check` per node (`localcheck`),
`--expect` (`expect`), `--quiz` (`quiz`), what those keep hidden and add to the
text (`homework`), `--annotate` (`annotate`), a student's own autograd checked
(`studentcheck`) and autograding (`testing`).
Imports the trace layer and the engine, never the widget or the magic.
"""

# Each registers what a result hides and adds to its text (studentcheck: %grad NAME --check).
from ad_magic.classroom import homework, studentcheck

__all__ = ["homework", "studentcheck"]
