"""Pixel-centre grids and input encodings of pixel coordinates, a table of kinds: the seed's (x, y, 1), the
original project's, Fourier features, and a multiresolution hash grid (features learned in tables)."""
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
# Hash grid (Mueller et al., instant-ngp): LEVELS grids from COARSEST to FINEST cells a side, each read from a table
# of TABLE rows of PER_LEVEL learned features (a finer grid than the table holds is hashed into it); net inputs:
# every level's features at the point, interpolated between its cell's 4 corners (bench/learn.py chose them)
HASH_GRID = {"levels": 16, "table": 1 << 14, "per_level": 2, "coarsest": 16, "finest": 512}
PRIME = 2654435761  # instant-ngp's hash: x xor (y * PRIME), modulo the table
TABLE_INIT = 1e-4  # a fresh table's features: uniform in +-TABLE_INIT


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
    if kind == "hashgrid":
        return {"kind": kind, **HASH_GRID}
    if kind != "fourier":
        return {"kind": kind}
    B = np.random.default_rng(seed).normal(0.0, sigma, size=(2, features)).astype(np.float32)
    return {"kind": "fourier", "features": features, "sigma": sigma, "seed": seed, "B": B}


def input_size(enc: dict) -> int:
    """Inputs of a net's first layer (W1's rows)."""
    return ENCODINGS[enc["kind"]].inputs(enc)


def columns(enc: dict) -> int:
    """Columns per pixel of encode()'s output."""
    row = ENCODINGS[enc["kind"]]
    return (row.columns or row.inputs)(enc)


def encode(xy, enc: dict):
    """What `enc` makes of coordinates `xy` (N, 2) in [0, 1] (from grid(h, w, enc) or positions(n, enc)), in xy's
    array namespace: the net inputs, or for an encoding with learned tables where to read them (features())."""
    return ENCODINGS[enc["kind"]].encode(xy, enc)


def features(encoded, enc: dict, params: dict):
    """The net inputs of encode()'s output: itself, or the features a net's learned tables (`params`) hold there."""
    read = ENCODINGS[enc["kind"]].features
    return encoded if read is None else read(encoded, enc, params)


def learned(enc: dict) -> dict:
    """Shapes of the arrays the encoding learns with the net (its tables), by name; {} for fixed inputs."""
    return ENCODINGS[enc["kind"]].learned(enc)


def learned_gradients(encoded, enc: dict, params: dict, d_features) -> dict:
    """Gradients of the learned tables, by name, from the gradient of the net inputs they gave (features())."""
    return ENCODINGS[enc["kind"]].gradients(encoded, enc, params, d_features)


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


def _sides(enc) -> np.ndarray:
    """Cells a side of each level of a hash grid, growing geometrically from the coarsest to the finest."""
    growth = (enc["finest"] / enc["coarsest"]) ** (1 / max(1, enc["levels"] - 1))
    return np.floor(enc["coarsest"] * growth ** np.arange(enc["levels"])).astype(np.int64)


def _valid_grid(enc) -> bool:
    """A hash grid's sizes as the lookups need them: whole numbers, every table row exact in float32 (2^24)."""
    sizes = [enc.get(k) for k in HASH_GRID]
    return (all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1 << 24 for v in sizes)
            and enc["levels"] * enc["table"] <= 1 << 24 and enc["coarsest"] <= enc["finest"])


def _hash_lookup(xy, enc):
    """For each point, the table rows of its cell's 4 corners at every level, then their bilinear weights: one
    array (N, 8 levels) of xy's dtype (rows are exact in float32: under 2^24). Points outside [0, 1] take the
    edge's. On numpy ENCODE_ROWS points at a time into the result (at once, a 1024x1024 picture's temporaries
    would take 2 GB)."""
    if isinstance(xy, np.ndarray) and xy.shape[0] > ENCODE_ROWS:
        out = np.empty((xy.shape[0], 8 * enc["levels"]), xy.dtype)
        for i in range(0, xy.shape[0], ENCODE_ROWS):
            out[i:i + ENCODE_ROWS] = _hash_lookup(xy[i:i + ENCODE_ROWS], enc)
        return out
    xp = array_namespace(xy)
    sides = xp.asarray(_sides(enc))
    p = xp.clip(xy, 0.0, 1.0)[:, None, :] * xp.astype(sides, xy.dtype)[None, :, None]  # (N, levels, 2)
    cell = xp.minimum(xp.astype(xp.floor(p), xp.int64), (sides - 1)[None, :, None])
    f = p - xp.astype(cell, xy.dtype)
    width, table = sides + 1, enc["table"]
    dense = width * width <= table  # coarse levels: one row per corner
    base = xp.arange(enc["levels"], dtype=xp.int64) * table
    rows, weights = [], []
    for dx, dy in ((0, 0), (0, 1), (1, 0), (1, 1)):
        x, y = cell[..., 0] + dx, cell[..., 1] + dy
        hashed = xp.remainder(xp.bitwise_xor(x, y * PRIME), table)
        rows.append(xp.where(dense[None, :], x * width[None, :] + y, hashed) + base[None, :])
        weights.append((f[..., 0] if dx else 1 - f[..., 0]) * (f[..., 1] if dy else 1 - f[..., 1]))
    return xp.concat([xp.astype(xp.concat(rows, axis=1), xy.dtype), xp.concat(weights, axis=1)], axis=1)


