"""Hybrid images: one picture that is A up close and B from afar. The only module that imports TensorFlow.

The picture is sigmoid(free variables); TensorFlow's GradientTape minimizes
    m_precise * sum((x - A)^2) + m_blurred * sum((blur(x^2.2)^(1/2.2) - blur(B^2.2)^(1/2.2))^2),
blur being a separable depthwise Gaussian in linear light. A Fourier low-pass + high-pass blend is the baseline."""
import functools
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, minimize

from . import checks
from .errors import MorphError
from .images import as_rgb, resize

GAMMA = 2.2
# The picture's optimizers and their default rates. lbfgs: the fewest steps to the loss's optimum (bench.hybrid), and
# it needs no rate; gd: the article's.
OPTIMIZERS = {"lbfgs": None, "adam": 0.1, "gd": 0.3}
BOUNDS = (1e-4, 1 - 1e-4)  # L-BFGS keeps the pixels here: the logits of the picture stay finite
FTOL = 1e-7  # L-BFGS ends when a step changes the loss by less than this fraction: float32 rounding is near 1e-7


BLUR_SIGMA, M_PRECISE, M_BLURRED = 3.0, 0.1, 1.0  # the article's blur radius and loss weights
OUTPUT = "result/hybrid.png"
MAX_BLUR_SIGMA, MAX_WEIGHT = 1000.0, 1e6  # past these the result is one flat colour or noise


def kernel_size_for(sigma: float) -> int:
    """Taps for the Gaussian out to 2.5 sigma on each side, rounded down: the article's 11 for sigma 2, 15 for 3."""
    return 2 * max(1, int(2.5 * sigma)) + 1


def gauss_kernel(size: int, sigma: float) -> np.ndarray:
    """1-D Gaussian of `size` taps centred at (size - 1) // 2, summing to 1 (the article's kernel)."""
    size, sigma = _blur_checked(size, sigma)
    x = np.arange(size) - (size - 1) // 2
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def _blur_checked(kernel_size, sigma) -> tuple:
    """(kernel_size, sigma) checked; kernel_size None: the rule's for sigma."""
    sigma = checks.real("sigma", sigma, above=0, high=MAX_BLUR_SIGMA)
    return checks.whole("kernel_size", kernel_size_for(sigma) if kernel_size is None else kernel_size, 1,
                        kernel_size_for(MAX_BLUR_SIGMA)), sigma


def _weights(m_precise, m_blurred) -> tuple:
    """The loss weights checked: finite, not negative, not both zero."""
    m = checks.real("m_precise", m_precise, 0, MAX_WEIGHT), checks.real("m_blurred", m_blurred, 0, MAX_WEIGHT)
    if not any(m):
        raise MorphError("m_precise and m_blurred are both 0: give at least one of them a positive weight")
    return m


def match(near: np.ndarray, far: np.ndarray):
    """`far` centre-cropped to `near`'s aspect and resized to its size; returns (far, message or '')."""
    (h, w), (fh, fw) = near.shape[:2], far.shape[:2]
    if (h, w) == (fh, fw):
        return far, ""
    if fh * w > h * fw:  # far is taller: crop rows
        ch, cw = max(1, round(fw * h / w)), fw
    else:
        ch, cw = fh, max(1, round(fh * w / h))
    top, left = (fh - ch) // 2, (fw - cw) // 2
    how = "resized" if (ch, cw) == (fh, fw) else "centre-cropped and resized"
    out = resize(far[top:top + ch, left:left + cw], (w, h))
    return out, f"the far picture ({fw}x{fh}) was {how} to the near one's {w}x{h}"


