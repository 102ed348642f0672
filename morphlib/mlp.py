"""The coordinate net as plain arrays: init, forward/render, backprop (exact and book), optimizers, training.

One code path for numpy (the default, with its in-place calls), CuPy on a GPU and any array-API namespace."""
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from array_api_compat import array_namespace

from . import checks
from .backend import BATCH, NUMPY, RENDER_CHUNK, kind, move, namespace, to_host
from .encoding import FULL, check_size, describe, encode, grid, input_size, make_encoding, positions, same_encoding
from .errors import MorphError
from .threads import one_blas_thread

LAYERS = (1, 2, 3)
EXPLODED_DB, PATIENCE = 5.0, 5  # this many epochs in a row this far below the best: the learning rate is too high
CONVERGED_DB = 45.0  # ... unless the best is already this good: then the net has learned the picture


@dataclass
class Net:
    """Weights W1 (D, H), W2 (H, H), W3 (H, 3) and, if the net has them, biases b1, b2, b3."""

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
        raise MorphError(f"net {names[0]} is {describe(a.encoding)}/{a.activation} but net {names[1]} is "
                         f"{describe(b.encoding)}/{b.activation}: nets of different encodings cannot morph; "
                         "retrain one of them with the other's settings")
    if a.params.keys() != b.params.keys() or any(a.params[k].shape != b.params[k].shape for k in a.params):
        raise MorphError(f"nets {names[0]} (H={a.hidden}) and {names[1]} (H={b.hidden}) differ in shape: "
                         "train every picture of a transition with the same --hidden")


def interpolate(a: Net, b: Net, t: float) -> Net:
    """The net t of the way from A to B; t outside [0, 1] carries on past them (extrapolation)."""
    check_compatible(a, b)
    t = np.float32(t)
    return Net({k: (1 - t) * a.params[k] + t * b.params[k] for k in a.params}, a.encoding, a.activation)  # exact ends


def init_net(hidden=100, encoding=None, *, activation=None, biases=None, seed=0, init="normal") -> Net:
    """A fresh net. The seed's plain net: sigmoid units, no biases (the constant input 1 is the bias).
    init="normal": N(0, gain / inputs); "uniform": the original project's U(-0.05, 0.05)."""
    if init not in ("normal", "uniform"):
        raise MorphError(f"unknown init {init!r}: use normal or uniform")
    hidden = checks.whole("hidden size", hidden, 1, checks.MAX_HIDDEN)
    enc = encoding or make_encoding("plain")
    fourier = enc["kind"] == "fourier"
    activation = activation or ("relu" if fourier else "sigmoid")
    if activation not in ACTIVATIONS:
        raise MorphError(f"unknown activation {activation!r}: use sigmoid or relu")
    biases = fourier if biases is None else biases
    rng = np.random.default_rng(seed)
    sizes = [input_size(enc), hidden, hidden, 3]
    gain = 2.0 if activation == "relu" else 1.0
    params = {}
    for k, (n_in, n_out) in zip(LAYERS, zip(sizes, sizes[1:])):
        params[f"W{k}"] = (rng.uniform(-0.05, 0.05, (n_in, n_out)) if init == "uniform" else
                           rng.normal(0.0, np.sqrt(gain / n_in), (n_in, n_out))).astype(np.float32)
        if biases:
            params[f"b{k}"] = np.zeros(n_out, np.float32)
    return Net(params, enc, activation)


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


ACTIVATIONS = {"sigmoid": sigmoid_, "relu": relu_}


def _derivative(a, activation):
    """Derivative of the activation, from its output `a`."""
    if activation == "sigmoid":
        return a * (1.0 - a)
    xp = array_namespace(a)
    return xp.astype(a > 0, a.dtype)


def forward(net: Net, X, keep=False):
    """Outputs (N, 3) for inputs X (N, D); with keep=True, the list of all layer outputs."""
    acts = [X]
    for k in LAYERS:
        z = acts[-1] @ net.params[f"W{k}"]
        if net.has_biases:
            z += net.params[f"b{k}"]
        acts.append((sigmoid_ if k == 3 else ACTIVATIONS[net.activation])(z))
    return acts if keep else acts[-1]


