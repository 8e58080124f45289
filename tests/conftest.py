"""Fixtures shared by the tests that drive a real IPython shell."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import Phase, settings
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

# In CI the property tests draw the same examples on every run (Hypothesis's advice for
# CI), so a landing does not hinge on luck; on a developer's machine they explore anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
# `pytest --hypothesis-profile thorough`: ten times the examples, to look for rare cases;
# a failure is reported as found (shrinking it would run %%grad thousands of times).
settings.register_profile(
    "thorough",
    max_examples=2000,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    """The test IPython shell with ad_magic loaded (unloaded again after the module)."""
    ip = start_ipython() or InteractiveShell.instance()  # None once another test started it
    ip.run_line_magic("load_ext", "ad_magic")
    yield ip
    ip.run_line_magic("unload_ext", "ad_magic")
