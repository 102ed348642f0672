"""A multiresolution hash encoding (Mueller et al., instant-ngp) in numpy, against learn's Fourier net, on a CPU.

A sketch written for this measure, not part of morphlib: LEVELS grids of TABLE entries of 2 features (sides 16 to
about 1000, the finer ones hashed), bilinear lookups, a 32 -> 64 -> 64 -> 3 relu net with a sigmoid out, Adam
(morphlib.optim) on the tables and the net, the tables' gradients gathered by np.bincount. Both learn img/4.png
(256x256) for the same seconds with one BLAS thread, the hash grid at each batch of BATCHES; printed: ms per step,
pixels per second, PSNR reached.  Usage: python -m bench.hashgrid [--seconds 30]
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from morphlib.backend import BATCH
from morphlib.encoding import grid
from morphlib.images import load_image
from morphlib.learn import Job, trained
from morphlib.optim import Adam
from morphlib.render import fit_error, psnr

from .learn import REPO

LEVELS, TABLE, FEATURES, WIDTH = 16, 1 << 14, 2, 64
SIDES = np.floor(16 * 1.26 ** np.arange(LEVELS)).astype(np.int64)  # 16 .. 508 cells a side
PRIME = 2654435761  # instant-ngp's second hash prime (the first is 1)
BATCHES = (1024, 4096)


def init(seed=0) -> dict:
    rng = np.random.default_rng(seed)
    he = lambda n, m: rng.normal(0, np.sqrt(2 / n), (n, m)).astype(np.float32)  # noqa: E731
    return {"tables": rng.uniform(-1e-4, 1e-4, (LEVELS * TABLE, FEATURES)).astype(np.float32),
            "W1": he(LEVELS * FEATURES, WIDTH), "W2": he(WIDTH, WIDTH), "W3": he(WIDTH, 3),
            "b1": np.zeros(WIDTH, np.float32), "b2": np.zeros(WIDTH, np.float32), "b3": np.zeros(3, np.float32)}


def lookups(xy):
    """Rows of the tables (4 corners, LEVELS, N) and their bilinear weights for coordinates xy (N, 2)."""
    p = xy[None] * SIDES[:, None, None]
    cell = np.floor(p).astype(np.int64)
    f = (p - cell).astype(np.float32)
    rows, weights = [], []
    for dx in (0, 1):
        for dy in (0, 1):
            x, y = cell[..., 0] + dx, cell[..., 1] + dy
            dense = (SIDES[:, None] + 1) ** 2 <= TABLE
            key = np.where(dense, x * (SIDES[:, None] + 1) + y, (x ^ (y * PRIME)) % TABLE)
            rows.append(key + np.arange(LEVELS)[:, None] * TABLE)
            weights.append((f[..., 0] if dx else 1 - f[..., 0]) * (f[..., 1] if dy else 1 - f[..., 1]))
    return np.stack(rows), np.stack(weights)


def step(p, xy, target):
    """Gradients of the mean squared error over the batch, and the error."""
    rows, w = lookups(xy)
    feats = np.einsum("clnf,cln->nlf", p["tables"][rows], w).reshape(len(xy), -1)
    h1 = np.maximum(feats @ p["W1"] + p["b1"], 0)
    h2 = np.maximum(h1 @ p["W2"] + p["b2"], 0)
    out = 1 / (1 + np.exp(-(h2 @ p["W3"] + p["b3"])))
    err = out - target
    d3 = err * out * (1 - out) / len(xy)
    d2 = (d3 @ p["W3"].T) * (h2 > 0)
    d1 = (d2 @ p["W2"].T) * (h1 > 0)
    dfeat = (d1 @ p["W1"].T).reshape(len(xy), LEVELS, FEATURES)
    per_row = w[..., None] * np.transpose(dfeat, (1, 0, 2))[None]  # (corner, level, n, feature)
    tables = np.stack([np.bincount(rows.ravel(), per_row[..., k].ravel(), LEVELS * TABLE)
                       for k in range(FEATURES)], axis=1).astype(np.float32)
    grads = {"tables": tables, "W3": h2.T @ d3, "W2": h1.T @ d2, "W1": feats.T @ d1,
             "b3": d3.sum(0), "b2": d2.sum(0), "b1": d1.sum(0)}
    return grads, float(np.mean(err * err))


def hash_fit(img, seconds, batch):
    xy, T = grid(*img.shape[:2]), img.reshape(-1, 3)
    p, opt, rng = init(), Adam(0.01), np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        idx = rng.integers(0, len(xy), batch)
        opt.step(p, step(p, xy[idx], T[idx])[0])
        steps += 1
    elapsed = time.perf_counter() - start
    mse = np.mean([np.mean((forward_all(p, xy[i:i + 8192]) - T[i:i + 8192]) ** 2) for i in range(0, len(xy), 8192)])
    return 1000 * elapsed / steps, steps * batch / elapsed, psnr(mse)


def forward_all(p, xy):
    rows, w = lookups(xy)
    feats = np.einsum("clnf,cln->nlf", p["tables"][rows], w).reshape(len(xy), -1)
    h = np.maximum(np.maximum(feats @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"], 0)
    return 1 / (1 + np.exp(-(h @ p["W3"] + p["b3"])))


def fourier_fit(img, seconds):
    start = time.perf_counter()
    result, _ = trained(Job(epochs=10**6), target=img, time_limit=seconds)
    elapsed, n = time.perf_counter() - start, img.shape[0] * img.shape[1]
    steps = len(result.history) * -(-n // BATCH["cpu"])
    return 1000 * elapsed / steps, len(result.history) * n / elapsed, fit_error(result.net, img)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds each (default %(default)s)")
    a = ap.parse_args()
    img = load_image(REPO / "img" / "4.png")
    with threadpool_limits(1):
        rows = [(f"hash grid, batch {b}", hash_fit(img, a.seconds, b)) for b in BATCHES]
        rows.append(("Fourier net, learn's defaults", fourier_fit(img, a.seconds)))
    print(f"\nimg/4.png (256x256), {a.seconds:g} s each, one BLAS thread; hash grid: {LEVELS} levels of {TABLE} x "
          f"{FEATURES}, net {LEVELS * FEATURES}-{WIDTH}-{WIDTH}-3")
    print(f"{'':32s} {'ms/step':>8s} {'pixels/s':>10s} {'PSNR dB':>8s}")
    for name, (ms, pps, db) in rows:
        print(f"{name:32s} {ms:8.2f} {pps:10,.0f} {db:8.2f}")


if __name__ == "__main__":
    main()
