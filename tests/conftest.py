"""Fixtures shared by the tests that drive a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    """The test IPython shell with ad_magic loaded (unloaded again after the module)."""
    ip = start_ipython() or InteractiveShell.instance()  # None once another test started it
    ip.run_line_magic("load_ext", "ad_magic")
    yield ip
    ip.run_line_magic("unload_ext", "ad_magic")
