"""Training speed and quality, side by side on one 256x256 photo and one net (inputs x, y, 1; H=100; sigmoid):

(a) a per-pixel loop in the style of T. Rashid's book (the seeds' starting point),
(b) morphlib (vectorized numpy minibatches, Adam; one BLAS thread, morphlib/threads.py), beside the same code
    with numpy's own BLAS threads and with threadpoolctl's one thread,
(c) the same net in PyTorch on the CPU, one thread (skipped if torch is not installed),
first on the machine as it is, then (b) again with a busy process on every core (bench/load.py).

Each runs for the same wall time; printed: pixels/s, seconds per epoch, PSNR reached. Render times: bench/render.py.
Needs the bench extra for its PyTorch row: pip install -e .[bench].  Usage: python -m bench.fit [--seconds 20]
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from bench.book import book_step
from bench.load import busy
from morphlib.encoding import encode, grid
from morphlib.net import init_net
from morphlib.render import fit_error
from morphlib.samples import photo
from morphlib.threads import blas_threads
from morphlib.train import train

H, BATCH, LR = 100, 1024, 0.01


def book_loop(img, seconds, lr=0.1):
    """One pixel at a time, column vectors, as in the book's train() with a second hidden layer."""
    net = init_net(H, seed=0)
    wih, whh, who = (net.params[k].T.astype(np.float64) for k in ("W1", "W2", "W3"))
    X = encode(grid(*img.shape[:2]), net.encoding).astype(np.float64)
    T = img.reshape(-1, 3).astype(np.float64)
    order, done, start = np.random.default_rng(0).permutation(len(X)), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        book_step(wih, whh, who, X[order[done % len(X)]], T[order[done % len(X)]], lr)  # with the article's fix
        done += 1
    elapsed = time.perf_counter() - start
    net.params = {"W1": wih.T.astype(np.float32), "W2": whh.T.astype(np.float32), "W3": who.T.astype(np.float32)}
    return done / elapsed, elapsed * len(X) / done, fit_error(net, img)


def morphlib_fit(img, seconds, fit=train):
    start = time.perf_counter()
    r = fit(init_net(H, seed=0), img, epochs=10**9, batch=BATCH, lr=LR, time_limit=seconds)
    elapsed = time.perf_counter() - start
    n = img.shape[0] * img.shape[1]
    return len(r.history) * n / elapsed, elapsed / len(r.history), fit_error(r.net, img)


def numpy_threads_fit(img, seconds):
    with blas_threads(None):
        return morphlib_fit(img, seconds)


def one_thread_fit(img, seconds):
    with blas_threads(None), threadpool_limits(1):
        return morphlib_fit(img, seconds)


def torch_fit(img, seconds):
    try:
        import torch
    except ImportError:
        return float("nan"), float("nan"), float("nan")

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, H, bias=False), torch.nn.Sigmoid(),
                                torch.nn.Linear(H, H, bias=False), torch.nn.Sigmoid(),
                                torch.nn.Linear(H, 3, bias=False), torch.nn.Sigmoid())
    X = torch.from_numpy(encode(grid(*img.shape[:2]), {"kind": "plain"}))
    T = torch.from_numpy(img.reshape(-1, 3).copy())
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    epochs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for idx in torch.randperm(len(X)).split(BATCH):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(X[idx]), T[idx])
            loss.backward()
            opt.step()
        epochs += 1
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        mse = float(torch.mean((model(X) - T) ** 2))
    return epochs * len(X) / elapsed, elapsed / epochs, 10 * np.log10(1 / mse)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="wall time per contender")
    a = ap.parse_args()
    img = photo(256)
    ours = [("(b) morphlib", morphlib_fit), ("(b) numpy BLAS threads", numpy_threads_fit),
            ("(b) 1 BLAS thread", one_thread_fit)]
    rows = [("(a) per-pixel book loop", book_loop(img, a.seconds))]
    rows += [(name, fit(img, a.seconds)) for name, fit in ours]
    rows.append(("(c) PyTorch CPU, 1 thread", torch_fit(img, a.seconds)))
    with busy():
        rows += [(f"loaded: {name}", fit(img, a.seconds)) for name, fit in ours]
    print(f"\n256x256 photo, H={H}, sigmoid, {a.seconds:g} s each; loaded: a spinning process on every core")
    print(f"{'':36s} {'pixels/s':>12s} {'s/epoch':>9s} {'PSNR dB':>8s}")
    for name, (pps, spe, db) in rows:
        print(f"{name:36s} {pps:12,.0f} {spe:9.3f} {db:8.2f}")
    (a_pps, _, _), (b_pps, b_spe, _), *_, (_, c_spe, _), (_, lb, _), (_, ln, _), (_, l1, _) = (r for _, r in rows)
    print(f"\nmorphlib / book loop, pixels/s: {b_pps / a_pps:.1f}x (target >= 15x)")
    torch_note = "" if c_spe == c_spe else "; torch is not installed: pip install -e .[bench]"
    print(f"morphlib s/epoch / PyTorch s/epoch: {b_spe / c_spe:.2f} (target <= 1.2{torch_note})")
    print(f"loaded, s/epoch: morphlib {lb:.3f}, numpy BLAS threads {ln:.3f}, 1 BLAS thread {l1:.3f} "
          "(target: morphlib <= 1 BLAS thread)")

if __name__ == "__main__":
    main()
