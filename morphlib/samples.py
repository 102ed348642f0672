"""The sample pictures in img/ (three drawings made here and a photo from matplotlib's bundled data), and a big
drawing with detail for the learning bench."""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from . import checks
from .images import pictures_by_number, save_image

SIZE = 128
SCALE = 4  # draw big, then shrink: smooth edges


def _canvas(bg):
    im = Image.new("RGB", (SIZE * SCALE, SIZE * SCALE), bg)
    return im, ImageDraw.Draw(im), SIZE * SCALE


def _shrink(im) -> np.ndarray:
    return np.asarray(im.resize((SIZE, SIZE), Image.LANCZOS), np.float32) / 255.0


def sunset() -> np.ndarray:
    """A sun over the sea: gradients and one round shape."""
    s = SIZE * SCALE
    t = np.linspace(0, 1, s, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.array([0.98, 0.55, 0.25]) + t * np.array([0.45, 0.15, 0.45])
    sky = np.broadcast_to(sky, (s, s, 3)).copy()
    sky[int(s * 0.62):] = np.array([0.1, 0.25, 0.5]) + 0.2 * (t[int(s * 0.62):] - 0.62)
    im = Image.fromarray((sky * 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    d.ellipse([s * 0.3, s * 0.3, s * 0.7, s * 0.7], fill=(255, 225, 90))
    d.rectangle([0, s * 0.62, s, s], fill=(25, 65, 130))
    for k in range(5):
        y = s * (0.68 + 0.06 * k)
        d.rectangle([s * (0.38 + 0.02 * k), y, s * (0.62 - 0.02 * k), y + s * 0.015], fill=(250, 200, 80))
    return _shrink(im)


def blobs() -> np.ndarray:
    """Soft colour blobs: all gradients, the easiest kind of picture for the net."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    img = np.full((SIZE, SIZE, 3), 0.95, np.float32)
    for cx, cy, r, col in [(0.3, 0.35, 0.22, (0.1, 0.6, 0.9)), (0.7, 0.4, 0.2, (0.95, 0.3, 0.4)),
                           (0.5, 0.75, 0.25, (0.3, 0.8, 0.3))]:
        w = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - w) + np.array(col, np.float32) * w
    return img


def logo() -> np.ndarray:
    """Flat colours with sharp edges: a ring, a star and a bar (what the seed's net finds hard)."""
    im, d, s = _canvas((245, 245, 235))
    d.ellipse([s * 0.12, s * 0.12, s * 0.88, s * 0.88], fill=(30, 40, 120))
    d.ellipse([s * 0.24, s * 0.24, s * 0.76, s * 0.76], fill=(245, 245, 235))
    ang = np.linspace(0, 2 * np.pi, 11)[:-1] - np.pi / 2
    rad = np.where(np.arange(10) % 2 == 0, 0.22, 0.09) * s
    d.polygon([(s / 2 + r * np.cos(a), s / 2 + r * np.sin(a)) for a, r in zip(ang, rad)], fill=(220, 50, 40))
    d.rectangle([s * 0.1, s * 0.84, s * 0.9, s * 0.92], fill=(240, 180, 20))
    return _shrink(im)


def photo(size=256) -> np.ndarray:
    """Grace Hopper's portrait from matplotlib's sample data, centre-cropped square."""
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as im:
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 4
        im = im.convert("RGB").crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
    return np.asarray(im, np.float32) / 255.0


def lake(size=1024, seed=7) -> np.ndarray:
    """A lake under hills at dusk, `size` px square: a gradient sky and moon, three ridgelines, trees, houses with
    lit windows, and their rippled reflection. Drawn at twice the size, then shrunk."""
    rng, s = np.random.default_rng(seed), 2 * size
    t = np.linspace(0, 1, s, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.array([0.22, 0.35, 0.7]) + t * np.array([0.98, 0.7, 0.45])
    im = Image.fromarray((np.broadcast_to(sky, (s, s, 3)) * 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    d.ellipse([s * 0.62, s * 0.22, s * 0.74, s * 0.34], fill=(255, 236, 180))
    x = np.linspace(0, s, 200)
    for k, (base, colour) in enumerate([(0.42, (120, 110, 150)), (0.5, (80, 100, 110)), (0.58, (50, 80, 60))]):
        y = s * base - np.cumsum(rng.normal(0, s * 0.006, 200)) - s * 0.05 * np.sin(x / s * (3 + k) * np.pi)
        d.polygon([(0, s), *zip(x, y), (s, s)], fill=colour)
    shore = int(s * 0.66)
    for cx, h, dy, colour in zip(rng.uniform(0, s, 60), rng.uniform(0.03, 0.08, 60) * s,
                                 rng.uniform(0, 0.05, 60) * s, rng.integers(20, 70, (60, 3))):
        d.polygon([(cx - h / 4, shore - dy), (cx, shore - dy - h), (cx + h / 4, shore - dy)], fill=tuple(colour))
    for cx, w, dy, wall in zip(rng.uniform(0.05, 0.9, 7) * s, rng.uniform(0.04, 0.08, 7) * s,
                               rng.uniform(0, 0.02, 7) * s, rng.integers(150, 240, (7, 3))):
        y = shore - dy
        d.rectangle([cx, y - w * 0.7, cx + w, y], fill=tuple(wall))
        d.polygon([(cx - w * 0.1, y - w * 0.7), (cx + w / 2, y - w * 1.1), (cx + w * 1.1, y - w * 0.7)],
                  fill=(140, 50, 40))
        for i in range(3):
            d.rectangle([cx + w * (0.12 + 0.3 * i), y - w * 0.5, cx + w * (0.3 + 0.3 * i), y - w * 0.3],
                        fill=(255, 220, 120))
    a = np.asarray(im).copy()
    rows = np.arange(s - shore)[:, None]
    ripple = (np.arange(s)[None, :] + (6 * np.sin(rows / 9.0)).astype(int)) % s
    a[shore:] = (a[2 * shore - s:shore][::-1][rows, ripple] * np.array([0.6, 0.7, 0.85])).astype(np.uint8)
    return np.asarray(Image.fromarray(a).resize((size, size), Image.LANCZOS), np.float32) / 255.0


SAMPLES = {1: sunset, 2: blobs, 3: logo, 4: photo}


def write_samples(folder="img", *, force=False) -> tuple:
    """Draw the sample pictures into `folder` as 1.png, 2.png, ...; pictures already there are kept unless
    `force`. Returns (paths written, paths kept)."""
    folder, force = checks.path("folder", folder), checks.flag("force", force)
    have = {} if force else {n: paths[0] for n, paths in pictures_by_number(folder).items()}
    written = [save_image(Path(folder) / f"{n}.png", make()) for n, make in SAMPLES.items() if n not in have]
    return written, [have[n] for n in SAMPLES if n in have]