def gradients(net: Net, X, T, backprop="exact", *, per_pixel=False):
    """Gradients of 0.5 * mean_n sum_c (y - t)^2, and the batch's mean squared error (per_pixel=True: each
    pixel's squared error summed over its channels, an (N,) array instead).

    backprop="book": T. Rashid's original, which passes the raw error (without the output's
    derivative) back to the hidden layers; "exact" moves the derivative into the passed-back error.
    The error is an array where X is (on a GPU: no wait for it)."""
    xp = array_namespace(X)
    acts = forward(net, X, keep=True)
    err = acts[-1] - T
    mse = xp.sum(err * err, axis=1) if per_pixel else xp.mean(err * err)
    err /= X.shape[0]
    delta = err * _derivative(acts[-1], "sigmoid")
    grads = {}
    for k in reversed(LAYERS):
        grads[f"W{k}"] = acts[k - 1].T @ delta
        if net.has_biases:
            grads[f"b{k}"] = xp.sum(delta, axis=0)
        if k > 1:
            err = (delta if backprop == "exact" else err) @ net.params[f"W{k}"].T
            delta = err * _derivative(acts[k - 1], net.activation)
    return grads, mse


class SGD:
    def __init__(self, lr=0.5):
        self.lr = lr

    def step(self, params, grads):
        for k, g in grads.items():
            params[k] -= self.lr * g


class Adam:
    def __init__(self, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        lr_t = self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for k, g in grads.items():
            xp = array_namespace(g)
            m = self.m.setdefault(k, xp.zeros_like(g))
            v = self.v.setdefault(k, xp.zeros_like(g))
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            params[k] -= lr_t * m / (xp.sqrt(v) + self.eps)


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else float(10 * np.log10(1.0 / mse))


@dataclass
class TrainResult:
    """The best net seen, its PSNR (dB), epochs run, PSNR per epoch, and why training ended."""

    net: Net
    psnr: float
    epochs: int
    history: list = field(default_factory=list)
    stopped: str = "done"  # done | time | stopped | interrupted | diverged | converged
    message: str = ""


SCHEDULES = ("cosine", "constant")  # the learning rate over a run: warm-up then a cosine decay, or fixed
WARMUP, FLOOR = 0.05, 0.01  # cosine: the rate climbs over this share of the run and ends at this share of its peak
SAMPLINGS = ("error", "uniform")  # an epoch's pixels: drawn more often where the net is worse, or each once
UNIFORM_SHARE = 0.5  # error sampling: this share of the draws is uniform over all pixels


def rate(peak: float, progress: float, schedule="cosine") -> float:
    """The learning rate `progress` (0 to 1) of the way through a run."""
    if schedule == "constant":
        return peak
    if progress < WARMUP:
        return peak * progress / WARMUP
    done = min(1.0, (progress - WARMUP) / (1 - WARMUP))
    return peak * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * done)))


def _draws(rng, errors, sampling):
    """An epoch's pixel indices (host) and each draw's weight 1 / (n p) that makes the mean error of the draws an
    unbiased estimate of the picture's (None: each pixel once, in a shuffled order). `errors`: each pixel's last
    squared error, None before the first epoch."""
    n = errors.shape[0]
    if sampling == "uniform" or not errors.any():
        return rng.permutation(n), None
    p = UNIFORM_SHARE / n + (1 - UNIFORM_SHARE) * errors / errors.sum()
    order = rng.choice(n, n, p=p)
    return order, (1.0 / (n * p[order])).astype(np.float32)


