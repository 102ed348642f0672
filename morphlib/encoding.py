"""Pixel-centre grids and input encodings of pixel coordinates, a table of kinds: the seed's (x, y, 1), the
original project's, and Fourier features."""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

from . import checks
from .backend import NUMPY
from .errors import MorphError

# Fourier defaults: frequencies B ~ N(0, FOURIER_SIGMA^2), drawn from FEATURE_SEED
FEATURES, FOURIER_SIGMA, FEATURE_SEED = 256, 10.0, 0
MAX_FOURIER_SIGMA = 10_000.0  # far past any use: at sigma 100 a 256 px picture is already noise


FULL = (0.0, 1.0)  # the whole picture along an axis
FITS = ("crop", "pad", "stretch")  # how a picture fills a frame of another shape
FIT = "crop"


def positions(n: int, enc: dict = None, xp=NUMPY, *, window=FULL):
    """Coordinates of n pixels tiling `window` (lo, hi) of [0, 1] along one axis, as `enc` takes them: pixel
    centres, or for the seed's net (kind "legacy") the original project's whole pixel indices. A window is a
    part of a bigger render: pixel k sits where pixel k + lo * n / (hi - lo) of that render does."""
    scale = n / (window[1] - window[0])  # pixels of the whole picture along this axis
    start = window[0] * scale + (0.5 if enc is None else ENCODINGS[enc["kind"]].offset)
    return (xp.arange(n, dtype=xp.float32) + start) / scale


def grid(height: int, width: int, enc: dict = None, *, xp=NUMPY):
    """Coordinates (x, y) in [0, 1] of every pixel, shape (height*width, 2), row-major: pixel centres, or what
    `enc` takes (see positions)."""
    w, h = checks.size("size", (width, height))
    xx, yy = xp.meshgrid(positions(w, enc, xp), positions(h, enc, xp))
    return xp.stack([xp.reshape(xx, (-1,)), xp.reshape(yy, (-1,))], axis=1)


