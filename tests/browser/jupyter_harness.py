"""The browser-test harness: an isolated Jupyter server, a notebook page driver, timings.

Used through the fixtures in conftest.py (`jupyter_server`, `browser`, `page`,
`lab`, `nb7`); tests import `Stopwatch` and `record_timing` from here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import ConsoleMessage, Locator, Page

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = os.environ.get("AD_MAGIC_CHROMIUM", "/usr/bin/chromium")
TOKEN = "ad-magic-browser-tests"
SERVER_START_TIMEOUT = 60.0  # s; about 2 s here, more on a cold CI disk
KERNEL_TIMEOUT = 60_000  # ms, page load to an idle kernel (3-4 s here)
RUN_TIMEOUT = 60_000  # ms, Run All to every cell done
# Chromium's calls home, which only wait for timeouts offline.
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-dev-shm-usage",
]
# Page errors known to come from Jupyter itself, not from ad_magic.
KNOWN_PAGE_ERRORS = {
    # Notebook 7.6 logs this once at load with no extension installed.
    "notebook": ("Cannot read properties of undefined (reading 'schema')",),
    "lab": (),
}


# -- the server -------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@dataclass
class JupyterServer:
    """A running Jupyter server (JupyterLab and Notebook 7 on one port)."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    root: Path  # the server's root folder: notebooks written here can be opened
    log: Path  # the server's stdout and stderr
    token: str = TOKEN

    def api(self, path: str, method: str = "GET") -> Any:
        """Call the REST API, e.g. `api("/api/kernels")`; the JSON answer, or None."""
        req = urllib.request.Request(f"{self.url}{path}?token={self.token}", method=method)
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def write_notebook(self, name: str, cells: list[str | nbformat.NotebookNode]) -> Path:
        """Write a notebook into the root: strings become code cells, in order."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [nbformat.v4.new_code_cell(c) if isinstance(c, str) else c for c in cells]
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    def set_theme(self, theme: str) -> None:
        """JupyterLab's (and Notebook 7's) theme, e.g. "JupyterLab Dark", for pages loaded
        from now on: a user setting in the server's isolated config."""
        settings = self.root.parent / "config" / "lab" / "user-settings" / "@jupyterlab"
        _write_json(
            settings / "apputils-extension" / "themes.jupyterlab-settings", {"theme": theme}
        )

    def page_url(self, flavor: str, name: str) -> str:
        """The address that opens notebook `name` in "lab" or "notebook" (Notebook 7)."""
        prefix = {"lab": "lab/tree", "notebook": "notebooks"}[flavor]
        return f"{self.url}/{prefix}/{name}?token={self.token}"


def _isolated_env(base: Path) -> dict[str, str]:
    """Environment for a server whose config, data, runtime and IPython dirs are all in `base`."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    # The user's kernel `python3` is this interpreter (the venv's, with ad_magic
    # importable), whatever `python` on PATH is.
    _write_json(
        dirs["JUPYTER_DATA_DIR"] / "kernels" / "python3" / "kernel.json",
        {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        },
    )
    # Every cell in the DOM (no windowing), so tests can find any cell's output.
    _write_json(
        dirs["JUPYTER_CONFIG_DIR"]
        / "lab"
        / "user-settings"
        / "@jupyterlab"
        / "notebook-extension"
        / "tracker.jupyterlab-settings",
        {"windowingMode": "none"},
    )
    # No news or update pop-up over the bottom right of the page.
    _write_json(
        dirs["JUPYTER_CONFIG_DIR"]
        / "lab"
        / "user-settings"
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update({k: str(v) for k, v in dirs.items()})
    return env


def start_server(base: Path) -> tuple[subprocess.Popen[bytes], JupyterServer]:
    root = base / "root"
    root.mkdir(parents=True)
    port = _free_port()
    server = JupyterServer(url=f"http://127.0.0.1:{port}", root=root, log=base / "server.log")
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
    ]
    with server.log.open("wb") as log:
        proc = subprocess.Popen(
            cmd, env=_isolated_env(base), stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{_tail(server.log)}")
        try:
            server.api("/api/status")
            return proc, server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    stop_server(proc, server)
    raise RuntimeError(
        f"jupyter lab did not answer in {SERVER_START_TIMEOUT} s:\n{_tail(server.log)}"
    )


def stop_server(proc: subprocess.Popen[bytes], server: JupyterServer) -> None:
    """POST /api/shutdown (which ends the kernels too); kill only if that fails."""
    try:
        server.api("/api/shutdown", method="POST")
        proc.wait(timeout=15)
    except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stopwatch:
    """Milliseconds, on the page's clock, from `start()` to the frame that shows a change.

    `condition` is a JavaScript function `() => boolean`, checked on every DOM
    change after `start()`; the time is taken at the next animation frame
    after it holds. Arm it before the action, call `start()` right before the
    last input, then `wait()`. A benchmark figure, never a test assertion.

        watch = Stopwatch.visible(page, ".ad-magic svg g.node")
        watch = Stopwatch(page, "() => document.querySelector('.ad-current title')"
                                "?.textContent === 'n4'")
    """

    page: Page
    condition: str

    @classmethod
    def visible(cls, page: Page, selector: str) -> Stopwatch:
        """Until an element matching `selector` is laid out with a non-zero size."""
        return cls(
            page,
            f"() => [...document.querySelectorAll({json.dumps(selector)})]"
            ".some(e => e.getBoundingClientRect().width > 0)",
        )

    def __post_init__(self) -> None:
        self.page.evaluate(
            """cond => {
                const w = window, holds = eval(cond);
                w.__adStart = null; w.__adSeen = null;
                let hit = false;
                const check = () => {
                    if (w.__adStart === null || hit || !holds()) return;
                    hit = true;
                    obs.disconnect();
                    requestAnimationFrame(() => { w.__adSeen = performance.now(); });
                };
                const obs = new MutationObserver(check);
                obs.observe(document.body,
                    {childList: true, subtree: true, attributes: true, characterData: true});
                w.__adCheck = check;
            }""",
            self.condition,
        )

    def start(self) -> None:
        self.page.evaluate("() => { window.__adStart = performance.now(); window.__adCheck(); }")

    def wait(self, timeout: float = RUN_TIMEOUT) -> float:
        self.page.wait_for_function("() => window.__adSeen !== null", timeout=timeout)
        return float(self.page.evaluate("() => window.__adSeen - window.__adStart"))


def record_timing(test: str, what: str, ms: float, unit: str = "ms") -> None:
    """Print a timing (visible with -s) and keep it in artifacts/timings.json.

    Other benchmark figures (bytes on the wire, boxes drawn) go there too, with their `unit`.
    """
    print(f"\n[timing] {test}: {what} = {ms:.0f} {unit}")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(test, {})[what] = {unit: round(ms, 1), "at": time.strftime("%FT%T")}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


# The execution count of each code cell ("" not run, "*" running), kernel idle, outputs.
_RUN_STATE = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
    const name = document.querySelector('.jp-Toolbar-kernelName');
    const state = document.querySelector('.jp-Notebook-ExecutionIndicator');
    const prompt = c => {
        const m = /\\[(.*?)\\]/.exec(c.querySelector('.jp-InputArea-prompt')?.textContent || '');
        return m ? m[1].trim() : '';
    };
    return {
        prompts: cells.map(prompt),
        idle: !!(name && name.textContent.trim() && !/no kernel/i.test(name.textContent)
                 && state && state.getAttribute('data-status') === 'idle'),
        outputs: cells.map(c => c.querySelector('.jp-OutputArea')?.innerText || ''),
    };
}"""


