"""The coordinate net as plain arrays: Net, what makes two nets compatible, init, forward and gradients (exact and
the book's), and the table of hidden activations.

One code path for numpy (with its in-place calls), CuPy on a GPU and any array-API namespace."""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

from . import checks
from .backend import move
from .encoding import (
    ENCODINGS,
    TABLE_INIT,
    describe,
    encode,
    features,
    input_size,
    learned,
    learned_gradients,
    make_encoding,
    same_encoding,
    typed,
)
from .errors import MorphError

LAYERS = (1, 2, 3)
INITS = ("normal", "uniform")  # N(0, gain / inputs), or the original project's U(-0.05, 0.05)


@dataclass
class Net:
    """Weights W1 (D, H), W2 (H, H), W3 (H, 3), if the net has them biases b1, b2, b3, and the tables its
    encoding learns (encoding.learned)."""

    params: dict
    encoding: dict
    activation: str = "sigmoid"

    @property
    def hidden(self) -> int:
        return self.params["W2"].shape[0]

    @property
    def has_biases(self) -> bool:
        return "b1" in self.params

    def copy(self) -> "Net":
        """A copy whose arrays stay where they are (host or device)."""
        xp = self.xp
        return Net({k: xp.asarray(v, copy=True) for k, v in self.params.items()}, self.encoding, self.activation)

    @property
    def xp(self):
        """The array namespace of the weights."""
        return array_namespace(self.params["W1"])

    def to(self, xp) -> "Net":
        """This net with its weights in namespace `xp` (itself if they are there already); numpy: on the host."""
        if xp is self.xp:
            return self
        return Net({k: move(v, xp) for k, v in self.params.items()}, self.encoding, self.activation)


def check_compatible(a: Net, b: Net, names=("A", "B")):
    """Refuse, with what to do, to morph nets of different shape, encoding or activation."""
    if not same_encoding(a.encoding, b.encoding) or a.activation != b.activation:
        own = a.activation == ENCODINGS[a.encoding["kind"]].activation
        raise MorphError(f"net {names[0]} is {describe(a.encoding)}/{a.activation} but net {names[1]} is "
                         f"{describe(b.encoding)}/{b.activation}: nets of different encodings cannot morph; "
                         f"retrain one of them with the other's settings (e.g. learn N --encoding {typed(a.encoding)}"
                         f"{'' if own else ' --activation ' + a.activation})")
    if a.params.keys() != b.params.keys() or any(a.params[k].shape != b.params[k].shape for k in a.params):
        raise MorphError(f"nets {names[0]} (H={a.hidden}) and {names[1]} (H={b.hidden}) differ in shape: "
                         "train every picture of a transition with the same --hidden")


def interpolate(a: Net, b: Net, t: float) -> Net:
    """The net t of the way from A to B; t outside [0, 1] carries on past them (extrapolation)."""
    check_compatible(a, b)
    t = np.float32(t)
    return Net({k: (1 - t) * a.params[k] + t * b.params[k] for k in a.params}, a.encoding, a.activation)  # exact ends


def init_net(hidden=100, encoding=None, *, activation=None, biases=None, seed=0, init="normal") -> Net:
    """A fresh net. The seed's plain net: sigmoid units, no biases (the constant input 1 is the bias); each
    encoding names its own default activation and biases (encoding.ENCODINGS). `init` is one of INITS."""
    checks.choice("init", init, INITS)
    hidden = checks.whole("hidden size", hidden, 1, checks.MAX_HIDDEN)
    enc = make_encoding("plain") if encoding is None else checks.instance(
        "encoding", encoding, dict, "an encoding that encoding.make_encoding makes (or None: plain)")
    kind = ENCODINGS[checks.choice("encoding kind", enc.get("kind"), ENCODINGS)]
    biases, seed = checks.optional(checks.flag, "biases", biases), checks.whole("seed", seed, 0)
    activation = checks.choice("activation", kind.activation if activation is None else activation, ACTIVATIONS)
    biases = kind.biases if biases is None else biases
    rng = np.random.default_rng(seed)
    sizes = [input_size(enc), hidden, hidden, 3]
    gain = ACTIVATIONS[activation].gain
    params = {}
    for k, (n_in, n_out) in zip(LAYERS, zip(sizes, sizes[1:])):
        params[f"W{k}"] = (rng.uniform(-0.05, 0.05, (n_in, n_out)) if init == "uniform" else
                           rng.normal(0.0, np.sqrt(gain / n_in), (n_in, n_out))).astype(np.float32)
        if biases:
            params[f"b{k}"] = np.zeros(n_out, np.float32)
    for name, shape in learned(enc).items():
        params[name] = rng.uniform(-TABLE_INIT, TABLE_INIT, shape).astype(np.float32)
    return Net(params, enc, activation)


def inputs(net: Net, xy):
    """The net's first-layer inputs at coordinates xy (N, 2) of [0, 1]."""
    return features(encode(xy, net.encoding), net.encoding, net.params)


