"""The demo notebooks: each runs top to bottom on a fresh kernel and shows its key numbers.

The notebooks are committed without outputs; here each one is executed with
nbclient (the kernel runs this interpreter) in demo_notebooks/, in memory, and the
text it printed is searched for the numbers it exists to show. `make demo` opens
copies in demo_work/, so using the demo changes nothing these tests read.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demo_notebooks"
NOTEBOOKS = sorted(DEMOS.glob("*.ipynb"))
CELL_TIMEOUT = 60  # seconds per cell
NOTEBOOK_TIMEOUT = 90  # seconds per notebook; each takes well under 20 on two cores

# Text each notebook must print: the textbook chapter's numbers and the like.
EXPECTED = {
    "01_the_chapter.ipynb": [
        "sin(x**2 + 1) at 1.5: value -0.10819513, derivative -2.98238903",
        "chapter's MSE example, forward mode: dL/dw -0.05421882",
        "one neuron, reverse mode: dloss/dw -0.07319962, dloss/db -0.03659981",
        "dloss/dw: reverse -0.07319962, forward -0.07319962",
        "dloss/db: reverse -0.03659981, forward -0.03659981",
        "derivative y' = -2.98238903",
        "loss        0.00475292",
        "exact f'(1.5) = -2.98238903",
        "  1000    2000",  # N = 1000 inputs cost 2000 calls
    ],
    "02_forward_vs_reverse.ipynb": [
        "N = 256: forward mode did 256x the operations of reverse mode on many_in",
        "M = 256: reverse mode did 128x the operations of forward mode on many_out",
        "5 forward passes, one per input",
    ],
    "03_backprop_small_network.ipynb": [
        "105 parameters",
        "1122 nodes",
        "9 boxes drawn",  # the weights, xb (4×2), the four model calls, two lines, loss
        "L2.n0.w0: backward() 0.299414, traced 0.299414",
        "(contribution 6 of 6, running sum 0.2994)",
    ],
    "04_homework_template.ipynb": [
        "attempt 1: 3 of 4 right",
        "dy/dx = 0.731: wrong\n",  # and not "(it is ...)": kept back without --reveal
        "attempt 2: 4 of 4 right",
        "computed: dy/dw = 1.46211716, dy/dx = 0.36552929",
        "hint: d exp(a)/da = exp(a); the chain rule: grad(z) += exp(z) * grad(exp(z))",
        "quiz score: 4 of 5",
        "flagged node: n3 y (line 2)",
        "d softplus(a)/da = 1/(1 + exp(a))    rule 0.268941  numeric 0.731059  fail",
        "all checks pass: True",
        "# input x = 2, grad = 0.365529",
        "#   z = 1  grad = 0.731059",
        "autograder: all tests passed",
        "dy/dx is 0.3655292893, expected 0.7310585786",
        "the rule d softplus(a)/da = 1/(1 + exp(a)) gives 0.268941, numerically 0.731059",
    ],
    "05_numpy_and_vectors.ipynb": [
        "dy/dw of w.x: [ 1.   3.  -0.5]",
        "match: True",
        "logistic regression: loss 0.24119884, dloss/db -0.06059446",
        "929 nodes, 12 boxes:",
        "| matmul (16×2)·(2,) → (16,) | add (16,) | tanh (16,) |",
        "backward pass: 9 steps at this level, 1199 in all",
        "tanh (16,): 16 gradients flow into its inputs, sum -4.404 (16 steps)",
        "dy/dW1 matches outer(dpre, x): True",
        "dy/dx matches W1.T dpre: True",
    ],
    "06_micrograd_lecture.ipynb": [
        "dL/da = 6.0  dL/db = -4.0  dL/dc = -2.0  dL/df = 4.0",
        "grad(d) += f * grad(L) = (-2) * 1 = -2",
        "o = 0.7071, output o",
        "dx1 = -1.5, dw1 = 1.0, dx2 = 0.5, dw2 = 0.0",
        "tanh via exp: dx1 = -1.5, dw1 = 1.0, dx2 = 0.5, dw2 = 0.0",
        "41 parameters",
        "the output is loss (its last value, line 5), not p; pick another with -o NAME",
        "dloss/d layers[0].neurons[0].w[0]: shown -0.004169, p.grad -0.004169",
        "the student's dx1 = -3.0, dw1 = 2.0",
        "your gradients against the chain rule: 2 of 10 right",
        "likely mistake: tanh node o (n9): the gradient it passes to n (n8) is 1.0, the chain "
        "rule gives 0.5 = (1 - 0.7071**2) * 1.0 — is `_backward` missing the `(1 - t**2)` factor?",
        "flagged: n",
        "autograder: wrong gradient at n (n8): yours is 1.0, the chain rule gives 0.5",
        "fixed: dx1 = -1.5, dw1 = 1.0; autograder: all gradients right",
        "your gradients against the chain rule: 10 of 10 right",
    ],
    "07_the_cost_of_derivatives.ipynb": [
        "  1000         2000",  # central differences: 2N calls of f
        "N = 10,000,000: 20,000,000 evaluations per gradient step",
        "J is 1 × 113: reverse 1 pass (341 steps) ",
        "forward 113 passes (38,533 steps) ",
        "finite differences 226 evaluations of the recorded program ",
        "reverse mode: 1 pass, central differences: 226 evaluations",
        "N =  300: central differences  600 evaluations",
        "J is 8 × 1: reverse 8 passes (24 steps), forward 1 pass (17 steps), "
        "finite differences 2 evaluations of the recorded program",
        "J is 1 × 8: reverse 1 pass (31 steps), forward 8 passes (184 steps), "
        "finite differences 16 evaluations of the recorded program",
        "reverse mode, output v: 4 steps fill row v",
        "dv/dt = 1.529684 = r cos t",
    ],
    "08_second_derivatives.ipynb": [
        "reverse mode at x = 2: f' = 21.000000, f'' = 42.000000",
        "forward mode at x = 2: f' = 21.000000, f'' = 42.000000",
        "by hand:               f' = 21.000000, f'' = 42.000000",
        "symmetric: True; all entries pass --check: True",
        "tagged:   8.0",
        "untagged: 5.0   (perturbation confusion: the right answer is 8.0)",
        "Dual(val=Dual(val=4.0, deriv=1.0, tag=1), deriv=Dual(val=4.0, deriv=1.0, tag=1), tag=2)",
    ],
}


def printed(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook's code cells printed or showed as text."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


_executed: dict[str, tuple[str, float]] = {}


def run(path: Path) -> tuple[str, float]:
    """Execute a notebook once per test session: its printed text and its wall time."""
    if path.name not in _executed:
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(DEMOS)}},
        )
        start = time.perf_counter()
        client.execute()
        _executed[path.name] = (printed(nb), time.perf_counter() - start)
    return _executed[path.name]


def test_the_demos_are_there() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert set(EXPECTED) <= names, f"missing: {sorted(set(EXPECTED) - names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"demo_notebooks/{path.name} cell {i} has outputs or an execution count "
                "(`make demo` runs copies, in demo_work/): drop them with "
                f"`git checkout -- demo_notebooks/{path.name}`, or keep your edits and run "
                f"`jupyter nbconvert --clear-output --inplace demo_notebooks/{path.name}`"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_and_shows_its_numbers(path: Path) -> None:
    text, seconds = run(path)
    assert seconds < NOTEBOOK_TIMEOUT, f"{path.name} took {seconds:.0f} s"
    missing = [s for s in EXPECTED.get(path.name, []) if s not in text]
    assert not missing, f"{path.name} did not print {missing}"


def test_the_network_learns() -> None:
    text, _ = run(DEMOS / "03_backprop_small_network.ipynb")
    before = re.search(r"before training: loss ([\d.]+), accuracy (\d+)%", text)
    after = re.search(r"after training: loss ([\d.]+), accuracy (\d+)%", text)
    assert before and after, text[-2000:]
    assert float(after[1]) < float(before[1]) / 2
    assert int(after[2]) >= 90


def test_forward_and_reverse_cross_over() -> None:
    """Notebook 02's tables: the mode that matches the shape does linear work, the other
    quadratic, and at the largest size the matching mode is also faster."""
    text, _ = run(DEMOS / "02_forward_vs_reverse.ipynb")
    rows = re.findall(
        r"^\s*256 \|\s+(\d+)\s+(\d+)\s+([\d.]+) \|\s+(\d+)\s+(\d+)\s+([\d.]+)$", text, re.M
    )
    assert len(rows) == 2, text
    (f_passes, f_ops, f_ms, r_passes, r_ops, r_ms), out_row = rows
    assert (int(f_passes), int(r_passes)) == (256, 1)
    assert int(f_ops) == 256 * int(r_ops)
    assert float(f_ms) > float(r_ms)
    f_passes, f_ops, f_ms, r_passes, r_ops, r_ms = out_row
    assert (int(f_passes), int(r_passes)) == (1, 256)
    assert int(r_ops) > 100 * int(f_ops)
    assert float(r_ms) > float(f_ms)


def test_the_readme_lists_them() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Demo notebooks", 1)[-1]
    assert "## Demo notebooks" in readme
    for path in NOTEBOOKS:
        assert path.name in section, f"README's demo section does not mention {path.name}"


def test_the_cost_of_derivatives_is_measured() -> None:
    """Notebook 07: AD agrees with central differences to rounding, and at the largest N
    central differences take longer than reverse mode (a ratio, never a time)."""
    text, _ = run(DEMOS / "07_the_cost_of_derivatives.ipynb")
    worst = re.search(r"largest difference over 113 weights: ([\d.e+-]+)", text)
    ratio = re.search(r"at N = 300: central differences take (\d+)x reverse mode's time", text)
    assert worst and ratio, text[-2000:]
    assert float(worst[1]) < 1e-8
    assert int(ratio[1]) > 1


def test_newton_and_the_hessian_of_notebook_08() -> None:
    """Newton's iterate is a root of f'; the Hessian, its H·v and eigenvalues are
    autograd's, and the second pass's entry is the Hessian's."""
    import autograd
    import autograd.numpy as anp

    text, _ = run(DEMOS / "08_second_derivatives.ipynb")
    x = float(re.search(r"Newton: x = ([\d.]+)", text)[1])
    assert abs(4 * x**3 - 6 * x + 1) < 1e-12 and 12 * x**2 - 6 > 0  # a minimum
    X = anp.array([[1.0, 2.0], [2.0, -1.0], [-1.5, 0.5], [0.5, 1.5], [-1.0, -2.0]])
    t = anp.array([1.0, 0.0, 0.0, 1.0, 0.0])

    def loss(w):
        z = X @ w
        return anp.mean(anp.log(1 + anp.exp(z)) - t * z) + 0.05 * anp.sum(w**2)

    H = autograd.hessian(loss)(anp.array([0.8, -0.4]))
    hv = re.search(r"hvp\(\[1, 2\]\) = \[([-\d.]+) ([-\d.]+)\]", text)
    assert [float(hv[1]), float(hv[2])] == pytest.approx(H @ [1.0, 2.0], abs=1e-6)
    eig = re.search(r"eigenvalues ([\d.]+) and ([\d.]+)", text)
    assert [float(eig[1]), float(eig[2])] == pytest.approx(
        sorted(anp.linalg.eigvalsh(H)), abs=1e-6
    )
    entry = re.search(r"d\(dloss/dw1\)/dw2 = ([-\d.]+) = H\[0, 1\] = ([-\d.]+)", text)
    assert float(entry[1]) == float(entry[2]) == pytest.approx(H[0, 1], abs=1e-6)
