"""Pixel-centre grids and input encodings of pixel coordinates: the seed's (x, y, 1), the original project's,
and Fourier features."""
import numpy as np
from array_api_compat import array_namespace

from . import checks
from .backend import NUMPY
from .errors import MorphError

KINDS = ("plain", "legacy", "fourier")  # as stored in weights files
NAMES = {"fourier": "fourier", "plain": "plain", "seed": "legacy"}  # what users type -> the kind it makes
FEATURES, SIGMA, FEATURE_SEED = 256, 10.0, 0  # Fourier defaults: frequencies B ~ N(0, SIGMA^2), drawn from the seed
MAX_SIGMA = 10_000.0  # far past any use: at sigma 100 a 256 px picture is already noise


def check_size(size):
    """(width, height) of positive ints, or a clear error."""
    return checks.size("size", size)


FULL = (0.0, 1.0)  # the whole picture along an axis
FITS = ("crop", "pad", "stretch")  # how a picture fills a frame of another shape
FIT = "crop"


def positions(n: int, enc: dict = None, xp=NUMPY, *, window=FULL):
    """Coordinates of n pixels tiling `window` (lo, hi) of [0, 1] along one axis, as `enc` takes them: pixel
    centres, or for the seed's net (kind "legacy") the original project's whole pixel indices. A window is a
    part of a bigger render: pixel k sits where pixel k + lo * n / (hi - lo) of that render does."""
    scale = n / (window[1] - window[0])  # pixels of the whole picture along this axis
    start = window[0] * scale + (0.0 if enc is not None and enc["kind"] == "legacy" else 0.5)
    return (xp.arange(n, dtype=xp.float32) + start) / scale


def grid(height: int, width: int, enc: dict = None, *, xp=NUMPY):
    """Coordinates (x, y) in [0, 1] of every pixel, shape (height*width, 2), row-major: pixel centres, or what
    `enc` takes (see positions)."""
    w, h = check_size((width, height))
    xx, yy = xp.meshgrid(positions(w, enc, xp), positions(h, enc, xp))
    return xp.stack([xp.reshape(xx, (-1,)), xp.reshape(yy, (-1,))], axis=1)


def view(size, aspect=1.0, *, fit=FIT) -> tuple:
    """How a picture of `aspect` (width / height) fills a frame of `size` (width, height): (box, window) with box
    = (left, top, width, height), the part of the frame rendered (the rest is black), and window = (x, y), the
    (lo, hi) of the picture's coordinates that box shows. crop: the middle of the picture fills the frame; pad:
    the whole picture, black bars beside it; stretch: the whole picture, stretched to the frame."""
    if fit not in FITS:
        raise MorphError(f"unknown fit {fit!r}: use one of {', '.join(FITS)}")
    w, h = check_size(size)
    wide = w / h / aspect  # > 1: the frame is wider than the picture
    if fit == "stretch" or wide == 1:
        return (0, 0, w, h), (FULL, FULL)
    if fit == "crop":
        lo = (1 - min(wide, 1 / wide)) / 2
        part = (lo, 1 - lo)
        return (0, 0, w, h), ((FULL, part) if wide > 1 else (part, FULL))
    inner = (max(1, round(h * aspect)), h) if wide > 1 else (w, max(1, round(w / aspect)))
    return ((w - inner[0]) // 2, (h - inner[1]) // 2, *inner), (FULL, FULL)


def make_encoding(kind="plain", *, features=FEATURES, sigma=SIGMA, seed=FEATURE_SEED) -> dict:
    """An encoding spec. Fourier ones carry their frequency matrix B, drawn once from `seed`.
    "seed" (stored as kind "legacy") is the original project's net exactly: inputs (row/h + 0.1, col/w + 0.1, 1)."""
    kind = NAMES.get(kind, kind)
    if kind not in KINDS:
        raise MorphError(f"unknown encoding {kind!r}: use one of {', '.join(NAMES)}")
    features = checks.whole("features", features, 1, checks.MAX_FEATURES)
    sigma = checks.real("sigma", sigma, above=0, high=MAX_SIGMA)
    seed = checks.whole("feature_seed", seed, 0)
    if kind != "fourier":
        return {"kind": kind}
    B = np.random.default_rng(seed).normal(0.0, sigma, size=(2, features)).astype(np.float32)
    return {"kind": "fourier", "features": features, "sigma": sigma, "seed": seed, "B": B}


def input_size(enc: dict) -> int:
    return 2 * enc["features"] if enc["kind"] == "fourier" else 3


def encode(xy, enc: dict):
    """Net inputs for coordinates `xy` (N, 2) in [0, 1] (from grid(h, w, enc) or positions(n, enc)),
    in xy's array namespace."""
    xp, n = array_namespace(xy), xy.shape[0]
    if enc["kind"] != "fourier":
        x, y, one = xy[:, :1], xy[:, 1:2], xp.ones((n, 1), dtype=xy.dtype)
    if enc["kind"] == "plain":
        return xp.concat([x, y, one], axis=1)
    if enc["kind"] == "legacy":  # the original's inputs (row/h + 0.1, col/w + 0.1, 1), whole pixel indices
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
    return "seed (the original project's inputs)" if enc["kind"] == "legacy" else enc["kind"]