def tanh_(z):
    """tanh, in place on numpy arrays."""
    return np.tanh(z, out=z) if isinstance(z, np.ndarray) else array_namespace(z).tanh(z)


def sigmoid_(z):
    """Logistic sigmoid in its tanh form (several times faster than exp-based ones), in place on numpy arrays."""
    z *= 0.5
    z = tanh_(z)
    z *= 0.5
    z += 0.5
    return z


def relu_(z):
    """max(z, 0), in place on numpy arrays."""
    return np.maximum(z, 0.0, out=z) if isinstance(z, np.ndarray) else array_namespace(z).clip(z, min=0.0)


def _at_least(floor):
    """z -> max(z, floor), in place on numpy arrays."""
    return lambda z: np.maximum(z, floor, out=z) if isinstance(z, np.ndarray) else array_namespace(z).maximum(z, floor)


def _bias(net, k):
    return net.params.get(f"b{k}", 0.0)


def _sigmoid_fold(net: Net):
    """Sigmoid hidden units as tanh: s = (1 + tanh(z / 2)) / 2, the halvings folded into the weights, so each
    costs one tanh."""
    p, xp = net.params, net.xp
    return [(p["W1"] / 2, 0.5 * _bias(net, 1), tanh_),
            (p["W2"] / 4, xp.sum(p["W2"], axis=0) / 4 + 0.5 * _bias(net, 2), tanh_),
            (p["W3"] / 2, xp.sum(p["W3"], axis=0) / 2 + _bias(net, 3), sigmoid_)]


def _relu_fold(net: Net):
    """The second relu layer as relu(z + b2) = max(z, -b2) + b2, its + b2 carried into the last layer's bias."""
    p, xp = net.params, net.xp
    b2 = p.get("b2", xp.zeros(p["W2"].shape[1], dtype=xp.float32))
    return [(p["W1"], _bias(net, 1), relu_), (p["W2"], None, _at_least(-b2)),
            (p["W3"], _bias(net, 3) + b2 @ p["W3"], sigmoid_)]


def unfolded(forward):
    """The render fold of an activation with no rewrite: the net's layers as they are."""
    return lambda net: [(net.params[f"W{k}"], _bias(net, k), forward if k < 3 else sigmoid_) for k in LAYERS]


@dataclass(frozen=True)
class Activation:
    """A hidden activation: its in-place function, its derivative from its output, the init gain, and the render
    fold: the net's layers as (W, b or None, activation) rewritten for fewer passes over the pixels."""

    forward: Callable
    derivative: Callable
    gain: float
    fold: Callable


ACTIVATIONS = {
    "sigmoid": Activation(sigmoid_, lambda a: a * (1.0 - a), 1.0, _sigmoid_fold),
    "relu": Activation(relu_, lambda a: array_namespace(a).astype(a > 0, a.dtype), 2.0, _relu_fold),
}


def forward(net: Net, X, keep=False):
    """Outputs (N, 3) for encoded coordinates X (encoding.encode); with keep=True, the list of all layer outputs,
    the first the net's inputs."""
    acts = [features(X, net.encoding, net.params)]
    for k in LAYERS:
        z = acts[-1] @ net.params[f"W{k}"]
        if net.has_biases:
            z += net.params[f"b{k}"]
        acts.append((sigmoid_ if k == 3 else ACTIVATIONS[net.activation].forward)(z))
    return acts if keep else acts[-1]


BACKPROPS = ("exact", "book")


def gradients(net: Net, X, T, backprop="exact", *, per_pixel=False):
    """Gradients of 0.5 * mean_n sum_c (y - t)^2, and the batch's mean squared error (per_pixel=True: each
    pixel's squared error summed over its channels, an (N,) array, instead).

    backprop="book": T. Rashid's original, which passes the raw error (without the output's
    derivative) back to the hidden layers; "exact" moves the derivative into the passed-back error.
    The error is an array where X is (on a GPU: no wait for it)."""
    xp = array_namespace(X)
    acts = forward(net, X, keep=True)
    err = acts[-1] - T
    mse = xp.sum(err * err, axis=1) if per_pixel else xp.mean(err * err)
    err /= X.shape[0]
    delta = err * ACTIVATIONS["sigmoid"].derivative(acts[-1])
    derivative = ACTIVATIONS[net.activation].derivative
    grads, tables = {}, learned(net.encoding)
    for k in reversed(LAYERS):
        grads[f"W{k}"] = acts[k - 1].T @ delta
        if net.has_biases:
            grads[f"b{k}"] = xp.sum(delta, axis=0)
        if k > 1 or tables:
            err = (delta if backprop == "exact" else err) @ net.params[f"W{k}"].T
        if k > 1:
            delta = err * derivative(acts[k - 1])
    if tables:  # err: the features' gradient
        grads.update(learned_gradients(X, net.encoding, net.params, err))
    return grads, mse
