"""No two test modules share a file name: the suite imports them by name (`tests` on
the path, no packages), so a second `test_x.py` in another folder would shadow the
first when the whole suite is collected (conftest.py is pytest's own, one per folder)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def test_every_test_module_has_its_own_name() -> None:
    files = Path(__file__).parent.rglob("*.py")
    names = Counter(p.name for p in files if p.name != "conftest.py")
    assert [n for n, k in names.items() if k > 1] == []
