"""`make demo`, the README's first command, run as the user running the tests (root in CI).

It builds its light environment (once: .venv-demo/, reused after), copies the demo
notebooks into a work folder and starts JupyterLab, printing the URL to open. Here the
URL is read from its output, the server is asked for the notebooks it serves, each is
executed and saved back through the server (as JupyterLab's autosave does), and the
tracked notebooks must be byte for byte what they were. The server is then shut down
through its API, which ends `make demo`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TRACKED = sorted((ROOT / "demo_notebooks").glob("*.ipynb"))
INSTALL_TIMEOUT = 900  # s, `make demo-install` the first time (about 1 min, 4 on a busy machine)
START_TIMEOUT = 120  # s, `make demo` to a server that answers (about 3 s)
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab\?token=(\w+)")


def make_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment as a user's shell would have it: no enclosing make, no
    screen, Jupyter's own folders in `tmp` (the user's are left alone)."""
    drop = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("JUPYTER")}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(tmp / name.lower())
    env.update(extra)
    return env


class Demo:
    """A running `make demo`: its output so far, and its server's REST API once it answers."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.base = ""
        self.token = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_url(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = URL.search(self.output)
            if found:
                self.base = f"http://127.0.0.1:{found[1]}"
                self.token = found[2]
                return
            assert self.proc.poll() is None, f"make demo exited:\n{self.output[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"no URL printed in {START_TIMEOUT} s:\n{self.output[-3000:]}")

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(
            f"{self.base}{path}{sep}token={self.token}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def wait_for_status(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return dict(self.api("/api/status"))
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@contextmanager
def make_demo(env: dict[str, str], *args: str) -> Iterator[Demo]:
    """`make demo ARGS...` until the server answers; shut down through its API afterwards."""
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "demo", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    demo = Demo(proc)
    try:
        demo.wait_for_url()
        demo.wait_for_status()
        yield demo
        demo.api("/api/shutdown", method="POST")
        assert proc.wait(timeout=30) == 0, demo.output[-3000:]
    finally:
        if proc.poll() is None:  # only if the shutdown above did not end it
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture(scope="module")
def installed() -> None:
    """`make demo-install`: the demo's own environment, made once per checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "--no-print-directory", "demo-install"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def snapshot() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in TRACKED}


def execute(model: dict[str, Any], folder: Path) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(model["content"])
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return nb


def test_make_demo_serves_copies_and_the_tracked_notebooks_stay_clean(
    installed: None, tmp_path: Path
) -> None:
    before = snapshot()
    work = tmp_path / "work"
    with make_demo(make_env(tmp_path), f"DEMO_WORK={work}") as demo:
        assert "make demo: open the http://127.0.0.1:PORT/lab?token=" in demo.output
        served = {item["name"] for item in demo.api("/api/contents")["content"]}
        assert served == set(before), served
        for name in sorted(served):
            nb = execute(demo.api(f"/api/contents/{name}?content=1"), work)
            demo.api(
                f"/api/contents/{name}",
                "PUT",
                {"type": "notebook", "format": "json", "content": nb},
            )
            saved = nbformat.read(work / name, as_version=4)
            assert any(c.get("outputs") for c in saved.cells), f"{name} was not saved with outputs"
    assert snapshot() == before, "make demo changed a tracked notebook"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "demo_notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if status.returncode == 0:  # a checkout without git (an unpacked archive) has no status
        assert status.stdout == "", status.stdout


def test_make_demo_keeps_a_used_copy_and_renews_a_stale_one(
    installed: None, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    first, second = TRACKED[0].name, TRACKED[1].name
    # The user's copy of the first, saved after the tracked notebook last changed...
    (work / first).write_text('{"mine": 1}')
    # ...and of the second, older than the tracked notebook (say, from before a `git pull`).
    (work / second).write_text('{"mine": 2}')
    old = TRACKED[1].stat().st_mtime - 3600
    os.utime(work / second, (old, old))
    port = free_port()  # and options for `jupyter lab` through JUPYTER_ARGS
    args = f"JUPYTER_ARGS=--port={port} --ServerApp.port_retries=0"
    with make_demo(make_env(tmp_path), f"DEMO_WORK={work}", args) as demo:
        assert demo.base == f"http://127.0.0.1:{port}"
        assert demo.api(f"/api/contents/{second}?content=1")["type"] == "notebook"
    assert (work / first).read_text() == '{"mine": 1}'
    assert (work / second).read_bytes() == TRACKED[1].read_bytes()
    assert (work / f"{second}.bak").read_text() == '{"mine": 2}'
    assert f"your copy is {work / second}.bak" in demo.output


@pytest.mark.skipif(sys.platform != "linux", reason="the no-screen rule is Linux's ($DISPLAY)")
@pytest.mark.parametrize("screen", [True, False], ids=["screen", "no-screen"])
def test_make_demo_opens_the_browser_only_with_a_screen(
    installed: None, tmp_path: Path, screen: bool
) -> None:
    """Jupyter opens the browser through Python's webbrowser, which runs $BROWSER."""
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    env = make_env(tmp_path, BROWSER=str(browser), **({"DISPLAY": ":99"} if screen else {}))
    with make_demo(env, f"DEMO_WORK={tmp_path / 'work'}") as demo:
        # Jupyter starts the browser as it starts answering: give it time to show.
        deadline = time.monotonic() + (30 if screen else 3)
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert opened.exists() == screen, demo.output[-3000:]
    if screen:  # a page in Jupyter's runtime folder that redirects to the URL, or the URL
        assert "jpserver-" in opened.read_text() or demo.token in opened.read_text()
