"""The training loop: minibatches of a picture's pixels (each once an epoch, or drawn more where the net is worse),
a learning-rate schedule, and the rules that stop it (epochs, time, a stop event, Ctrl-C, a diverging or converged
loss), keeping the best net seen."""
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from . import checks
from .backend import BATCH, kind, namespace, to_host
from .encoding import columns, encode, grid, positions
from .net import BACKPROPS, Net, gradients
from .optim import OPTIMIZERS
from .render import fit_error, psnr
from .threads import one_blas_thread

EXPLODED_DB, PATIENCE = 5.0, 5  # this many epochs in a row this far below the best: the learning rate is too high
CONVERGED_DB = 45.0  # ... unless the best is already this good: then the net has learned the picture
STOP_LOOK_S = 0.5  # within an epoch, `stop` is looked at this often: a long epoch is dropped for the best so far


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
WARMUP_EPOCHS = 3  # ... and over no more epochs than this: a run of 10^5 epochs stopped by hand learns from the start
# A run of fewer steps than this keeps its peak rate and shows each pixel once an epoch: a schedule of a few steps
# only slows it, and the error of a few weighted draws is too rough an estimate to keep the best net by.
SHORT_RUN = 100
SAMPLINGS = ("error", "uniform")  # an epoch's pixels: drawn more often where the net is worse, or each once
UNIFORM_SHARE = 0.5  # error sampling: this share of the draws is uniform over all pixels


def rate(peak: float, progress: float, schedule="cosine", warmup=WARMUP) -> float:
    """The learning rate `progress` (0 to 1) of the way through a run whose first `warmup` of it is a warm-up."""
    if schedule == "constant":
        return peak
    if progress < warmup:
        return peak * progress / warmup
    done = min(1.0, (progress - warmup) / (1 - warmup))
    return peak * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * done)))


# A picture's encoded inputs up to this size are made once (1 GiB: 724x724 of Fourier inputs); bigger ones at each
# step, for some more work a step (for Fourier ones four gathers and six products of a step's features) and 2 GiB
# less at 1024x1024 (bench/learn.py, lake).
INPUT_BYTES = 1 << 30


def learning_bytes(enc: dict, height: int, width: int) -> int:
    """About the memory learning a picture takes: its encoded inputs where they are made once (inputs()), half as
    much again in temporaries, and 80 bytes a pixel of targets, errors and draws."""
    made = height * width * columns(enc) * 4
    return int(1.5 * (made if made <= INPUT_BYTES else 0) + 80 * height * width)


def inputs(enc: dict, height: int, width: int, xp):
    """A function from pixel indices (row-major) to their encoded inputs: rows of the picture's made once, or over
    INPUT_BYTES made at each step; Fourier features (2 GiB at 1024x1024) then from their column's and row's sines
    and cosines, sin(a + b) = sin a cos b + cos a sin b (as render's first layer does)."""
    if height * width * columns(enc) * 4 <= INPUT_BYTES:
        X = encode(grid(height, width, enc, xp=xp), enc)
        return lambda idx: xp.take(X, idx, axis=0)
    if enc["kind"] != "fourier":
        xy = grid(height, width, enc, xp=xp)
        return lambda idx: encode(xp.take(xy, idx, axis=0), enc)
    B = xp.asarray(enc["B"])
    a, b = (2 * np.pi * positions(n, enc, xp)[:, None] * B[k, :] for k, n in ((0, width), (1, height)))
    sa, ca, sb, cb = xp.sin(a), xp.cos(a), xp.sin(b), xp.cos(b)

    def rows(idx):
        col, row = idx % width, idx // width
        sx, cx, sy, cy = (xp.take(t, i, axis=0) for t, i in ((sa, col), (ca, col), (sb, row), (cb, row)))
        return xp.concat([sx * cy + cx * sy, cx * cy - sx * sy], axis=1)
    return rows


def draws(rng, errors, sampling):
    """An epoch's pixel indices (host) and each draw's weight 1 / (n p), which makes the mean weighted error of
    the draws an unbiased estimate of the picture's (None: each pixel once, shuffled). `errors`: each pixel's
    last squared error (all 0 before the first epoch, not finite when the loss exploded: each pixel once)."""
    n, total = errors.shape[0], errors.sum()
    if sampling == "uniform" or not 0 < total < math.inf:
        return rng.permutation(n), None
    p = UNIFORM_SHARE / n + (1 - UNIFORM_SHARE) * errors / total
    order = rng.choice(n, n, p=p)
    return order, (1.0 / (n * p[order])).astype(np.float32)