@one_blas_thread
def train(net: Net, image, *, epochs=100, batch=None, lr=None, optimizer="adam", backprop="exact", seed=0,
          schedule="constant", sampling="uniform", time_limit=None, stop: threading.Event = None, on_epoch=None,
          device=None) -> TrainResult:
    """Fit `net` (in place) to `image` (H, W, 3) with minibatches of pixels, on `device` ("cpu", "gpu", "auto" or
    an array namespace; default: where the net's weights are). The default batch is BATCH of the device. An epoch
    is as many pixels as the picture has: each once (sampling "uniform"), or drawn more often where the last
    epoch's error was bigger ("error"). The rate follows `schedule` (rate()) over the epochs, or over
    `time_limit` if that ends first. The pixels stay on the device for the whole run and the loss is read back
    once per epoch (estimated from the batches).

    Ends after `epochs`, `time_limit` seconds, `stop.set()`, Ctrl-C or a diverging loss; returns the best net,
    its weights on the host."""
    if optimizer not in OPTIMIZERS:
        raise MorphError(f"unknown optimizer {optimizer!r}: use adam or sgd")
    if backprop not in ("exact", "book"):
        raise MorphError(f"unknown backprop {backprop!r}: use exact or book")
    for name, value, known in (("schedule", schedule, SCHEDULES), ("sampling", sampling, SAMPLINGS)):
        if value not in known:
            raise MorphError(f"unknown {name} {value!r}: use {' or '.join(known)}")
    xp = net.xp if device is None else namespace(device)
    home, dev = net.xp, net.to(xp)
    batch = BATCH[kind(xp)] if batch is None else batch
    epochs, batch, lr, seed, time_limit = checks.training(epochs, batch, lr, seed, time_limit)
    h, w = image.shape[:2]
    X = encode(grid(h, w, net.encoding, xp=xp), net.encoding)
    T = xp.asarray(np.ascontiguousarray(to_host(image).reshape(-1, 3), dtype=np.float32))
    n = X.shape[0]
    opt = OPTIMIZERS[optimizer]() if lr is None else OPTIMIZERS[optimizer](lr)
    peak, rng, errors = opt.lr, np.random.default_rng(seed), np.zeros(n)
    best = TrainResult(dev.copy(), fit_error(dev, image), 0)
    history, start, epoch, bad = [], time.perf_counter(), 0, 0
    order, weights = _draws(rng, errors, sampling)  # drawn on the host, each moved to the device once
    try:
        for epoch in range(1, int(epochs) + 1):
            sq, rows, order = 0.0, [], xp.asarray(order)
            weights = None if weights is None else xp.asarray(weights)
            for i in range(0, n, batch):
                if schedule != "constant":
                    opt.lr = rate(peak, max((epoch - 1 + (i + batch) / n) / epochs,
                                            (time.perf_counter() - start) / time_limit if time_limit else 0.0),
                                  schedule)
                j = min(i + batch, n)
                grads, err = gradients(dev, xp.take(X, order[i:j], axis=0), xp.take(T, order[i:j], axis=0),
                                       backprop, per_pixel=True)
                sq += xp.sum(err if weights is None else err * weights[i:j])
                rows += [err] if sampling == "error" else []
                opt.step(dev.params, grads)
            if rows:
                errors[to_host(order)] = to_host(xp.concat(rows))
            order, weights = _draws(rng, errors, sampling)  # the next epoch's, while a GPU still works on this one
            total = sum(xp.sum(v) for v in dev.params.values())  # not finite if a weight is not
            sq, total = (float(v) for v in to_host(xp.stack([sq, total])))  # the epoch's one wait for the device
            score = psnr(sq / (3 * n))
            bad = bad + 1 if not score > best.psnr - EXPLODED_DB else 0
            if bad >= PATIENCE and best.psnr >= CONVERGED_DB:
                return _ended(best, history, "converged", f"converged: {best.psnr:.1f} dB at epoch {best.epochs}, "
                              "then no better; the best weights are kept")
            if bad >= PATIENCE or not math.isfinite(total):
                return _ended(best, history, "diverged", f"the loss exploded at epoch {epoch} (PSNR {score:.1f} dB, "
                              f"best {best.psnr:.1f}): lower the learning rate (try {peak / 10:g}); "
                              "the last good weights are kept")
            history.append(score)
            if score > best.psnr:
                best.net, best.psnr, best.epochs = dev.copy(), score, epoch
            if on_epoch:
                on_epoch(epoch, score, dev)
            if stop is not None and stop.is_set():
                return _ended(best, history, "stopped")
            if time_limit is not None and time.perf_counter() - start >= time_limit:
                return _ended(best, history, "time")
    except KeyboardInterrupt:
        return _ended(best, history, "interrupted", f"interrupted at epoch {epoch}; the best weights are kept")
    finally:
        net.params = dev.to(home).params
    return _ended(best, history, "done")


