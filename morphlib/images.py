"""Pictures in and out: any picture Pillow reads -> float32 RGB in [0, 1], resizing, img/ numbering."""
import io
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .encoding import check_size
from .errors import MorphError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_PIXELS = 64_000_000  # refuse decompression bombs well before they eat the memory


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
            if im.width * im.height > MAX_PIXELS:
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
        return np.repeat(np.clip(np.asarray(im, np.float32), 0, 1)[..., None], 3, axis=2)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


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



def to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path, rgb: np.ndarray) -> Path:
    """Write float RGB as a picture (format by extension), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(rgb)).save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


class atomic_path:
    """Context manager giving a temp path beside `path`; on success it replaces `path` in one step."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self) -> str:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                            suffix=f".tmp{self.path.suffix}")
        except OSError as e:
            raise MorphError(f"cannot write into {self.path.parent} ({e.strerror}): "
                             "pick a folder you can write to") from None
        os.close(fd)
        os.chmod(self.tmp, 0o644)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.remove(self.tmp)
        return False



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
