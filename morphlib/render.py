"""Rendering nets at any size: a net's picture, a link's frames (the first layer shared between frames), in
blocks of rows that reuse their arrays; and the one measure of a net against a picture (fit_error)."""
import numpy as np
from array_api_compat import array_namespace

from . import checks
from .backend import NUMPY, RENDER_CHUNK, kind, namespace, to_host
from .encoding import ENCODINGS, FULL, encode, learned, positions
from .net import ACTIVATIONS, Net, inputs, interpolate
from .threads import one_blas_thread


def _fold(net: Net):
    """The net's layers as (W, b or None, activation), rewritten by its activation's fold for fewer passes."""
    return ACTIVATIONS[net.activation].fold(net)


def render(net: Net, height: int, width: int = None, *, window=(FULL, FULL), chunk=None, device=None, uint8=False,
           rounding=True) -> np.ndarray:
    """The net's picture at any size, a numpy (height, width, 3) array: float32 in [0, 1], or with uint8=True
    bytes (as images.to_uint8 makes them, rounding=False truncating like the original; made on the device: 4x
    less to copy). `window` = (x, y): the (lo, hi) of the picture's coordinates to show (default: all of it).
    Computed on `device` (default: where the net's weights are) in blocks of `chunk` pixels (default:
    RENDER_CHUNK of the device), copied once."""
    checks.instance("net", net, Net, "a Net (init_net, load_net and train make them)")
    window, chunk = checks.window("window", window), checks.optional(checks.whole, "chunk", chunk, 1, checks.MAX_PIXELS)
    uint8, rounding = checks.flag("uint8", uint8), checks.flag("rounding", rounding)
    return render_morph(net, None, [0.0], height, width, window=window, chunk=chunk, device=device, uint8=uint8,
                        rounding=rounding)[0]


@one_blas_thread
def render_morph(a: Net, b: Net, ts, height: int, width: int = None, *, window=(FULL, FULL), band=None, chunk=None,
                 device=None, uint8=False, rounding=True) -> np.ndarray:
    """Frames t of the way from net A to net B for each t of `ts`, a numpy (len(ts), height, width, 3) array (B
    None: A's picture, ts [0]): the net t of the way from A to B (interpolate), its first layer's pre-activations
    over a block of rows computed once for A and B and mixed per frame, z1(t) = z1A + t (z1B - z1A), where that
    layer costs most (exact at both ends). For Fourier nets that is exactly render(interpolate(a, b, t)), to float32
    rounding: their inputs are fixed. A hash grid's inputs are learned tables: the mix of the two first layers is
    not the first layer of the mixed net, whose mixed tables read by mixed weights would pass A's features through
    B's weights (a less even morph: README, "Learning fast"); it is what render_warped's "weights" blend makes.
    Other nets' first layers are cheap and made from the mixed weights. `band` (r0, r1): only those rows of the
    frames (the same pixels as in the whole; a worker's share). Other options as render's."""
    xp, ts, xs, ys, rows = _blocks(a, ts, height, width, window=window, band=band, chunk=chunk, device=device)
    w, n, enc = xs.shape[0], ys.shape[0], a.encoding
    nets = [(a if b is None else interpolate(a, b, t)).to(xp) for t in ts]
    mixed = [_fold(net) for net in nets]  # the first layers of Fourier and hash grid nets: shared, mixed below
    shared = b is not None and not ENCODINGS[enc["kind"]].affine
    firsts = [_first_layer(net, *_fold(net)[0][:2], xs) for net in (a.to(xp), b.to(xp))] if shared else \
        [_first_layer(net, W1, b1, xs) for net, ((W1, b1, _), *_) in zip(nets, mixed)]
    out = xp.empty((len(mixed), n, w, 3), dtype=xp.uint8 if uint8 else xp.float32)
    spare = _buffers(xp, rows * w, [W.shape[1] for W, *_ in mixed[0]])
    for r in range(0, n, rows):
        y = ys[r:min(r + rows, n)]
        za, zb = (first(y) for first in firsts) if shared else (None, None)
        step = zb - za if shared else None
        for i, (t, layers) in enumerate(zip(ts, mixed)):
            z1 = _mix(za, step, zb, t, spare[0]) if shared else firsts[i](y)
            a3 = _bytes(_layers(z1, layers, spare), uint8, rounding)  # a sigmoid's, in [0, 1]: no clipping
            out[i, r:min(r + rows, n), ...] = xp.reshape(a3, (-1, w, 3))
    return to_host(out)