@dataclass
class Report:
    """The picture (H, W, 3) in [0, 1], its loss and the two parts, and the history per reported step."""

    image: np.ndarray
    loss: float
    loss_precise: float
    loss_blurred: float
    steps: int
    seconds: float = 0.0
    history: list = field(default_factory=list)  # (step, loss, precise, blurred)
    message: str = ""
    interrupted: bool = False  # Ctrl-C during run(): the picture is the one reached so far

    def per_pixel(self) -> str:
        """The loss and its two parts per pixel: the same scale at any picture size."""
        n = self.image.shape[0] * self.image.shape[1]
        return (f"loss per pixel {self.loss / n:.4f} (precise {self.loss_precise / n:.4f}, "
                f"blurred {self.loss_blurred / n:.4f})")


def _logit(x):
    x = np.clip(x, 1e-4, 1 - 1e-4)
    return np.log(x / (1 - x))


class Blender:
    """A hybrid picture being optimized. `start`: "fft" (the Fourier baseline's picture: fewest steps),
    "grey" (the article's), "near", "far" or an (H, W, 3) array.

    optimizer="lbfgs" (default): scipy's L-BFGS-B over the pixels, with TensorFlow's gradient; "gd" with lr=0.3
    is the article's plain gradient descent on the logits; "adam" is in between. All Blenders share one compiled
    step per optimizer (see compiled): making many never retraces."""

    def __init__(self, near, far, *, kernel_size=None, sigma=BLUR_SIGMA, m_precise=M_PRECISE, m_blurred=M_BLURRED,
                 optimizer="lbfgs", lr=None, start="fft"):
        near, far = as_rgb(near, "near picture"), as_rgb(far, "far picture")
        kernel_size, sigma = _blur_checked(kernel_size, sigma)
        m_precise, m_blurred = _weights(m_precise, m_blurred)
        checks.choice("optimizer", optimizer, OPTIMIZERS)
        lr = lr if lr is None else checks.real("lr", lr, above=0, high=checks.MAX_LR)
        _check_memory(near, optimizer)
        far, self.message = match(near, far)
        tf = tensorflow()
        self.optimizer, self.kernel_size = optimizer, kernel_size
        init = _start(start, near, far, sigma)
        if init is None or init.shape != near.shape:
            raise MorphError(f"start must be fft, grey, near, far or an array of shape {near.shape}")
        var = tf.Variable(_logit(init)[None].astype(np.float32))
        self.s = {"var": var, "near": tf.constant(near[None]), "far": tf.constant(far[None]),
                  "kernel": tf.Variable(gauss_kernel(kernel_size, sigma).astype(np.float32)),
                  "m": tf.Variable([m_precise, m_blurred], dtype=tf.float32),
                  "lr": tf.Variable(OPTIMIZERS[optimizer] or 0.0 if lr is None else lr, dtype=tf.float32),
                  "m1": tf.Variable(tf.zeros_like(var)), "m2": tf.Variable(tf.zeros_like(var)),
                  "t": tf.Variable(0.0)}
        self.s["far_blurred"] = tf.Variable(self.blur(self.s["far"]))
        self.steps = 0

    def blur(self, x):
        """Gaussian blur in linear light: blur(x^2.2)^(1/2.2), separable depthwise, zero padding ('SAME')."""
        return _blur(x, self.s["kernel"])

    def set(self, m_precise=None, m_blurred=None, sigma=None):
        """Change the loss weights or the blur; the picture keeps its state (a warm start)."""
        if m_precise is not None or m_blurred is not None:
            old = self.s["m"].numpy()
            self.s["m"].assign(_weights(old[0] if m_precise is None else m_precise,
                                        old[1] if m_blurred is None else m_blurred))
        if sigma is not None:
            self.s["kernel"].assign(gauss_kernel(self.kernel_size, sigma).astype(np.float32))
            self.s["far_blurred"].assign(self.blur(self.s["far"]))

    def run(self, steps=200, on_step=None, every=10, stop=None) -> Report:
        """Optimize `steps` more steps (L-BFGS: iterations; it may stop sooner, converged); on_step(i, steps,
        (step, loss, precise, blurred)) every `every` steps. Returns the report after; Ctrl-C, or `stop()`
        turning true (asked after each step), ends it early with the picture reached so far (report.interrupted)."""
        steps, every = checks.whole("steps", steps, 0), checks.whole("every", every)
        start, history, done = time.perf_counter(), [], [0]
        due = lambda i: i % every == 0 or i == steps  # noqa: E731

        def tick(i, parts=None):
            self.steps += 1
            done[0] = i
            if due(i):
                parts = compiled()["losses"](self.s) if parts is None else parts
                history.append((self.steps, *(float(p) for p in parts)))
                if on_step:
                    on_step(i, steps, history[-1])
            if stop is not None and stop():
                raise StopIteration  # scipy's minimize ends on it, keeping its last iterate

        try:
            if self.optimizer == "lbfgs":
                self._lbfgs(steps, tick, due)
            else:
                step = compiled()[self.optimizer]
                for i in range(1, steps + 1):
                    tick(i, step(self.s))
            halted = stop is not None and stop()  # scipy ends quietly on a StopIteration from its callback
        except (KeyboardInterrupt, StopIteration):
            halted = True
        report = self.report()
        if halted:
            report.interrupted, report.message = True, f"interrupted at step {done[0]} of {steps}"
        report.seconds, report.history = time.perf_counter() - start, history
        return report

    def _lbfgs(self, steps, tick, due):
        """scipy's L-BFGS-B over the pixels, kept in BOUNDS; each run starts a fresh curvature memory."""
        tf, value_and_grad = tensorflow(), compiled()["lbfgs"]
        var, first, last = self.s["var"], self.steps, []
        shape = var.shape

        def f(x):
            loss, g, *parts = value_and_grad(self.s, tf.constant(x.reshape(shape), tf.float32))
            last[:] = (loss, *parts)  # the line search's last point is the new iterate: its losses, for free
            return float(loss), g.numpy().ravel().astype(np.float64)

        def done(x):
            if due(self.steps - first + 1):
                var.assign(_logit(x.reshape(shape)).astype(np.float32))
            tick(self.steps - first + 1, last)

        if steps > 0:
            x0 = np.clip(tf.sigmoid(var).numpy().ravel().astype(np.float64), *BOUNDS)
            res = minimize(f, x0, jac=True, method="L-BFGS-B", bounds=Bounds(*BOUNDS), callback=done,
                           options={"maxiter": steps, "ftol": FTOL})
            var.assign(_logit(res.x.reshape(shape)).astype(np.float32))

    def report(self) -> Report:
        loss, precise, blurred = (float(v) for v in compiled()["losses"](self.s))
        return Report(self.image(), loss, precise, blurred, self.steps, message=self.message)

    def image(self) -> np.ndarray:
        return tensorflow().sigmoid(self.s["var"])[0].numpy()


