"""TEMPORARY until the lead's split lands: rendering at warped coordinates (appended to render.py at the merge)."""
import numpy as np
from array_api_compat import array_namespace

from . import checks
from .backend import NUMPY, RENDER_CHUNK, kind, namespace, to_host
from .encoding import FULL, encode, positions
from .errors import MorphError
from .mlp import Net, _buffers, _layers, _mix, interpolate, render_morph  # noqa: F401
from .mlp import _render_layers as _fold
from .threads import one_blas_thread

BLENDS = {  # how render_warped makes a frame of two nets, each at its warped points
    "colour": "a cross-fade of the two nets' pictures, each drawn at its warped points",
    "weights": "the nets' first layers at their warped points mixed, then the mixed weights (the seed's way)",
}
BLEND = "colour"  # chosen by bench.morph (README, "Morphs that move")


@one_blas_thread
def render_warped(a: Net, b: Net, ts, maps, height: int, width: int = None, *, blend="colour", window=(FULL, FULL),
                  band=None, chunk=None, device=None, uint8=False, rounding=True) -> np.ndarray:
    """Frames t of link A -> B moved by a warp, a numpy (len(ts), height, width, 3) array: maps(t, xy) gives
    where frame t's points xy (N, 2, picture coordinates, numpy) lie in A and in B, and each net is rendered
    there (render_at). blend "colour": (1 - t) A + t B of the two renders (clipped to [0, 1] past the ends);
    "weights": the two first layers' pre-activations mixed the same way, then the other layers of the net t of
    the way from A to B. Exactly A's picture at t = 0 and B's at t = 1 when the maps are the identity there.
    Other options as render_morph's."""
    if blend not in BLENDS:
        raise MorphError(f"unknown blend {blend!r}: use one of {', '.join(BLENDS)}")
    width = height if width is None else width
    w, h = checks.size("size", (width, height))
    xp = a.xp if device is None else namespace(device)
    ts = [float(np.float32(t)) for t in ts]
    ends = [_fold(n.to(xp)) for n in (a, b)]
    mixed = [_fold(interpolate(a, b, t).to(xp)) for t in ts] if blend == "weights" else None
    enc, xs = a.encoding, positions(w, a.encoding, NUMPY, window=window[0])
    r0, r1 = band or (0, h)
    ys = positions(h, enc, NUMPY, window=window[1])[r0:r1]
    n = ys.shape[0]
    out = xp.empty((len(ts), n, w, 3), dtype=xp.uint8 if uint8 else xp.float32)
    rows = max(1, (chunk or RENDER_CHUNK[kind(xp)]) // w)
    spare = _buffers(xp, rows * w, [W.shape[1] for W, *_ in ends[0]])
    for r in range(0, n, rows):
        yy, xx = np.meshgrid(ys[r:min(r + rows, n)], xs, indexing="ij")
        xy = np.stack([xx.ravel(), yy.ravel()], axis=1)
        for i, t in enumerate(ts):
            za, zb = (_first_at(layers, enc, xp.asarray(p)) for layers, p in zip(ends, maps(t, xy)))
            if blend == "weights":
                rgb = _layers(_mix(za, zb - za, zb, t, None), mixed[i], spare)
            else:
                rgb = _blend(_layers(za, ends[0], spare) * 1.0, _layers(zb, ends[1], spare), t)
            if uint8:
                rgb = xp.astype(rgb * 255.0 + (0.5 if rounding else 0.0), xp.uint8)
            out[i, r:min(r + rows, n), ...] = xp.reshape(rgb, (-1, w, 3))
    return to_host(out)


def _first_at(layers, enc, xy):
    """A folded net's first-layer pre-activations at points xy (N, 2): its inputs there times W1, plus b1."""
    W1, b1, _ = layers[0]
    z = encode(xy, enc) @ W1
    if b1 is not None:
        z += b1
    return z


def _blend(ca, cb, t):
    """(1 - t) ca + t cb (a fresh array: `cb` may be a buffer), exactly each at its end; clipped to [0, 1] past
    them."""
    xp = array_namespace(ca)
    if t in (0.0, 1.0):
        return ca if t == 0 else cb * 1.0
    out = ca * (1 - t) + cb * t
    return out if 0 < t < 1 else xp.clip(out, 0.0, 1.0)


@one_blas_thread
def render_at(net: Net, xy, *, device=None, chunk=None) -> np.ndarray:
    """The net's colours at points xy (N, 2) of [0, 1] picture coordinates (anywhere: the net is a function of
    (x, y)), a float32 numpy (N, 3) array, computed on `device` in blocks of `chunk` points."""
    xp = net.xp if device is None else namespace(device)
    layers, xy = _fold(net.to(xp)), np.asarray(xy, np.float32).reshape(-1, 2)
    step = chunk or RENDER_CHUNK[kind(xp)]
    spare = _buffers(xp, step, [W.shape[1] for W, *_ in layers])
    out = np.empty((xy.shape[0], 3), np.float32)
    for i in range(0, xy.shape[0], step):
        z = _first_at(layers, net.encoding, xp.asarray(xy[i:i + step]))
        out[i:i + step] = to_host(_layers(z, layers, spare))
    return out