def _ended(best: TrainResult, history, why, message=""):
    best.net = best.net.to(np)
    best.history, best.stopped, best.message = history, why, message
    return best


def _render_layers(net: Net):
    """(W, b, activation) per layer (b None: none to add), rewritten for fewer passes over the pixels. Sigmoid
    hidden units as tanh: s = (1 + tanh(z / 2)) / 2, the halvings folded into the weights, so each costs one tanh.
    The second relu layer as relu(z + b2) = max(z, -b2) + b2, its + b2 carried into the last layer's bias."""
    p, b, xp = net.params, (lambda k: net.params.get(f"b{k}", 0.0)), net.xp
    if net.activation == "relu":
        b2 = p.get("b2", xp.zeros(p["W2"].shape[1], dtype=xp.float32))
        return [(p["W1"], b(1), relu_), (p["W2"], None, _at_least(-b2)), (p["W3"], b(3) + b2 @ p["W3"], sigmoid_)]
    return [(p["W1"] / 2, 0.5 * b(1), tanh_),
            (p["W2"] / 4, xp.sum(p["W2"], axis=0) / 4 + 0.5 * b(2), tanh_),
            (p["W3"] / 2, xp.sum(p["W3"], axis=0) / 2 + b(3), sigmoid_)]


def render(net: Net, height: int, width: int = None, *, window=(FULL, FULL), chunk=None, device=None, uint8=False,
           rounding=True) -> np.ndarray:
    """The net's picture at any size, a numpy (height, width, 3) array: float32 in [0, 1], or with uint8=True
    bytes (as images.to_uint8 makes them, rounding=False truncating like the original; made on the device: 4x
    less to copy). `window` = (x, y): the (lo, hi) of the picture's coordinates to show (default: all of it).
    Computed on `device` (default: where the net's weights are) in blocks of `chunk` pixels (default:
    RENDER_CHUNK of the device), copied once."""
    return render_morph(net, None, [0.0], height, width, window=window, chunk=chunk, device=device, uint8=uint8,
                        rounding=rounding)[0]


