"""Pixel-centre grids and input encodings of pixel coordinates: the seed's (x, y, 1), the original project's,
and Fourier features."""
import numpy as np
from array_api_compat import array_namespace

from .backend import NUMPY
from .errors import MorphError

KINDS = ("plain", "legacy", "fourier")
FEATURES, SIGMA, FEATURE_SEED = 256, 10.0, 0  # Fourier defaults: frequencies B ~ N(0, SIGMA^2), drawn from the seed


def check_size(size):
    """(width, height) of positive ints, or a clear error."""
    if isinstance(size, int):
        size = (size, size)
    w, h = (int(s) for s in size)
    if w <= 0 or h <= 0:
        raise MorphError(f"size {w}x{h} is not a picture size: give positive width and height, e.g. 512")
    return w, h


def centres(n: int, xp=NUMPY):
    """Pixel-centre coordinates in [0, 1] of n pixels along one axis, an array of namespace `xp`."""
    return (xp.arange(n, dtype=xp.float32) + 0.5) / n


def grid(height: int, width: int, *, xp=NUMPY):
    """Pixel-centre coordinates (x, y) in [0, 1], shape (height*width, 2), row-major."""
    w, h = check_size((width, height))
    xx, yy = xp.meshgrid(centres(w, xp), centres(h, xp))
    return xp.stack([xp.reshape(xx, (-1,)), xp.reshape(yy, (-1,))], axis=1)


def make_encoding(kind="plain", *, features=FEATURES, sigma=SIGMA, seed=FEATURE_SEED) -> dict:
    """An encoding spec. Fourier ones carry their frequency matrix B, drawn once from `seed`."""
    if kind not in KINDS:
        raise MorphError(f"unknown encoding {kind!r}: use one of {', '.join(KINDS)}")
    if kind != "fourier":
        return {"kind": kind}
    rng = np.random.default_rng(seed)
    B = rng.normal(0.0, sigma, size=(2, int(features))).astype(np.float32)
    return {"kind": "fourier", "features": int(features), "sigma": float(sigma), "seed": int(seed), "B": B}


def input_size(enc: dict) -> int:
    return 2 * enc["features"] if enc["kind"] == "fourier" else 3


def encode(xy, enc: dict):
    """Net inputs for coordinates `xy` (N, 2) in [0, 1], in xy's array namespace."""
    xp, n = array_namespace(xy), xy.shape[0]
    if enc["kind"] != "fourier":
        x, y, one = xy[:, :1], xy[:, 1:2], xp.ones((n, 1), dtype=xy.dtype)
    if enc["kind"] == "plain":
        return xp.concat([x, y, one], axis=1)
    if enc["kind"] == "legacy":  # the original project's inputs: (row/h + 0.1, col/w + 0.1, 1)
        return xp.concat([y + 0.1, x + 0.1, one], axis=1)
    proj = xy @ xp.asarray(enc["B"], dtype=xy.dtype)
    proj *= 2 * np.pi
    if not isinstance(proj, np.ndarray):
        return xp.concat([xp.sin(proj), xp.cos(proj)], axis=1)
    out = np.empty((n, 2 * enc["features"]), np.float32)
    np.sin(proj, out=out[:, :enc["features"]])
    np.cos(proj, out=out[:, enc["features"]:])
    return out


def same_encoding(a: dict, b: dict) -> bool:
    if a["kind"] != b["kind"]:
        return False
    return a["kind"] != "fourier" or np.array_equal(a["B"], b["B"])


def describe(enc: dict) -> str:
    if enc["kind"] == "fourier":
        return f"fourier({enc['features']} features, sigma {enc['sigma']:g}, seed {enc['seed']})"
    return enc["kind"]