class Progress:
    """How far an L-BFGS run of at most `steps` is, read off its losses as on_step reports them: the loss's
    relative change per step on a log scale from the first step's to FTOL (where the run ends), or the steps
    done if more; and the time left at the pace so far.
    update(i, loss) -> (fraction done, seconds left or None, relative change per step or None)."""

    def __init__(self, steps):
        self.steps, self.start = steps, time.perf_counter()
        self.last, self.first_change, self.fraction = None, None, 0.0

    def update(self, i, loss):
        change = None
        if self.last is not None and i > self.last[0]:
            change = max((self.last[1] - loss) / max(abs(loss), 1e-12) / (i - self.last[0]), FTOL)
        self.last = (i, loss)
        done = i / max(self.steps, 1)
        if change is not None:
            self.first_change = self.first_change or max(change, FTOL * 10)
            span = np.log(self.first_change / FTOL)
            done = max(done, float(np.log(self.first_change / change) / span) if change < self.first_change else 0)
        self.fraction = min(max(self.fraction, done), 1.0)  # never backwards
        elapsed = time.perf_counter() - self.start
        left = None if not 0 < self.fraction < 1 else elapsed * (1 - self.fraction) / self.fraction
        if left is not None and i:
            left = min(left, elapsed / i * (self.steps - i))  # it stops at `steps` anyway
        return self.fraction, left, change


