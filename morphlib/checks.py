"""Checks at the boundary, in one place: the public functions call these on entry, so the command line, the
notebooks and the widgets refuse the same bad values with the same message (a MorphError naming the option)."""
import errno
import math
import numbers
import os
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import MorphError

MAX_HIDDEN = 4096  # W2 alone is H x H floats: 64 MB at this size (the article used 30 to 150)
MAX_FEATURES = 4096  # Fourier features: W1 is 2 * features x H
MAX_FRAMES = 100_000  # frames in one transition: over an hour at 24 fps
MAX_LR = 1000.0  # learning rates above this only explode
MAX_PIXELS = 64_000_000  # pictures and frames: a 64-megapixel float RGB picture is 768 MB
MAX_SIDE = 8000  # a side whose square is MAX_PIXELS: the longest side to learn or blend at


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) or (
        isinstance(value, float) and value.is_integer())


def whole(name: str, value, low=1, high=None) -> int:
    """`value` as an int in [low, high] (high None: no upper bound), else a MorphError naming `name`."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        span = f"at least {low}" if high is None else f"from {low} to {high}"
        raise MorphError(f"{name} {brief(value)} is not allowed: give a whole number {span}")
    return int(value)


def real(name: str, value, low=None, high=None, *, above=None) -> float:
    """`value` as a finite float with low <= value <= high and value > above (None: no bound), else a MorphError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (low is not None and value < low) or (high is not None and value > high) or (
            above is not None and value <= above):
        bounds = [f"above {above:g}" if above is not None else "", f"at least {low:g}" if low is not None else "",
                  f"at most {high:g}" if high is not None else ""]
        raise MorphError(f"{name} {brief(value)} is not allowed: give a finite number "
                         + " and ".join(b for b in bounds if b))
    return float(value)


def choice(name: str, value, table, *, shown=None) -> str:
    """`value` if it names a row of `table` (a dict or tuple of names), else a MorphError listing the names (or
    those of `shown`): the one place where an unknown option name is refused."""
    if not isinstance(value, str) or value not in table:
        raise MorphError(f"unknown {name} {brief(value)}: use one of {', '.join(shown or table)}")
    return value


def optional(check, name: str, value, *args, **kwargs):
    """None stays None (the default applies); anything else goes through `check`."""
    return None if value is None else check(name, value, *args, **kwargs)


def training(epochs, batch, lr, seed, time_limit=None) -> tuple:
    """(epochs, batch, lr, seed, time_limit) checked: what train.train and learn.Job share (batch, lr, time_limit:
    None or a number)."""
    return (whole("epochs", epochs), optional(whole, "batch", batch), optional(real, "lr", lr, above=0, high=MAX_LR),
            whole("seed", seed, 0), optional(real, "time_limit", time_limit, 0))


def flag(name: str, value) -> bool:
    """True or False, else a MorphError (a string such as "no" would count as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise MorphError(f"{name} {brief(value)} is not allowed: give True or False")
    return bool(value)


def brief(value) -> str:
    """`value` as a message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def instance(name: str, value, kind, what: str):
    """`value` if it is a `kind` (a class or a tuple of them), else a MorphError saying to give `what`."""
    if not isinstance(value, kind):
        raise MorphError(f"{name} {brief(value)} is not allowed: give {what}")
    return value


def pixels(name: str, value):
    """An H x W x 3 array (numpy's, or the device's), else a MorphError."""
    shape = getattr(value, "shape", None)
    if isinstance(value, (str, bytes)) or not (isinstance(shape, tuple) and len(shape) == 3 and shape[2] == 3
                                                and min(shape) > 0):
        raise MorphError(f"{name} {brief(value)} is not allowed: give a picture as an H x W x 3 array "
                         "(load_image reads one)")
    return value


def window(name: str, value) -> tuple:
    """((x0, x1), (y0, y1)): the part of a picture's coordinates to show, finite, each lo < hi."""
    try:
        (x0, x1), (y0, y1) = value
        ok = all(isinstance(v, numbers.Real) and math.isfinite(v) for v in (x0, x1, y0, y1)) and x0 < x1 and y0 < y1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise MorphError(f"{name} {brief(value)} is not allowed: give ((x0, x1), (y0, y1)) with x0 < x1 and y0 < y1, "
                         "such as ((0, 1), (0, 1))")
    return (float(x0), float(x1)), (float(y0), float(y1))


def stop_event(name: str, value):
    """Something with is_set() (a threading.Event), or None."""
    if value is not None and not callable(getattr(value, "is_set", None)):
        raise MorphError(f"{name} {brief(value)} is not allowed: give a threading.Event (or None)")
    return value