def view(size, aspect=1.0, *, fit=FIT) -> tuple:
    """How a picture of `aspect` (width / height) fills a frame of `size` (width, height): (box, window) with box
    = (left, top, width, height), the part of the frame rendered (the rest is black), and window = (x, y), the
    (lo, hi) of the picture's coordinates that box shows. crop: the middle of the picture fills the frame; pad:
    the whole picture, black bars beside it; stretch: the whole picture, stretched to the frame."""
    if fit not in FITS:
        raise MorphError(f"unknown fit {fit!r}: use one of {', '.join(FITS)}")
    w, h = checks.size("size", size)
    wide = w / h / aspect  # > 1: the frame is wider than the picture
    if fit == "stretch" or wide == 1:
        return (0, 0, w, h), (FULL, FULL)
    if fit == "crop":
        lo = (1 - min(wide, 1 / wide)) / 2
        part = (lo, 1 - lo)
        return (0, 0, w, h), ((FULL, part) if wide > 1 else (part, FULL))
    inner = (max(1, round(h * aspect)), h) if wide > 1 else (w, max(1, round(w / aspect)))
    return ((w - inner[0]) // 2, (h - inner[1]) // 2, *inner), (FULL, FULL)


def make_encoding(kind="plain", *, features=FEATURES, sigma=FOURIER_SIGMA, seed=FEATURE_SEED) -> dict:
    """An encoding spec, by the name a user types (NAMES) or the kind stored in weights files. Fourier ones carry
    their frequency matrix B, drawn once from `seed`. "seed" (stored as kind "legacy") is the original project's
    net exactly: inputs (row/h + 0.1, col/w + 0.1, 1)."""
    kind = checks.choice("encoding", NAMES.get(kind, kind) if isinstance(kind, str) else kind, ENCODINGS, shown=NAMES)
    features = checks.whole("features", features, 1, checks.MAX_FEATURES)
    sigma = checks.real("sigma", sigma, above=0, high=MAX_FOURIER_SIGMA)
    seed = checks.whole("feature_seed", seed, 0)
    if kind != "fourier":
        return {"kind": kind}
    B = np.random.default_rng(seed).normal(0.0, sigma, size=(2, features)).astype(np.float32)
    return {"kind": "fourier", "features": features, "sigma": sigma, "seed": seed, "B": B}


def input_size(enc: dict) -> int:
    return ENCODINGS[enc["kind"]].inputs(enc)


def encode(xy, enc: dict):
    """Net inputs for coordinates `xy` (N, 2) in [0, 1] (from grid(h, w, enc) or positions(n, enc)),
    in xy's array namespace."""
    return ENCODINGS[enc["kind"]].encode(xy, enc)


def _with_one(xy, first, second):
    xp = array_namespace(xy)
    return xp.concat([first, second, xp.ones((xy.shape[0], 1), dtype=xy.dtype)], axis=1)


def _plain(xy, enc):
    return _with_one(xy, xy[:, :1], xy[:, 1:2])


def _legacy(xy, enc):
    """The original's inputs (row/h + 0.1, col/w + 0.1, 1), whole pixel indices."""
    return _with_one(xy, xy[:, 1:2] + 0.1, xy[:, :1] + 0.1)


ENCODE_ROWS = 1 << 16  # Fourier features made this many rows at a time on numpy


def _fourier(xy, enc):
    """(sin 2 pi xy B, cos 2 pi xy B); on numpy, ENCODE_ROWS rows at a time into the result (a whole picture's
    2 pi xy B at once would cost half the features' memory again: 1 GB at 1024x1024)."""
    xp = array_namespace(xy)
    B = xp.asarray(enc["B"], dtype=xy.dtype)
    if not isinstance(xy, np.ndarray):
        proj = xy @ B
        proj *= 2 * np.pi
        return xp.concat([xp.sin(proj), xp.cos(proj)], axis=1)
    f = enc["features"]
    out = np.empty((xy.shape[0], 2 * f), np.float32)
    for i in range(0, xy.shape[0], ENCODE_ROWS):
        proj = xy[i:i + ENCODE_ROWS] @ B
        proj *= 2 * np.pi
        np.sin(proj, out=out[i:i + ENCODE_ROWS, :f])
        np.cos(proj, out=out[i:i + ENCODE_ROWS, f:])
    return out


@dataclass(frozen=True)
class Encoding:
    """A kind of input encoding: its inputs per pixel, the encoding itself, where pixel k sits (k + offset, over
    the side), whether its inputs are affine in (x, y) (then a render builds a block's first layer from a row and
    a column), the activation and biases its nets get by default, whether its renders round (or truncate, as the
    original did), and how it is described."""

    inputs: Callable
    encode: Callable
    offset: float
    affine: bool
    activation: str
    biases: bool
    rounding: bool
    describe: Callable


ENCODINGS = {  # by the kind stored in weights files
    "plain": Encoding(lambda e: 3, _plain, 0.5, True, "sigmoid", False, True, lambda e: "plain"),
    "legacy": Encoding(lambda e: 3, _legacy, 0.0, True, "sigmoid", False, False,
                       lambda e: "seed (the original project's inputs)"),
    "fourier": Encoding(lambda e: 2 * e["features"], _fourier, 0.5, False, "relu", True, True,
                        lambda e: f"fourier({e['features']} features, sigma {e['sigma']:g}, seed {e['seed']})"),
}
NAMES = {"fourier": "fourier", "plain": "plain", "seed": "legacy"}  # what users type -> the kind it makes


def same_encoding(a: dict, b: dict) -> bool:
    if a["kind"] != b["kind"]:
        return False
    return "B" not in a or np.array_equal(a["B"], b["B"])


def describe(enc: dict) -> str:
    return ENCODINGS[enc["kind"]].describe(enc)