def _blur(x, kernel):
    tf = tensorflow()
    k = tf.tile(kernel[:, None, None, None], [1, 1, 3, 1])
    lin = tf.pow(x, GAMMA)
    lin = tf.nn.depthwise_conv2d(lin, tf.transpose(k, [1, 0, 2, 3]), [1, 1, 1, 1], "SAME")
    lin = tf.nn.depthwise_conv2d(lin, k, [1, 1, 1, 1], "SAME")
    return tf.pow(lin, 1.0 / GAMMA)


def _loss_parts(s):
    return _loss_of(s, tensorflow().sigmoid(s["var"]))


def _loss_of(s, x):
    tf = tensorflow()
    precise = tf.reduce_sum(tf.square(x - s["near"]))
    blurred = tf.reduce_sum(tf.square(_blur(x, s["kernel"]) - s["far_blurred"]))
    return s["m"][0] * precise + s["m"][1] * blurred, precise, blurred


def _gradient(s):
    with tensorflow().GradientTape() as tape:
        loss, precise, blurred = _loss_parts(s)
    return tape.gradient(loss, s["var"]), loss, precise, blurred


def _value_and_grad(s, x):
    """The loss, its gradient with respect to the picture x itself (for L-BFGS), and the loss's two parts."""
    with tensorflow().GradientTape() as tape:
        tape.watch(x)
        loss, precise, blurred = _loss_of(s, x)
    return loss, tape.gradient(loss, x), precise, blurred


def _gd_step(s):
    g, *parts = _gradient(s)
    s["var"].assign_sub(s["lr"] * g)
    return parts


def _adam_step(s, b1=0.9, b2=0.999, eps=1e-8):
    g, *parts = _gradient(s)
    s["t"].assign_add(1.0)
    s["m1"].assign(b1 * s["m1"] + (1 - b1) * g)
    s["m2"].assign(b2 * s["m2"] + (1 - b2) * g * g)
    rate = s["lr"] * tensorflow().sqrt(1 - b2 ** s["t"]) / (1 - b1 ** s["t"])
    s["var"].assign_sub(rate * s["m1"] / (tensorflow().sqrt(s["m2"]) + eps))
    return parts


@functools.cache
def compiled() -> dict:
    """One tf.function per step, made once per process: a Blender's state goes in as arguments, so new Blenders
    of a size already seen reuse its trace instead of retracing."""
    tf = tensorflow()
    fns = {"adam": _adam_step, "gd": _gd_step, "lbfgs": _value_and_grad, "losses": _loss_parts}
    return {k: tf.function(f, autograph=False) for k, f in fns.items()}


def pyramid(img: np.ndarray, levels=4, gap=4) -> np.ndarray:
    """The picture at full, 1/2, 1/4, ... size side by side on white, bottoms aligned: how it looks from afar."""
    img, levels, gap = as_rgb(img), checks.whole("levels", levels, 1, 16), checks.whole("gap", gap, 0, checks.MAX_SIDE)
    h, w = img.shape[:2]
    tiles = [img] + [resize(img, (max(1, w >> k), max(1, h >> k))) for k in range(1, levels)]
    out = np.ones((h, sum(t.shape[1] for t in tiles) + gap * (levels - 1), 3), np.float32)
    x = 0
    for t in tiles:
        out[h - t.shape[0]:, x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


# TensorFlow's start-up chatter, written to the process's stderr (a pink block in a notebook): dropped on import
START_UP_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
                  "This TensorFlow binary is optimized", "To enable the following instructions",
                  "Could not find cuda drivers", "Unable to register cu", "TF-TRT Warning")


