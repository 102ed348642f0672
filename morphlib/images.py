"""Pictures in and out: any picture Pillow reads -> float32 RGB in [0, 1], resizing, img/ numbering."""
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from . import checks
from .checks import MAX_PIXELS, number
from .errors import MorphError
from .files import atomic_path

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image(path, size=None) -> np.ndarray:
    """Read a picture as float32 (H, W, 3) in [0, 1]; alpha is composited on white.

    `size` = (width, height) resizes it (Lanczos)."""
    path = checks.path("path", path)
    if not path.is_file():
        raise MorphError(f"picture {path} not found: check the name, or put it there")
    try:
        with warnings.catch_warnings():  # the size is checked here, with a clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            if im.width * im.height > MAX_PIXELS:  # a decompression bomb: refused before it eats the memory
                raise MorphError(f"{path} is {im.width}x{im.height}: too big to learn; shrink it first")
            im = ImageOps.exif_transpose(im)
            rgb = _to_rgb(im)
    except Image.DecompressionBombError as e:
        raise MorphError(f"{path} is too big to open safely ({e}); shrink it first") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise MorphError(f"{path} is not a readable picture ({e}); save it again as PNG or JPEG") from None
    if size is not None:
        rgb = resize(rgb, size)
    return rgb


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return as_rgb(np.asarray(im))
    if im.mode == "F":
        return as_rgb(_float_grey(np.asarray(im, np.float32)))
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    return as_rgb(np.asarray(im.convert("RGBA" if has_alpha else "RGB")))


def as_rgb(img, name="picture") -> np.ndarray:
    """float32 (H, W, 3) in [0, 1] from an array, by the rules load_image reads files with: integers over 255 (or
    16-bit ones) by 65535, others by 255; floats checked; grey repeated; alpha composited on white."""
    if isinstance(img, (str, os.PathLike)):
        raise MorphError(f"the {name} {checks.brief(img)} is a file name: give the picture, load_image({img!r:.40}) "
                         "reads it")
    img = np.asarray(img)
    if img.dtype.kind not in "uifb":
        raise MorphError(f"the {name} {checks.brief(img)} is not an array of pixels: give an H x W x 3 array "
                         "(load_image reads one)")
    if img.dtype.kind in "ui":
        wide = img.dtype == np.uint16 or img.max(initial=0) > 255
        img = img / np.float32(65535 if wide else 255)
    img = np.asarray(img, np.float32)
    if img.size and not (np.isfinite(img).all() and -1e-3 <= img.min() and img.max() <= 1 + 1e-3):
        raise MorphError(f"the {name} has values from {img.min():g} to {img.max():g}: give floats in "
                         "[0, 1] (divide 0..255 values by 255), or load it with load_image")
    img = np.clip(img, 0, 1)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or min(img.shape[:2]) < 1:
        raise MorphError(f"the {name} must be H x W x 3 (got shape {img.shape}); load it with load_image")
    if img.shape[2] == 4:
        img = img[..., :3] * img[..., 3:] + (1 - img[..., 3:])  # alpha on white
    return np.ascontiguousarray(img)


