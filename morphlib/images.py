"""Pictures in and out: any picture Pillow reads -> float32 RGB in [0, 1], resizing, img/ numbering."""
import io
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .checks import MAX_PIXELS
from .encoding import check_size
from .errors import MorphError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image(path, size=None) -> np.ndarray:
    """Read a picture as float32 (H, W, 3) in [0, 1]; alpha is composited on white.

    `size` = (width, height) resizes it (Lanczos)."""
    path = Path(path)
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
        grey = np.asarray(im, dtype=np.float32)
        grey = grey / (65535.0 if grey.max(initial=0) > 255 or im.mode.startswith("I;16") else 255.0)
        return np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=2)
    if im.mode == "F":
        return np.repeat(_float_grey(np.asarray(im, np.float32))[..., None], 3, axis=2)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


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
    w, h = check_size(size)
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
    path = Path(path)
    with atomic_path(path) as tmp:
        fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
        Image.fromarray(to_uint8(rgb, rounding)).save(tmp, format=fmt)
    return path


class atomic_path:
    """Context manager giving a temp path beside `path`; on success it is flushed to disk and replaces `path` in
    one step. A failed write (a full disk, Ctrl-C) leaves `path` as it was and removes the temp file; temp files
    that a killed run left in the folder are removed at the next write there."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self) -> str:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_orphans(self.path.parent)
            fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.{os.getpid()}.",
                                            suffix=f".tmp{self.path.suffix}")
        except OSError as e:
            raise MorphError(f"cannot write into {self.path.parent} ({e.strerror}): "
                             "pick a folder you can write to") from None
        os.close(fd)
        os.chmod(self.tmp, 0o644)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                _fsync(self.tmp)
                os.replace(self.tmp, self.path)
                return False
        except OSError as e:
            exc = e
        if os.path.exists(self.tmp):
            os.remove(self.tmp)
        if isinstance(exc, OSError):
            raise MorphError(f"cannot write {self.path} ({exc.strerror or exc}): it is left as it was; "
                             "free some disk space or pick another folder") from None
        return False


def _fsync(name):
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


ORPHAN_AGE_S = 60  # a temp file of unknown owner this old is left over from a killed save
_TEMP = re.compile(r"\.(.+)\.(\d+)\.\w+\.tmp(\.\w+)?")  # .<name>.<pid>.<random>.tmp<suffix>
_OLD_TEMP = re.compile(r"\..+\.\w+\.tmp(\.\w+)?")  # without the pid


def remove_orphans(folder) -> int:
    """Remove the temp files of saves that were killed in `folder` (their pid is dead, or they are older than
    ORPHAN_AGE_S and carry no pid); returns how many."""
    gone = 0
    for p in Path(folder).glob(".*.tmp*"):
        m = _TEMP.fullmatch(p.name)
        try:
            if (m and not pid_alive(int(m.group(2)))) or (
                    not m and _OLD_TEMP.fullmatch(p.name) and time.time() - p.stat().st_mtime > ORPHAN_AGE_S):
                p.unlink()
                gone += 1
        except OSError:
            continue
    return gone


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    return True


def numbered_images(folder="img") -> dict:
    """{n: path} for pictures named <n>.<ext> in `folder`."""
    found = {}
    for p in sorted(Path(folder).glob("*")):
        m = re.fullmatch(r"(\d+)", p.stem)
        if m and p.suffix.lower() in IMAGE_EXTS:
            found.setdefault(int(m.group(1)), p)
    return found


def image_path(n, folder="img") -> Path:
    """Path of picture number `n` (or `n` itself if it is a path)."""
    if isinstance(n, (str, Path)) and not str(n).isdigit():
        return Path(n)
    pics = numbered_images(folder)
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