def tensorflow():
    """TensorFlow, imported on first use only (learning and rendering never pay its start-up). The import's
    start-up lines are dropped; anything else it writes to stderr is passed on."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines(keepends=True)
    sys.stderr.write("".join(line for line in lines if not any(n in line for n in START_UP_NOISE)))
    return tf


def _start(start, near, far, sigma):
    if not isinstance(start, str):
        return as_rgb(start, "start picture")
    if start == "fft":
        return hybrid_fft(near, far, sigma, with_loss=False).image
    return {"grey": np.full_like(near, 0.5), "near": near, "far": far}.get(start)


def hybrid(near, far, steps=200, **kw) -> Report:
    """Optimize a hybrid picture from scratch; see Blender for the settings."""
    return Blender(near, far, **kw).run(steps)


def loss_parts(img, near, far, *, kernel_size=None, sigma=BLUR_SIGMA, m_precise=M_PRECISE, m_blurred=M_BLURRED):
    """(loss, precise, blurred) of a picture, in numpy: to compare pictures made by any method."""
    from scipy.ndimage import convolve1d

    k = gauss_kernel(kernel_size_for(sigma) if kernel_size is None else kernel_size, sigma)
    blur = lambda x: convolve1d(convolve1d(x.astype(np.float64) ** GAMMA, k, 0, mode="constant"),  # noqa: E731
                                k, 1, mode="constant") ** (1 / GAMMA)
    precise = float(np.sum((img.astype(np.float64) - near) ** 2))
    blurred = float(np.sum((blur(img) - blur(far)) ** 2))
    return m_precise * precise + m_blurred * blurred, precise, blurred


# Peak memory per pixel of a hybrid, past TensorFlow's own, by way of making it (python -m bench.hybrid --memory):
# L-BFGS-B keeps 10 float64 pairs of the picture, Adam and GD a few float32 copies, the baseline complex spectra.
BYTES_PER_PIXEL = {"lbfgs": 1400, "adam": 400, "gd": 400, "fft": 170}


def _check_memory(near, way):
    """Refuse a hybrid that would not fit in the memory available, before anything big is made."""
    h, w = near.shape[:2]
    side = int(max(h, w) * math.sqrt(checks.available_memory() / (BYTES_PER_PIXEL[way] * h * w)))
    checks.memory(f"a {w}x{h} hybrid ({way})", BYTES_PER_PIXEL[way] * h * w,
                  f"give smaller pictures (about {side} px on the longer side fits: --size {side})")


def hybrid_fft(near, far, sigma=BLUR_SIGMA, *, with_loss=True, **loss_kw) -> Report:
    """Baseline: Gaussian low-pass of B plus high-pass of A, both in linear light (Oliva et al. 2006 style).

    Its report carries the same loss as the optimized picture's (loss_kw: kernel_size, m_precise, m_blurred)."""
    near, far = as_rgb(near, "near picture"), as_rgb(far, "far picture")
    sigma, with_loss = _blur_checked(loss_kw.get("kernel_size"), sigma)[1], checks.flag("with_loss", with_loss)
    _weights(loss_kw.get("m_precise", M_PRECISE), loss_kw.get("m_blurred", M_BLURRED))
    _check_memory(near, "fft")
    far, message = match(near, far)
    h, w = near.shape[:2]
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    low = np.exp(-2 * np.pi**2 * sigma**2 * (fx**2 + fy**2))[..., None]
    spec = lambda x: np.fft.rfft2(x ** GAMMA, axes=(0, 1))  # noqa: E731
    lin = np.fft.irfft2(low * spec(far) + (1 - low) * spec(near), s=(h, w), axes=(0, 1))
    img = (np.clip(lin, 0, 1) ** (1 / GAMMA)).astype(np.float32)
    losses = loss_parts(img, near, far, sigma=sigma, **loss_kw) if with_loss else (float("nan"),) * 3
    return Report(img, *losses, steps=0, message=message)
