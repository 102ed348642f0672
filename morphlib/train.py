"""The training loop: shuffled minibatches over a picture's pixels, and the rules that stop it (epochs, time,
a stop event, Ctrl-C, a diverging or converged loss), keeping the best net seen."""
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from . import checks
from .backend import BATCH, kind, namespace, to_host
from .encoding import encode, grid, input_size
from .net import BACKPROPS, Net, gradients
from .optim import OPTIMIZERS
from .render import fit_error, psnr
from .threads import one_blas_thread

EXPLODED_DB, PATIENCE = 5.0, 5  # this many epochs in a row this far below the best: the learning rate is too high
CONVERGED_DB = 45.0  # ... unless the best is already this good: then the net has learned the picture
STOP_LOOK_S = 0.5  # within an epoch, `stop` is looked at this often: a long epoch is dropped for the best so far


def pixel_bytes(encoding) -> int:
    """Bytes a pixel takes while learning: its encoded inputs and their temporaries, 6 floats' worth per input,
    and its target (3.1 kB with 256 Fourier features, measured as train's peak memory on 256 and 512 px)."""
    return 6 * input_size(encoding) + 64


@dataclass
class TrainResult:
    """The best net seen, its PSNR (dB), epochs run, PSNR per epoch, and why training ended."""

    net: Net
    psnr: float
    epochs: int
    history: list = field(default_factory=list)
    stopped: str = "done"  # done | time | stopped | interrupted | diverged | converged
    message: str = ""


@one_blas_thread
def train(net: Net, image, *, epochs=100, batch=None, lr=None, optimizer="adam", backprop="exact", seed=0,
          time_limit=None, stop: threading.Event = None, on_epoch=None, device=None) -> TrainResult:
    """Fit `net` (in place) to `image` (H, W, 3) with shuffled minibatches over all pixels, on `device` ("cpu",
    "gpu", "auto" or an array namespace; default: where the net's weights are). The default batch is BATCH of the
    device. The pixels stay on the device for the whole run and the loss is read back once per epoch.

    Ends after `epochs`, `time_limit` seconds, `stop.set()` (looked at after each epoch, and every STOP_LOOK_S
    within one), Ctrl-C or a diverging loss; returns the best net, its weights on the host."""
    checks.choice("optimizer", optimizer, OPTIMIZERS)
    checks.choice("backprop", backprop, BACKPROPS)
    checks.instance("net", net, Net, "a Net (init_net and load_net make them)"), checks.pixels("image", image)
    checks.stop_event("stop", stop), checks.function("on_epoch", on_epoch)
    xp = net.xp if device is None else namespace(device)
    home, dev = net.xp, net.to(xp)
    batch = BATCH[kind(xp)] if batch is None else batch
    epochs, batch, lr, seed, time_limit = checks.training(epochs, batch, lr, seed, time_limit)
    h, w = image.shape[:2]
    if kind(xp) == "cpu":  # the inputs live in this machine's memory
        checks.memory(f"learning a {w}x{h} picture", h * w * pixel_bytes(net.encoding), "learn it smaller (--max-side)")
    X = encode(grid(h, w, net.encoding, xp=xp), net.encoding)
    T = xp.asarray(np.ascontiguousarray(to_host(image).reshape(-1, 3), dtype=np.float32))
    n = X.shape[0]
    opt = OPTIMIZERS[optimizer](lr)
    rng = np.random.default_rng(seed)
    best = TrainResult(dev.copy(), fit_error(dev, image), 0)
    history, start, epoch, bad = [], time.perf_counter(), 0, 0
    look = start + STOP_LOOK_S  # when to look at `stop` next within an epoch
    order = rng.permutation(n)  # shuffles are drawn on the host, each moved to the device once
    try:
        for epoch in range(1, int(epochs) + 1):
            sq, order = 0.0, xp.asarray(order)
            for i in range(0, n, batch):
                idx = order[i:min(i + batch, n)]
                grads, mse = gradients(dev, xp.take(X, idx, axis=0), xp.take(T, idx, axis=0), backprop)
                sq += mse * idx.shape[0]
                opt.step(dev.params, grads)
                if stop is not None and time.perf_counter() >= look:  # a long epoch: a stop drops what is left
                    if stop.is_set():
                        return _ended(best, history, "stopped")
                    look = time.perf_counter() + STOP_LOOK_S
            order = rng.permutation(n)  # the next epoch's, while a GPU still works through this one
            total = sum(xp.sum(v) for v in dev.params.values())  # not finite if a weight is not
            sq, total = (float(v) for v in to_host(xp.stack([sq, total])))  # the epoch's one wait for the device
            score = psnr(sq / n)
            bad = bad + 1 if not score > best.psnr - EXPLODED_DB else 0
            if bad >= PATIENCE and best.psnr >= CONVERGED_DB:
                return _ended(best, history, "converged", f"converged: {best.psnr:.1f} dB at epoch {best.epochs}, "
                              "then no better; the best weights are kept")
            if bad >= PATIENCE or not math.isfinite(total):
                return _ended(best, history, "diverged", f"the loss exploded at epoch {epoch} (PSNR {score:.1f} dB, "
                              f"best {best.psnr:.1f}): lower the learning rate (try {opt.lr / 10:g}); "
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