def function(name: str, value):
    """A function to call back, or None."""
    if value is not None and not callable(value):
        raise MorphError(f"{name} {brief(value)} is not allowed: give a function, or None")
    return value


def path(name: str, value) -> Path:
    """A file or folder name (text or a Path), else a MorphError."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise MorphError(f"{name} {brief(value)} is not allowed: give a file or folder name, such as 'result'")
    return Path(value)


def number(text):
    """The int that `text` writes in the digits 0-9, else None (str.isdigit also takes a superscript 2)."""
    return int(text) if isinstance(text, str) and re.fullmatch(r"[0-9]+", text) else None


def picture(name: str, value):
    """A picture: its number in the pictures' folder (a whole number, as an int; or text of digits, as given) or a
    file name, as given."""
    if isinstance(value, numbers.Number):
        return whole(name, value, 0)
    path(name, value)
    return value


def file_name(name: str, value) -> str:
    """A plain, non-empty file name (no folders, not hidden), else a MorphError."""
    text = value if isinstance(value, str) else ""
    if not text.strip() or text.startswith(".") or Path(text).name != text or "\\" in text or "\0" in text:
        raise MorphError(f"{name} {value!r} is not allowed: give a plain file name such as transition")
    return text


def output_file(name: str, value) -> Path:
    """A path to write a file to: not an existing folder."""
    target = path(name, value)
    if target.is_dir() or str(value).endswith(("/", "\\")):
        raise MorphError(f"{name} {str(value)!r} names a folder: give a file name, e.g. {target / 'hybrid.png'}")
    return target


def size(name: str, value) -> tuple:
    """512, '512', '640x360' (exactly two parts) or (640, 360) -> (width, height): positive whole numbers, at most
    MAX_PIXELS in all."""
    try:
        if isinstance(value, str):
            parts = value.strip().lower().split("x")
            if len(parts) > 2:
                raise ValueError
            value = tuple(int(p) for p in parts) if len(parts) == 2 else int(parts[0])
        w, h = (value, value) if _is_int(value) else value
    except (ValueError, TypeError):
        raise MorphError(f"{name} {value!r} is not a size: write 512 or 640x360") from None
    if not (_is_int(w) and _is_int(h) and w > 0 and h > 0):
        raise MorphError(f"{name} {w}x{h} is not a picture size: give positive width and height, e.g. 512")
    if w * h > MAX_PIXELS:
        raise MorphError(f"{name} {w}x{h} is too big ({w * h:,} pixels, at most {MAX_PIXELS:,}): give a smaller one")
    return int(w), int(h)


# A container's memory: (limit, usage) files of cgroup v2, then v1
CGROUP_MEMORY = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                 ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def available_memory() -> int:
    """Bytes this process may still take: the kernel's MemAvailable (/proc/meminfo; elsewhere the free pages),
    or less where its container's memory limit leaves less."""
    try:
        with open("/proc/meminfo") as f:
            have = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        have = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit, usage in CGROUP_MEMORY:
        try:
            have = min(have, int(Path(limit).read_text()) - int(Path(usage).read_text()))
            break
        except (OSError, ValueError):  # none, or "max": no limit
            continue
    return max(0, have)


def memory(what: str, need: float, hint: str):
    """Refuse `what`, before it allocates, when it needs about `need` bytes and less memory is available."""
    have = available_memory()
    if need > have:
        raise MorphError(f"{what} needs about {_amount(need)} of memory, and {_amount(have)} are available: {hint}")


def _amount(size: float) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"


# What to do about an OSError, by its errno; others are told as they are.
DISK_HINTS = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free some disk space",
              errno.EACCES: "pick a folder you can write to", errno.EPERM: "pick a folder you can write to",
              errno.EROFS: "pick a folder you can write to", errno.ENOENT: "check that the folder exists",
              errno.ENOTDIR: "a file is where a folder should be: pick another path",
              errno.EISDIR: "a folder is where a file should be: pick another path",
              errno.EEXIST: "a file is where a folder should be: pick another path",
              errno.ENAMETOOLONG: "give a shorter name"}


@contextmanager
def disk_errors(what="write"):
    """Turn a full disk, a read-only folder or a missing one into a MorphError that says what to do."""
    try:
        yield
    except OSError as e:
        hint = DISK_HINTS.get(e.errno)
        where = f" {e.filename}" if e.filename else ""
        raise MorphError(f"cannot {what}{where} ({e.strerror or e}){f': {hint}' if hint else ''}") from None