def _blocks(a: Net, ts, height, width, *, window, band, chunk, device, coords=None):
    """What the frame renderers share: (namespace, ts as the float32 values the frames are made at, the columns'
    and the band's rows' coordinates in `coords` (default: the namespace), rows per block)."""
    width = height if width is None else width
    w, h = checks.size("size", (width, height))
    xp = a.xp if device is None else namespace(device)
    coords = coords or xp
    xs = positions(w, a.encoding, coords, window=window[0])
    r0, r1 = band or (0, h)
    ys = positions(h, a.encoding, coords, window=window[1])[r0:r1]
    return xp, [float(np.float32(t)) for t in ts], xs, ys, max(1, (chunk or RENDER_CHUNK[kind(xp)]) // w)


def _layers(z1, layers, spare):
    """The net's output from its first layer's pre-activations z1, the products written into `spare`."""
    a = layers[0][2](z1)
    for (W, bias, act), into in zip(layers[1:], spare[1:]):
        a = _matmul(a, W, into)
        if bias is not None:
            a += bias
        a = act(a)
    return a


def _buffers(xp, n, widths):
    """Arrays of n rows per layer width for numpy's in-place calls to fill, block after block (a fresh result per
    block, a few hundred kB, costs more in page faults than the product itself); None elsewhere."""
    return [np.empty((n, k), np.float32) if xp is NUMPY else None for k in widths]


def _matmul(a, W, into):
    """a @ W, written into the first rows of `into` when there is one."""
    return a @ W if into is None else np.matmul(a, W, out=into[:a.shape[0]])


def _mix(za, step, zb, t, into):
    """za + t * step (step = zb - za), exactly za at t = 0 and zb at t = 1: a fresh array, or `into`'s first rows."""
    if into is None:
        return za if t == 0 else zb if t == 1 else za + t * step
    into = into[:za.shape[0]]
    if t in (0, 1):
        into[...] = zb if t else za
        return into
    np.multiply(step, t, out=into)
    into += za
    return into


def _first_layer(net: Net, W1, b1, xs):
    """A function of row coordinates ys giving the net's inputs times W1 (its folded one) plus b1 over the grid
    ys x xs, flattened row-major; what the columns share is computed once. Fourier features skip the per-pixel
    sin/cos: sin(a + b) = sin a cos b + cos a sin b, so each row is its columns' features times a matrix of its
    own. Learned tables are read at every pixel."""
    xp, enc = array_namespace(W1), net.encoding
    if learned(enc):
        def read(ys):
            yy, xx = xp.meshgrid(ys, xs, indexing="ij")
            return _affine(inputs(net, xp.stack([xp.reshape(xx, (-1,)), xp.reshape(yy, (-1,))], axis=1)), W1, b1)
        return read
    if ENCODINGS[enc["kind"]].affine:  # inputs affine in (x, y): f(x, y) = f(x, 0) + f(0, y) - f(0, 0)
        z = lambda x, y: encode(xp.stack([x, y], axis=1), enc) @ W1  # noqa: E731
        zero = xp.zeros(1, dtype=xp.float32)
        cols, base = z(xs, xp.zeros_like(xs)), b1 - z(zero, zero)

        def rows_of(ys):
            rows = z(xp.zeros_like(ys), ys) + base
            return xp.reshape(rows[:, None, :] + cols[None, :, :], (-1, W1.shape[1]))
        return rows_of
    f, two_pi, B = enc["features"], 2 * np.pi, xp.asarray(enc["B"])
    a = two_pi * xs[:, None] * B[0, :]
    cols = xp.concat([xp.sin(a), xp.cos(a)], axis=1)
    Ws, Wc = W1[:f, :], W1[f:, :]

    def rows_of(ys):
        b = two_pi * ys[:, None] * B[1, :]
        sb, cb = xp.sin(b)[:, :, None], xp.cos(b)[:, :, None]
        per_row = xp.concat([cb * Ws - sb * Wc, sb * Ws + cb * Wc], axis=1)
        out = xp.reshape(cols @ per_row, (-1, W1.shape[1]))
        out += b1
        return out
    return rows_of


def psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else float(10 * np.log10(1.0 / mse))


def fit_error(net: Net, image) -> float:
    """PSNR (dB) of the net's render against `image`."""
    return picture_psnr(render(net, *image.shape[:2]), image)


def picture_psnr(out, image) -> float:
    """PSNR (dB) of a rendered picture `out` against `image`: fit_error's measure, for a render already made."""
    return psnr(float(np.mean((out - to_host(image)) ** 2)))


BLENDS = {  # how render_warped makes a frame of two nets, each at its warped points
    "colour": "a cross-fade of the two nets' pictures, each drawn at its warped points",
    "weights": "the nets' first layers at their warped points mixed, then the mixed weights (the seed's way)",
}
BLEND = "colour"  # chosen by bench.morph (README, "Morphs that move")


def render_warped(a: Net, b: Net, ts, maps, height: int, width: int = None, *, blend="colour", window=(FULL, FULL),
                  band=None, chunk=None, device=None, uint8=False, rounding=True) -> np.ndarray:
    """Frames t of link A -> B moved by a warp, a numpy (len(ts), height, width, 3) array: maps(t, xy) gives
    where frame t's points xy (N, 2, picture coordinates, numpy) lie in A and in B, and each net is drawn there.
    blend "colour": (1 - t) A + t B of the two pictures (clipped to [0, 1] past the ends); "weights": the two
    first layers' pre-activations mixed the same way, then the other layers of the net t of the way from A to B.
    maps None: nothing moves (a cross-fade of the two pictures, or render_morph's weight morph). Exactly A's
    picture at t = 0 and B's at t = 1 when the maps are the identity there. Other options as render_morph's."""
    checks.choice("blend", blend, BLENDS)
    options = dict(window=window, band=band, chunk=chunk, device=device)
    if maps is None and blend == "weights":
        return render_morph(a, b, ts, height, width, uint8=uint8, rounding=rounding, **options)
    if maps is None:
        ends = render_morph(a, b, [0.0, 1.0], height, width, **options)
        return np.stack([_bytes(_blend(*ends, float(np.float32(t))), uint8, rounding) for t in ts])
    return _warped(a, b, ts, maps, height, width, blend=blend, uint8=uint8, rounding=rounding, **options)


def _bytes(rgb, uint8, rounding):
    """A picture in [0, 1] as bytes (rounded, or truncated like the original), if asked."""
    xp = array_namespace(rgb)
    return xp.astype(rgb * 255.0 + (0.5 if rounding else 0.0), xp.uint8) if uint8 else rgb


@one_blas_thread
def _warped(a, b, ts, maps, height, width, *, blend, window, band, chunk, device, uint8, rounding):
    """render_warped's frames when something moves: each block of rows, each frame, both nets at their points."""
    xp, ts, xs, ys, rows = _blocks(a, ts, height, width, window=window, band=band, chunk=chunk, device=device,
                                   coords=NUMPY)
    w, n = xs.shape[0], ys.shape[0]
    nets = [net.to(xp) for net in (a, b)]
    ends = [_fold(net) for net in nets]
    mixed = [_fold(interpolate(a, b, t).to(xp)) for t in ts] if blend == "weights" else None
    out = xp.empty((len(ts), n, w, 3), dtype=xp.uint8 if uint8 else xp.float32)
    spare = _buffers(xp, rows * w, [W.shape[1] for W, *_ in ends[0]])
    for r in range(0, n, rows):
        yy, xx = np.meshgrid(ys[r:min(r + rows, n)], xs, indexing="ij")
        xy = np.stack([xx.ravel(), yy.ravel()], axis=1)
        for i, t in enumerate(ts):
            za, zb = (_first_at(layers, net, xp.asarray(p)) for layers, net, p in zip(ends, nets, maps(t, xy)))
            if blend == "weights":
                rgb = _layers(_mix(za, zb - za, zb, t, None), mixed[i], spare)
            else:
                rgb = _blend(_layers(za, ends[0], spare) * 1.0, _layers(zb, ends[1], spare), t)
            out[i, r:min(r + rows, n), ...] = xp.reshape(_bytes(rgb, uint8, rounding), (-1, w, 3))
    return to_host(out)


def _first_at(layers, net: Net, xy):
    """A folded net's first-layer pre-activations at points xy (N, 2): its inputs there times W1, plus b1."""
    return _affine(inputs(net, xy), *layers[0][:2])


def _affine(x, W, b):
    """x @ W + b (b None: none)."""
    z = x @ W
    if b is not None:
        z += b
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
    net, xy = net.to(xp), np.asarray(xy, np.float32).reshape(-1, 2)
    layers = _fold(net)
    step = chunk or RENDER_CHUNK[kind(xp)]
    spare = _buffers(xp, step, [W.shape[1] for W, *_ in layers])
    out = np.empty((xy.shape[0], 3), np.float32)
    for i in range(0, xy.shape[0], step):
        z = _first_at(layers, net, xp.asarray(xy[i:i + step]))
        out[i:i + step] = to_host(_layers(z, layers, spare))
    return out