def _float_grey(grey: np.ndarray) -> np.ndarray:
    """A float picture (TIFF mode F) in [0, 1] by its range: kept if in [0, 1], else 0..255 or 0..65535 scaled
    down, else stretched from its minimum to its maximum; NaN is black."""
    grey = np.nan_to_num(grey, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(grey.min(initial=0)), float(grey.max(initial=0))
    if lo >= 0 and hi > 1:
        grey = grey / (255.0 if hi <= 255 else 65535.0 if hi <= 65535 else hi)
    elif lo < 0:
        grey = (grey - lo) / (hi - lo)
    return np.clip(grey, 0, 1).astype(np.float32)


def resize(rgb: np.ndarray, size) -> np.ndarray:
    """Resize float RGB to (width, height)."""
    w, h = checks.size("size", size)
    im = Image.fromarray(to_uint8(rgb)).resize((w, h), Image.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255.0


def fit_side(rgb: np.ndarray, side: int, grow=False) -> np.ndarray:
    """`rgb` resized so its longer side is `side` (smaller pictures stay as they are unless grow=True)."""
    h, w = rgb.shape[:2]
    if max(h, w) == side or (max(h, w) < side and not grow):
        return rgb
    k = side / max(h, w)
    return resize(rgb, (max(1, round(w * k)), max(1, round(h * k))))


def to_uint8(rgb: np.ndarray, rounding=True) -> np.ndarray:
    """Bytes of float RGB, rounded to nearest; rounding=False truncates like the original's astype(uint8)."""
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + (0.5 if rounding else 0.0)).astype(np.uint8)


def save_image(path, rgb: np.ndarray, *, rounding=True) -> Path:
    """Write float RGB as a picture (format by extension), atomically; rounding=False: the original's truncation."""
    path, rounding = checks.path("path", path), checks.flag("rounding", rounding)
    checks.instance("rgb", rgb, np.ndarray, "a picture as an H x W x 3 array")
    with atomic_path(path) as tmp:
        fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
        Image.fromarray(to_uint8(rgb, rounding)).save(tmp, format=fmt)
    return path


def pictures_by_number(folder="img") -> dict:
    """{n: [paths]} of the pictures named <n>.<ext> in `folder` (n in digits 0-9): 1.png and 1.jpg are both n."""
    found = {}
    for p in sorted(Path(folder).glob("*")):
        if number(p.stem) is not None and p.suffix.lower() in IMAGE_EXTS:
            found.setdefault(number(p.stem), []).append(p)
    return found


def numbered_images(folder="img") -> dict:
    """{n: path} for the numbered pictures in `folder`; two of one number are refused: either could be picture n."""
    found = pictures_by_number(folder)
    for paths in found.values():
        _one(paths)
    return {n: paths[0] for n, paths in found.items()}


def _one(paths):
    if len(paths) > 1:
        raise MorphError(f"{' and '.join(map(str, paths))} are all picture {number(paths[0].stem)} in "
                         f"{paths[0].parent}/: rename all but one of them (or move them away), so that each number "
                         "names one picture")


def image_path(n, folder="img") -> Path:
    """Path of picture number `n` (or `n` itself if it is a path); two pictures of that number are refused."""
    if isinstance(n, (str, Path)) and number(str(n)) is None:
        return Path(n)
    pics = pictures_by_number(folder)
    _one(pics.get(int(n), []))
    pics = {k: paths[0] for k, paths in pics.items()}
    if int(n) not in pics:
        have = ", ".join(map(str, pics)) or "none"
        raise MorphError(f"no picture {n} in {folder}/ (have: {have}); add {folder}/{n}.png")
    return pics[int(n)]


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG-encoded picture, for widgets and inline display."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buf, format="PNG")
    return buf.getvalue()


MARK_COLOURS = ((255, 64, 64), (64, 160, 255), (255, 200, 0), (80, 220, 80), (230, 90, 230), (0, 220, 220))


def mark_points(rgb: np.ndarray, points, *, first=1, ring=None) -> np.ndarray:
    """`rgb` with numbered dots at `points` (N, 2) in [0, 1] picture coordinates (numbers from `first`, a colour
    each); `ring`: the index of a dot to circle (the selected one)."""
    im = Image.fromarray(to_uint8(rgb))
    draw, r = ImageDraw.Draw(im), max(2, round(max(im.size) / 90))
    for i, (x, y) in enumerate(np.asarray(points, np.float64).reshape(-1, 2)):
        cx, cy, colour = x * im.width, y * im.height, MARK_COLOURS[i % len(MARK_COLOURS)]
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=(0, 0, 0))
        if i == ring:
            draw.ellipse([cx - 3 * r, cy - 3 * r, cx + 3 * r, cy + 3 * r], outline=(255, 255, 255), width=2)
        draw.text((cx + r + 1, cy - 3 * r), str(i + first), fill=colour, stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(im, np.float32) / 255.0