def _hash_parts(encoded, enc):
    """(rows (N * 4 * levels,) int64, weights (N, 4, levels, 1)) of a lookup made by _hash_lookup."""
    xp = array_namespace(encoded)
    n, k = encoded.shape[0], 4 * enc["levels"]
    rows = xp.reshape(xp.astype(encoded[:, :k], xp.int64), (-1,))
    return rows, xp.reshape(encoded[:, k:], (n, 4, enc["levels"], 1))


def _hash_features(encoded, enc, params):
    """Each point's features: every level's 4 corners' rows of the tables, weighted, (N, levels * per_level)."""
    xp = array_namespace(encoded)
    rows, weights = _hash_parts(encoded, enc)
    n, levels, f = encoded.shape[0], enc["levels"], enc["per_level"]
    corners = xp.reshape(xp.take(params["tables"], rows, axis=0), (n, 4, levels, f))
    return xp.reshape(xp.sum(corners * weights, axis=1), (n, levels * f))


def _hash_gradients(encoded, enc, params, d_features) -> dict:
    """The tables' gradient from the features' (N, levels * per_level): each corner's share, summed per row."""
    xp = array_namespace(encoded)
    rows, weights = _hash_parts(encoded, enc)
    n, levels, f = encoded.shape[0], enc["levels"], enc["per_level"]
    shares = xp.reshape(weights * xp.reshape(d_features, (n, 1, levels, f)), (-1, f))
    return {"tables": _summed(rows, shares, params["tables"].shape[0])}


def _summed(index, values, size):
    """Rows of `values` (M, F) summed by `index` (M,) into (size, F): bincount where the namespace has one, else
    from the sorted running sum (array-API functions only)."""
    xp = array_namespace(values)
    if hasattr(xp, "bincount"):
        return xp.stack([xp.astype(xp.bincount(index, weights=values[:, k], minlength=size), values.dtype)
                         for k in range(values.shape[1])], axis=1)
    order = xp.argsort(index)
    index, values = xp.take(index, order), xp.astype(xp.take(values, order, axis=0), xp.float64)
    total = xp.concat([xp.zeros((1, values.shape[1]), dtype=xp.float64), xp.cumulative_sum(values, axis=0)])
    every = xp.arange(size, dtype=index.dtype)
    ends = [xp.take(total, xp.searchsorted(index, every, side=side), axis=0) for side in ("left", "right")]
    return xp.astype(ends[1] - ends[0], xp.float32)


@dataclass(frozen=True)
class Encoding:
    """A kind of input encoding: its inputs per pixel, the encoding itself, where pixel k sits (k + offset, over
    the side), whether its inputs are affine in (x, y) (then a render builds a block's first layer from a row and
    a column), the activation and biases its nets get by default, whether its renders round (or truncate, as the
    original did), and how it is described; for an encoding that learns tables with the net, their shapes, the
    net inputs read from them (features) and their gradients."""

    inputs: Callable
    encode: Callable
    offset: float
    affine: bool
    activation: str
    biases: bool
    rounding: bool
    describe: Callable
    learned: Callable = lambda enc: {}
    valid: Callable = lambda enc: True  # sizes read from a file are usable
    features: Callable = None
    gradients: Callable = None
    columns: Callable = None  # encode()'s columns per pixel, when not the net's inputs


ENCODINGS = {  # by the kind stored in weights files
    "plain": Encoding(lambda e: 3, _plain, 0.5, True, "sigmoid", False, True, lambda e: "plain"),
    "legacy": Encoding(lambda e: 3, _legacy, 0.0, True, "sigmoid", False, False,
                       lambda e: "seed (the original project's inputs)"),
    "fourier": Encoding(lambda e: 2 * e["features"], _fourier, 0.5, False, "relu", True, True,
                        lambda e: f"fourier({e['features']} features, sigma {e['sigma']:g}, seed {e['seed']})"),
    "hashgrid": Encoding(lambda e: e["levels"] * e["per_level"], _hash_lookup, 0.5, False, "relu", True, True,
                         lambda e: f"hashgrid({e['levels']} levels of {e['table']} x {e['per_level']}, "
                                   f"{e['coarsest']} to {e['finest']} cells)",
                         learned=lambda e: {"tables": (e["levels"] * e["table"], e["per_level"])}, valid=_valid_grid,
                         features=_hash_features, gradients=_hash_gradients, columns=lambda e: 8 * e["levels"]),
}
NAMES = {"fourier": "fourier", "hashgrid": "hashgrid", "plain": "plain", "seed": "legacy"}  # typed -> kind made


def same_encoding(a: dict, b: dict) -> bool:
    if a["kind"] != b["kind"]:
        return False
    return np.array_equal(a["B"], b["B"]) if "B" in a else a == b


def typed(enc: dict) -> str:
    """The name a user types (NAMES) for the encoding's kind."""
    return next(name for name, kind in NAMES.items() if kind == enc["kind"])


def describe(enc: dict) -> str:
    return ENCODINGS[enc["kind"]].describe(enc)