@one_blas_thread
def render_morph(a: Net, b: Net, ts, height: int, width: int = None, *, window=(FULL, FULL), band=None, chunk=None,
                 device=None, uint8=False, rounding=True) -> np.ndarray:
    """Frames t of the way from net A to net B for each t of `ts`, a numpy (len(ts), height, width, 3) array (B
    None: A's picture, ts [0]); as render(interpolate(a, b, t)) gives them, to float32 rounding, for less: the
    first layer's weights mix linearly, so for Fourier nets (whose features cost most) its pre-activations over a
    block of rows are computed once for A and B and mixed per frame, z1(t) = z1A + t (z1B - z1A) (exact at both
    ends); other nets' first layers are cheap and made from the mixed weights. `band` (r0, r1): only those rows
    of the frames (the same pixels as in the whole; a worker's share). Other options as render's."""
    width = height if width is None else width
    w, h = check_size((width, height))
    xp = a.xp if device is None else namespace(device)
    ts = [float(np.float32(t)) for t in ts]  # the t the mixed weights are made with
    mixed = [_render_layers((a if b is None else interpolate(a, b, t)).to(xp)) for t in ts]
    enc, xs = a.encoding, positions(w, a.encoding, xp, window=window[0])
    shared = b is not None and enc["kind"] == "fourier"
    firsts = [_first_layer(enc, *_render_layers(n.to(xp))[0][:2], xs) for n in (a, b)] if shared else \
        [_first_layer(enc, W1, b1, xs) for (W1, b1, _), *_ in mixed]
    r0, r1 = band or (0, h)
    ys = positions(h, enc, xp, window=window[1])[r0:r1]
    n = ys.shape[0]
    out = xp.empty((len(mixed), n, w, 3), dtype=xp.uint8 if uint8 else xp.float32)
    rows = max(1, (chunk or RENDER_CHUNK[kind(xp)]) // w)
    spare = _buffers(xp, rows * w, [W.shape[1] for W, *_ in mixed[0]])
    for r in range(0, n, rows):
        y = ys[r:min(r + rows, n)]
        za, zb = (first(y) for first in firsts) if shared else (None, None)
        step = zb - za if shared else None
        for i, (t, layers) in enumerate(zip(ts, mixed)):
            z1 = _mix(za, step, zb, t, spare[0]) if shared else firsts[i](y)
            a3 = _layers(z1, layers, spare)
            if uint8:  # a3 is a sigmoid's, in [0, 1]: no clipping needed
                a3 = xp.astype(a3 * 255.0 + (0.5 if rounding else 0.0), xp.uint8)
            out[i, r:min(r + rows, n), ...] = xp.reshape(a3, (-1, w, 3))
    return to_host(out)


def _layers(z1, layers, spare):
    """The net's output from its first layer's pre-activations z1, the products written into `spare`."""
    a = layers[0][2](z1)
    for (W, bias, act), into in zip(layers[1:], spare[1:]):
        a = _matmul(a, W, into)
        if bias is not None:
            a += bias
        a = act(a)
    return a


def _buffers(xp, n, widths):
    """Arrays of n rows per layer width for numpy's in-place calls to fill, block after block (a fresh result per
    block, a few hundred kB, costs more in page faults than the product itself); None elsewhere."""
    return [np.empty((n, k), np.float32) if xp is NUMPY else None for k in widths]


def _matmul(a, W, into):
    """a @ W, written into the first rows of `into` when there is one."""
    return a @ W if into is None else np.matmul(a, W, out=into[:a.shape[0]])


def _mix(za, step, zb, t, into):
    """za + t * step (step = zb - za), exactly za at t = 0 and zb at t = 1: a fresh array, or `into`'s first rows."""
    if into is None:
        return za if t == 0 else zb if t == 1 else za + t * step
    into = into[:za.shape[0]]
    if t in (0, 1):
        into[...] = zb if t else za
        return into
    np.multiply(step, t, out=into)
    into += za
    return into


def _first_layer(enc, W1, b1, xs):
    """A function of row coordinates ys giving inputs times W1 plus b1 over the grid ys x xs, flattened
    row-major; what the columns share is computed once. Fourier features skip the per-pixel sin/cos:
    sin(a + b) = sin a cos b + cos a sin b, so each row is its columns' features times a matrix of its own."""
    xp = array_namespace(W1)
    if enc["kind"] != "fourier":  # inputs affine in (x, y): f(x, y) = f(x, 0) + f(0, y) - f(0, 0)
        z = lambda x, y: encode(xp.stack([x, y], axis=1), enc) @ W1  # noqa: E731
        zero = xp.zeros(1, dtype=xp.float32)
        cols, base = z(xs, xp.zeros_like(xs)), b1 - z(zero, zero)

        def rows_of(ys):
            rows = z(xp.zeros_like(ys), ys) + base
            return xp.reshape(rows[:, None, :] + cols[None, :, :], (-1, W1.shape[1]))
        return rows_of
    f, two_pi, B = enc["features"], 2 * np.pi, xp.asarray(enc["B"])
    a = two_pi * xs[:, None] * B[0, :]
    cols = xp.concat([xp.sin(a), xp.cos(a)], axis=1)
    Ws, Wc = W1[:f, :], W1[f:, :]

    def rows_of(ys):
        b = two_pi * ys[:, None] * B[1, :]
        sb, cb = xp.sin(b)[:, :, None], xp.cos(b)[:, :, None]
        per_row = xp.concat([cb * Ws - sb * Wc, sb * Ws + cb * Wc], axis=1)
        out = xp.reshape(cols @ per_row, (-1, W1.shape[1]))
        out += b1
        return out
    return rows_of


def fit_error(net: Net, image) -> float:
    """PSNR (dB) of the net's render against `image`."""
    out = render(net, *image.shape[:2])
    return psnr(float(np.mean((out - to_host(image)) ** 2)))