@one_blas_thread
def train(net: Net, image, *, epochs=100, batch=None, lr=None, optimizer="adam", backprop="exact", seed=0,
          schedule="constant", sampling="uniform", time_limit=None, stop: threading.Event = None, on_epoch=None,
          device=None) -> TrainResult:
    """Fit `net` (in place) to `image` (H, W, 3) with minibatches of pixels, on `device` ("cpu", "gpu", "auto" or
    an array namespace; default: where the net's weights are). The default batch is BATCH of the device. An epoch
    is as many pixels as the picture has: each once (sampling "uniform"), or drawn more often where the last
    epoch's error was bigger ("error"). The rate follows `schedule` (rate(), `lr` its peak) over the epochs, or
    over `time_limit` if that ends first; a run of fewer than SHORT_RUN steps keeps the peak and each pixel once.
    The pixels stay on the device for the whole run and the loss (estimated from the batches) is read back once
    per epoch.

    Ends after `epochs`, `time_limit` seconds, `stop.set()` (looked at after each epoch, and every STOP_LOOK_S
    within one), Ctrl-C or a diverging loss; returns the best net, its weights on the host."""
    checks.choice("optimizer", optimizer, OPTIMIZERS)
    checks.choice("backprop", backprop, BACKPROPS)
    checks.choice("schedule", schedule, SCHEDULES)
    checks.choice("sampling", sampling, SAMPLINGS)
    checks.instance("net", net, Net, "a Net (init_net and load_net make them)"), checks.pixels("image", image)
    checks.stop_event("stop", stop), checks.function("on_epoch", on_epoch)
    xp = net.xp if device is None else namespace(device)
    home, dev = net.xp, net.to(xp)
    batch = BATCH[kind(xp)] if batch is None else batch
    epochs, batch, lr, seed, time_limit = checks.training(epochs, batch, lr, seed, time_limit)
    h, w = image.shape[:2]
    if kind(xp) == "cpu":  # the inputs live in this machine's memory
        checks.memory(f"learning a {w}x{h} picture", learning_bytes(net.encoding, h, w),
                      "learn it smaller (--max-side)")
    X = inputs(net.encoding, h, w, xp)
    T = xp.asarray(np.ascontiguousarray(to_host(image).reshape(-1, 3), dtype=np.float32))
    n = h * w
    opt = OPTIMIZERS[optimizer](lr)
    peak, warmup, rng, errors = opt.lr, min(WARMUP, WARMUP_EPOCHS / epochs), np.random.default_rng(seed), np.zeros(n)
    if epochs * -(-n // batch) < SHORT_RUN:
        schedule, sampling = "constant", "uniform"
    best = TrainResult(dev.copy(), fit_error(dev, image), 0)
    history, start, epoch, bad = [], time.perf_counter(), 0, 0
    look = start + STOP_LOOK_S  # when to look at `stop` next within an epoch
    order, weights = draws(rng, errors, sampling)  # drawn on the host, each moved to the device once
    try:
        for epoch in range(1, int(epochs) + 1):
            sq, rows, order = 0.0, [], xp.asarray(order)
            weights = None if weights is None else xp.asarray(weights)
            for i in range(0, n, batch):
                j = min(i + batch, n)
                if schedule != "constant":
                    opt.lr = rate(peak, max((epoch - 1 + j / n) / epochs,
                                            (time.perf_counter() - start) / time_limit if time_limit else 0.0),
                                  warmup=warmup)
                grads, err = gradients(dev, X(order[i:j]), xp.take(T, order[i:j], axis=0), backprop,
                                       per_pixel=True)
                sq += xp.sum(err if weights is None else err * weights[i:j])
                rows += [err] if sampling == "error" else []
                opt.step(dev.params, grads)
                if stop is not None and time.perf_counter() >= look:  # a long epoch: a stop drops what is left
                    if stop.is_set():
                        return _ended(best, history, "stopped")
                    look = time.perf_counter() + STOP_LOOK_S
            if rows:
                errors[to_host(order)] = to_host(xp.concat(rows))
            order, weights = draws(rng, errors, sampling)  # the next epoch's (uniform: while a GPU still works)
            total = sum(xp.sum(v) for v in dev.params.values())  # not finite if a weight is not
            sq, total = (float(v) for v in to_host(xp.stack([sq, total])))  # the epoch's one wait for the device
            score = psnr(sq / (3 * n))
            bad = bad + 1 if not score > best.psnr - EXPLODED_DB else 0
            if bad >= PATIENCE and best.psnr >= CONVERGED_DB:
                return _ended(best, history, "converged", f"converged: no better for {PATIENCE} epochs; the best "
                              "weights are kept")  # their PSNR is measured by the caller, as saved
            if bad >= PATIENCE or not math.isfinite(total):
                return _ended(best, history, "diverged", f"the loss exploded at epoch {epoch}: lower the learning "
                              f"rate (try {peak / 10:g}); the last good weights are kept")
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
