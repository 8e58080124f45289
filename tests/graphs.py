"""The three graphs the display is judged on: a one-line formula (48 nodes), a
1,500-node chain and a micrograd MLP training step (about 33,000 nodes), as cells;
and a numpy network whose numpy calls are drawn as tensors (929 nodes).

The browser tests put these in notebooks; the Python tests trace them in a shell.
"""

from __future__ import annotations

FORMULA = (
    "%%grad x=0.5 y=1.5\n"
    "value_of_the_whole_formula = sin(x*y) + exp(x/y)*cos(y-x) + tanh(x*x + y*y) * "
    "log(1 + x*y) + sqrt(x + y) / (1 + exp(-x*y)) + (x - y)**2 * sigmoid(x + y) "
    "- relu(x - 0.1) + abs(y - 2) + x*y*2"
)
# Cells small enough to read whole: drawn without groups.
SMALL = "%%grad x=0.5 y=1.5\nz = sin(x*y) + exp(x/y)*cos(y - x)"
CHAPTER = "%%grad x=2.0\ny = sin(x**2 + 1)"
CHAIN = "%%grad x=0.5\nh = x\nfor i in range(300):\n    h = tanh(h*0.9 + 0.1)"
# Calls inside calls, a loop of them, a node used inside and outside its group (h * h):
# groups at three depths. A cell body: trace it with inputs x and y.
NESTED = """\
def unit(a, k):
    return tanh(a * k + 0.1)

def block(a):
    for k in range(3):
        a = unit(a, 0.5 + k)
    return a

h = x
for i in range(25):
    h = block(h) + y * 0.01 + h * h
z = h * y
"""

MLP = """\
import random
import numpy as np
from ad_magic import Value, tanh

class Neuron:
    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin
    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return tanh(act) if self.nonlin else act
    def parameters(self):
        return self.w + [self.b]

class Layer:
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]
    def __call__(self, x):
        return [n(x) for n in self.neurons]
    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0]
    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

random.seed(0)
model = MLP(2, [16, 16, 1])
X = np.array([[random.uniform(-2, 2), random.uniform(-2, 2)] for _ in range(50)])
Y = [1.0 if a * b > 0 else -1.0 for a, b in X]
"""
TRAIN_STEP = (
    "%%grad X -r step\n"
    "scores = [model(x) for x in X]\n"
    "loss = sum((s - y)**2 for s, y in zip(scores, Y)) / len(Y)"
)

# A two-layer numpy network on arrays of traced values: each numpy call is one tensor box.
NUMPY_MLP_SETUP = """\
import numpy as np
rng = np.random.default_rng(0)
W1_0, b1_0 = rng.normal(size=(16, 2)), rng.normal(size=16)
W2_0, b2_0 = rng.normal(size=(16, 16)) * 0.3, rng.normal(size=16)
x_0 = np.array([0.5, -1.2])
"""
NUMPY_MLP = (
    "%%grad W1=W1_0 b1=b1_0 W2=W2_0 b2=b2_0 x=x_0\n"
    "h = np.tanh(W1 @ x + b1)\n"
    "y = (W2 @ h + b2).sum()"
)
# Its tensors, in the order made: the array inputs, then a box per numpy call.
NUMPY_MLP_TENSORS = [
    *("W1 (16×2)", "b1 (16,)", "W2 (16×16)", "b2 (16,)", "x (2,)"),
    *("matmul (16×2)·(2,) → (16,)", "add (16,)", "tanh (16,)"),
    *("matmul (16×16)·(16,) → (16,)", "add (16,)", "sum (16,) → ()"),
]

# micrograd's Neuron on 30 inputs, defined in the cell (Value imported before it), with a
# second long line: its call opens to its lines, the gate line to its terms.
GATE = (
    "sigmoid(act) * exp(-act*act) + tanh(act*act + 1) * log(1 + act*act)"
    " + sqrt(act*act + 1) / (1 + exp(-act))"
)
NEURON = f"""%%grad x=0.5
class Neuron:
    def __init__(self, nin):
        self.w = [Value(0.1 * (i % 7) - 0.3) for i in range(nin)]
        self.b = Value(0.2)
    def __call__(self, x):
        act = sum((wi*xi for wi, xi in zip(self.w, x)), self.b)
        gate = {GATE}
        return tanh(act) * gate
n = Neuron(30)
out = n([x * k for k in range(30)])"""
