"""Pictures with known correspondences for bench.morph: each picture against itself under a similarity and under a
smooth non-rigid warp, the ideal middle frame of each pair, a second portrait for the face pair, and nets learned
for all of them (cached under bench/.cache/, which git ignores)."""
from pathlib import Path

import matplotlib
import numpy as np
from scipy.ndimage import map_coordinates

from morphlib.encoding import make_encoding
from morphlib.images import load_image, resize
from morphlib.learn import Job, trained
from morphlib.net import init_net
from morphlib.render import fit_error
from morphlib.train import train
from morphlib.weights import load_net, save_net

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache" / "morph"
SAMPLES = Path(matplotlib.get_data_path()) / "sample_data"
SIDE = 160  # pictures and nets of the bench: small enough to learn a dozen nets in minutes on 2 cores
SOURCES = {"sunset": REPO / "img" / "1.png", "logo": REPO / "img" / "3.png",
           "hopper": SAMPLES / "grace_hopper.jpg", "gift": SAMPLES / "Minduka_Present_Blue_Pack.png"}
TURN, ZOOM, SHIFT = np.deg2rad(25.0), 1.25, (0.08, 0.08)  # the known similarity: turned, zoomed, shifted
BEND = 0.035  # amplitude of the non-rigid warp, in picture widths


def picture(name, side=SIDE) -> np.ndarray:
    """A bench picture, centre-cropped square, side x side float32 RGB."""
    rgb = load_image(SOURCES[name])
    h, w = rgb.shape[:2]
    s = min(h, w)
    top = (h - s) // 3 if name == "hopper" else (h - s) // 2  # Grace Hopper's face sits high in her portrait
    return resize(rgb[top:top + s, (w - s) // 2:(w - s) // 2 + s], (side, side))


def similarity(p):
    """The known similarity, A's point p (N, 2) -> its place in B: turned and zoomed about the centre, shifted."""
    c, r = np.array([0.5, 0.5]), np.array([[np.cos(TURN), -np.sin(TURN)], [np.sin(TURN), np.cos(TURN)]])
    return c + ZOOM * (p - c) @ r.T + np.array(SHIFT)


def bend(p):
    """The known smooth non-rigid warp, A's point -> its place in B (folds nowhere: its gradient is below 1)."""
    x, y = p[:, 0], p[:, 1]
    dx = BEND * np.sin(2 * np.pi * (0.9 * y + 0.1)) + 0.6 * BEND * np.sin(2 * np.pi * (1.3 * x + 0.3))
    dy = BEND * np.sin(2 * np.pi * (1.1 * x + 0.6)) - 0.6 * BEND * np.cos(2 * np.pi * (0.7 * y + 0.2))
    return p + np.stack([dx, dy], axis=1)


WARPS = {"similarity": similarity, "non-rigid": bend}


def inverse(f, q, steps=60):
    """p with f(p) = q, by fixed-point iteration p <- p - (f(p) - q) / 2 (f close enough to a similarity)."""
    p = q.copy()
    for _ in range(steps):
        p -= (f(p) - q) * 0.5
    return p


def sample(rgb, p) -> np.ndarray:
    """The picture at points p (N, 2) in [0, 1] (pixel centres), cubic, mirrored past the edges."""
    h, w = rgb.shape[:2]
    rows, cols = p[:, 1] * h - 0.5, p[:, 0] * w - 0.5
    return np.clip(np.stack([map_coordinates(rgb[..., c], [rows, cols], order=3, mode="mirror") for c in range(3)],
                            axis=1), 0, 1).astype(np.float32)


def pixel_grid(side) -> np.ndarray:
    c = (np.arange(side) + 0.5) / side
    xx, yy = np.meshgrid(c, c)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def warped(rgb, f) -> np.ndarray:
    """B = A moved by f: B(f(p)) = A(p)."""
    side = rgb.shape[0]
    return sample(rgb, inverse(f, pixel_grid(side))).reshape(side, side, 3)


def ideal_middle(rgb, f) -> np.ndarray:
    """The ideal middle frame: A's point p drawn halfway between p and f(p)."""
    return warped(rgb, lambda p: (p + f(p)) / 2)


def portrait_point(p):
    """Where Grace Hopper's point p sits in the second portrait: bent, then her head tilted 8 degrees, a little
    closer and to the left."""
    q, turn = bend(p), np.deg2rad(-8.0)
    r = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]) * 1.08
    return 0.5 + (q - 0.5) @ r.T + np.array([-0.04, 0.02])


def second_portrait(rgb) -> np.ndarray:
    """The face pair's second portrait: Grace Hopper in another pose (portrait_point) and a warmer print."""
    return np.clip(warped(rgb, portrait_point) * np.array([1.05, 0.92, 0.78], np.float32), 0, 1)


def exact_points(f, count=8) -> np.ndarray:
    """[[xa, ya, xb, yb], ...] on a count x count grid of A, each with its true place in B (inside both)."""
    c = np.linspace(0.08, 0.92, count)
    xx, yy = np.meshgrid(c, c)
    pa = np.stack([xx.ravel(), yy.ravel()], axis=1)
    pb = f(pa)
    keep = np.all((pb > 0.02) & (pb < 0.98), axis=1)
    return np.concatenate([pa[keep], pb[keep]], axis=1).astype(np.float32)


def net_for(key, rgb, how):
    """The net learned on `rgb` (shared start), from the cache when it is there. how = (encoding, epochs): a Fourier
    net of `epochs` at Adam 0.003 (the nets before learn's recipes), or a hash grid net by learn's defaults."""
    encoding, epochs = how
    path = CACHE / f"{key}-{rgb.shape[0]}-{encoding}-{epochs}.npz"
    if path.is_file():
        return load_net(path)[0]
    if encoding == "fourier":
        result = train(init_net(100, make_encoding("fourier"), seed=0), rgb, epochs=epochs, lr=0.003)
    else:
        result, _ = trained(Job(encoding=encoding), target=rgb)
    CACHE.mkdir(parents=True, exist_ok=True)
    save_net(result.net, path, psnr=round(fit_error(result.net, rgb), 3))
    return result.net


def load(x) -> np.ndarray:
    return load_image(x) if isinstance(x, (str, Path)) else x


# A user's clicks on Grace Hopper (eyes, glasses, nose, mouth, chin, cap, cheeks, collar, tie, shoulders, badges),
# each paired with its place in the second portrait (portrait_point): the face pair's points.
FACE = np.array([[0.41, 0.33], [0.58, 0.33], [0.33, 0.31], [0.68, 0.29], [0.51, 0.42], [0.44, 0.48], [0.58, 0.48],
                 [0.51, 0.57], [0.51, 0.07], [0.32, 0.17], [0.70, 0.17], [0.33, 0.40], [0.70, 0.38], [0.42, 0.68],
                 [0.62, 0.68], [0.52, 0.78], [0.10, 0.72], [0.92, 0.72], [0.24, 0.91], [0.77, 0.92]])


def face_points() -> np.ndarray:
    return np.concatenate([FACE, portrait_point(FACE)], axis=1).astype(np.float32)
