"""The README's "Other front ends": terminal IPython, `.ipy` scripts and plain Python scripts.

Each runs as its own process, the way a user starts it, on this checkout's ad_magic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELL = "y = sin(x**2 + 1)"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)  # this checkout's ad_magic, whatever is installed
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_terminal_ipython_shows_the_text_display(tmp_path: Path) -> None:
    done = run("-m", "IPython", "--ext", "ad_magic", "-c", f"%%grad x=1.5\n{CELL}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "y = -0.1082\n  dy/dx = -2.982\n6 nodes:" in done.stdout, done.stdout
    assert "n2 x**2" in done.stdout  # the node table


def test_a_cell_magic_inside_an_ipy_script_is_read_as_a_line_magic(tmp_path: Path) -> None:
    script = tmp_path / "grad.ipy"
    script.write_text(f"%load_ext ad_magic\n%%grad x=1.5\n{CELL}\n")
    done = run("-m", "IPython", str(script), cwd=tmp_path)
    assert "Line magic function `%%grad` not found" in done.stdout + done.stderr


def test_an_ipy_script_calls_the_cell_magic_through_run_cell_magic(tmp_path: Path) -> None:
    script = tmp_path / "grad.ipy"
    script.write_text(
        "%load_ext ad_magic\n"
        f'result = get_ipython().run_cell_magic("grad", "x=1.5", "{CELL}")\n'
        "print(result.summary())\n"
        'print(result.grads["x"], _grad is result)\n'
        '_grad.save("graph.svg")\n'
    )
    done = run("-m", "IPython", str(script), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "y = -0.1082\n  dy/dx = -2.982\n6 nodes:" in done.stdout, done.stdout
    assert "-2.98238902824" in done.stdout and "True" in done.stdout
    assert "<svg" in (tmp_path / "graph.svg").read_text()


def test_a_python_script_uses_the_engine(tmp_path: Path) -> None:
    script = tmp_path / "grad.py"
    script.write_text(
        "from ad_magic import Dual, Value, check_grad, sin\n"
        'x = Value(1.5, label="x"); y = sin(x**2 + 1); y.backward()\n'
        "print(x.grad, sin(Dual(1.5, 1.0)**2 + 1).deriv)\n"
        "print(check_grad(lambda x: sin(x**2 + 1), x=1.5))\n"
    )
    done = run(str(script), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reverse, forward = map(float, done.stdout.splitlines()[0].split())
    assert abs(reverse - -2.98238902824) < 1e-9 and abs(forward - reverse) < 1e-12
    assert "x            -2.982389028        -2.982389028" in done.stdout  # check_grad's table
