"""The standalone page, `save("trace.html")`: what it carries. Its behaviour in a
browser is tested in tests/browser/test_exports.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ad_magic.widget import export

HERE = Path(export.__file__).parent


def trace(shell, line, cell):
    shell.reset(new_session=False)
    result = shell.run_cell(f"%%grad {line}\n{cell}")
    assert result.success, result.error_in_exec or result.error_before_exec
    return shell.user_ns["_grad"]


def scripts(page: str) -> dict[str, str]:
    return dict(
        re.findall(r'<script type="application/json" id="([\w-]+)">(.*?)</script>', page, re.S)
    )


@pytest.fixture
def page(shell, tmp_path):
    # A source line that would end a <script> element if it were not escaped.
    result = trace(shell, "x=1.5", 'a = x**2  # "</script><b>"\nb = a + 1\ny = sin(b)')
    return result, result.save(tmp_path / "trace.html").read_text(encoding="utf-8")


def test_the_page_inlines_the_widget_front_end_and_every_pass(page):
    result, text = page
    blobs = scripts(text)
    assert json.loads(blobs["ad-esm"]) == (HERE / "widget.js").read_text(encoding="utf-8")
    assert (HERE / "page.js").read_text(encoding="utf-8") in text
    state = json.loads(blobs["ad-state"])
    assert state["archive"].keys() == {"reverse", "forward:x"}
    for key, mode, seed in [("reverse", "reverse", None), ("forward:x", "forward", "x")]:
        steps = result.steps(mode, seed)
        assert [s[0] for s in state["archive"][key]] == [s.node for s in steps]
        assert [s[3] for s in state["archive"][key]] == [s.equation for s in steps]
    assert state["svg"].count('class="node') == 6 and state["inputs"] == []  # no kernel
    assert '"</script><b>"' in state["source"]  # escaped in the page, whole in the state
    assert text.count("</script>") == 3  # the two JSON blobs and the module
    # No network: nothing loaded from anywhere.
    assert not re.search(
        r"""(src|href)=|@import|https?://""", text.replace("http://www.w3.org", "")
    )
    # Without scripts: the static graph and table.
    assert 'id="ad-static"' in text and '<table class="ad-table">' in text


def test_a_page_opens_in_forward_mode_for_a_seed(shell, tmp_path):
    result = trace(shell, "x=1.5 w=2.0", "y = sin(x * w)")
    state = export.state_of(result, mode="forward", seed="w")
    assert (
        state["mode"] == "forward" and state["seed"] == "w" and state["page"]["key"] == "forward:w"
    )


def test_kept_back_derivatives_stay_back_in_the_page(shell, tmp_path):
    result = trace(shell, 'x=1.5 --expect "dy/dx=-2.98"', "y = sin(x**2 + 1)")
    text = export.page_html(result)
    assert "-2.982" not in text and "grad ?" in text