@dataclass
class NotebookPage:
    """Drives one notebook in JupyterLab (`flavor="lab"`) or Notebook 7 (`"notebook"`)."""

    page: Page
    server: JupyterServer
    flavor: str
    errors: list[str] = field(default_factory=list)  # page errors and console errors
    _checked: int = 0

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        self.page.on("console", self._console)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text}")

    # -- opening and running ------------------------------------------------
    def open(self, name: str) -> None:
        """Load the notebook's page and wait for an idle kernel."""
        self.page.goto(self.server.page_url(self.flavor, name))
        self.page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_TIMEOUT)
        self.wait_kernel_idle()

    def wait_kernel_idle(self, timeout: float = KERNEL_TIMEOUT) -> None:
        """The indicator says idle before a kernel exists: also wait for the kernel's name."""
        self.page.wait_for_function(
            """() => {
                const name = document.querySelector('.jp-Toolbar-kernelName');
                const state = document.querySelector('.jp-Notebook-ExecutionIndicator');
                return name && name.textContent.trim() !== ''
                    && !/no kernel/i.test(name.textContent)
                    && state && state.getAttribute('data-status') === 'idle';
            }""",
            timeout=timeout,
        )

    def run_all(self, stopwatch: Stopwatch | None = None, timeout: float = RUN_TIMEOUT) -> None:
        """Run menu > Run All Cells, then wait until every code cell has run."""
        self.page.locator(".lm-MenuBar-itemLabel:text-is('Run')").click()
        item = self.page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))")
        item.wait_for()
        if stopwatch is not None:
            stopwatch.start()
        item.click()
        self.wait_all_run(timeout)

    def wait_all_run(self, timeout: float = RUN_TIMEOUT) -> None:
        """Every code cell shows an execution count, and the kernel is idle.

        Fails at once, with the outputs, if the run stops early (a cell raised).
        """
        deadline = time.monotonic() + timeout / 1000
        idle_since: float | None = None
        while True:
            state = self.page.evaluate(_RUN_STATE)
            now = time.monotonic()
            counts = state["prompts"]
            if state["idle"] and all(c.isdigit() for c in counts):
                return
            # Idle a while with nothing running or queued ("*"), yet cells not run: stopped.
            busy = not state["idle"] or "*" in counts
            idle_since = None if busy else (idle_since or now)
            started = any(c.isdigit() for c in counts)
            stopped = started and idle_since is not None and now - idle_since > 2.0
            if stopped or now > deadline:
                why = "Run All stopped early" if stopped else f"cells not done in {timeout} ms"
                raise AssertionError(
                    f"{why}: prompts {state['prompts']}, kernel idle: {state['idle']}\n"
                    + "\n---\n".join(state["outputs"])
                )
            time.sleep(0.05)

    # -- looking ---------------------------------------------------------------
    def cell(self, index: int) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Locator:
        """The output area of cell `index` (0-based, counting every cell)."""
        return self.cell(index).locator(".jp-OutputArea")

    def screenshot(self, name: str, locator: Locator | None = None) -> Path:
        """Save artifacts/<name>.png, of the page or of one element."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        (locator or self.page).screenshot(path=str(path))
        return path

    def unexpected_errors(self) -> list[str]:
        known = KNOWN_PAGE_ERRORS[self.flavor]
        return [e for e in self.errors if not any(k in e for k in known)]

    def assert_no_page_errors(self) -> None:
        self._checked = len(self.errors)
        assert not self.unexpected_errors(), "page errors:\n" + "\n".join(self.errors)
