"""The W-<H>/ store: one .npz per picture with metadata, atomic saves, strict loads, the original .npy layout, a
lock per picture and a short history of replaced nets."""
import json
import math
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from . import checks
from .encoding import ENCODINGS, describe, input_size, learned
from .errors import MorphError
from .files import atomic_path, lock
from .net import ACTIVATIONS, LAYERS, Net

FORMAT = 1
HISTORY = 5  # replaced nets kept per picture, in W-<H>/.history/<name>/
MAX_BYTES = 256 * 2**20  # uncompressed: the biggest net morphlib makes (H and features 4096) is under 200 MB
PARAMS = {f"{w}{k}" for w in "Wb" for k in LAYERS}


def weights_dir(hidden: int, root=".") -> Path:
    return checks.path("root", root) / f"W-{checks.whole('hidden size', hidden, 1, checks.MAX_HIDDEN)}"


def weights_file(n, hidden: int, root=".") -> Path:
    return weights_dir(hidden, root) / f"{n}.npz"


def save_net(net: Net, path, **meta) -> Path:
    """Write the net and its metadata to `path` (.npz) atomically: a crash never leaves half a file."""
    path = checks.path("path", path)
    checks.instance("net", net, Net, "a Net (init_net, load_net and train make them)")
    enc = {k: v for k, v in net.encoding.items() if k != "B"}
    info = {"format": FORMAT, "hidden": net.hidden, "activation": net.activation, "encoding": enc,
            "layers": [input_size(net.encoding), net.hidden, net.hidden, 3], **meta}
    arrays = dict(net.to(np).params, meta=np.array(json.dumps(info)))
    if "B" in net.encoding:
        arrays["fourier_B"] = net.encoding["B"]
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def load_net(path, hidden: int = None) -> tuple:
    """(net, metadata) from a .npz written by save_net; refuses pickles, other H and newer formats."""
    path = checks.path("path", path)
    hidden = checks.optional(checks.whole, "hidden size", hidden, 1, checks.MAX_HIDDEN)
    if not path.is_file():
        raise MorphError(f"weights {path} not found")
    try:
        _check_zip(path)
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        raise MorphError(f"{path} holds pickled objects, which morphlib never loads ({e}); retrain it") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError, RuntimeError) as e:  # zip damage
        raise MorphError(f"{path} is damaged or not a morphlib weights file ({e}); retrain it") from None
    meta = _meta(path, arrays.pop("meta", None))
    picture_shape(meta, path)
    net = _net_from(path, arrays, meta)
    if hidden is not None and net.hidden != int(hidden):
        raise MorphError(f"{path} holds a net with H={net.hidden}, not H={hidden}: use hidden={net.hidden}, "
                         f"or retrain the picture with H={hidden}")
    return net, meta


def _check_zip(path):
    """Refuse what is not a zip (a .npy renamed .npz) or unpacks to more than MAX_BYTES (a zip bomb), unread."""
    if not zipfile.is_zipfile(path):
        raise zipfile.BadZipFile("not a .npz archive: a renamed .npy or another file?")
    with zipfile.ZipFile(path) as z:
        size = sum(i.file_size for i in z.infolist())
    if size > MAX_BYTES:
        raise MorphError(f"{path} unpacks to {size:,} bytes, more than any morphlib net ({MAX_BYTES:,}); "
                         "it is not a morphlib weights file: retrain it")


def _meta(path, raw) -> dict:
    try:
        meta = json.loads(str(raw))
        version = int(meta["format"])
    except (TypeError, ValueError, KeyError):
        raise MorphError(f"{path} has no readable morphlib metadata; retrain it") from None
    if version > FORMAT:
        raise MorphError(f"{path} was written by a newer morphlib (format {version}, this one reads {FORMAT}): "
                         "upgrade morphlib")
    return meta


def _net_from(path, arrays, meta) -> Net:
    enc, activation = meta.get("encoding"), meta.get("activation")
    if not (isinstance(enc, dict) and isinstance(enc.get("kind"), str) and enc["kind"] in ENCODINGS
            and isinstance(activation, str) and activation in ACTIVATIONS):
        raise MorphError(f"{path} names an unknown encoding or activation ({checks.brief(meta)}); retrain it")
    enc = dict(enc)
    if enc["kind"] == "fourier":
        enc["B"] = _frequencies(path, arrays.pop("fourier_B", None), enc)
    if not ENCODINGS[enc["kind"]].valid(enc):
        raise MorphError(f"{path} has a damaged {enc['kind']} encoding ({checks.brief(enc)}); retrain it")
    extra = ", ".join(sorted(arrays.keys() - PARAMS - learned(enc).keys()))
    if extra or any(not isinstance(v, np.ndarray) or v.dtype.kind not in "fiu" for v in arrays.values()):
        raise MorphError(f"{path} holds arrays a morphlib net does not have ({extra or 'not numbers'}); retrain it")
    params = {k: v.astype(np.float32) for k, v in arrays.items()}
    _check_shapes(path, params, enc)
    return Net(params, enc, meta["activation"])


def _frequencies(path, B, enc) -> np.ndarray:
    """The Fourier frequencies: shape (2, features), every one finite."""
    if B is None:
        raise MorphError(f"{path} is a Fourier net without its frequencies; retrain it")
    features = enc.get("features")
    if not isinstance(features, int) or B.shape != (2, features):
        raise MorphError(f"{path} has Fourier frequencies of shape {B.shape}, not (2, {features}); retrain it")
    if B.dtype.kind not in "fiu" or not np.isfinite(B).all():
        raise MorphError(f"{path} has non-finite or non-numeric Fourier frequencies (NaN or inf); retrain it")
    return B.astype(np.float32)


def picture_shape(meta: dict, path) -> tuple:
    """(height, width) of the picture a net learned, from its metadata; None for older files, which did not say."""
    shape = meta.get("image_size")
    if shape is None:
        return None
    if not (isinstance(shape, list) and len(shape) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= checks.MAX_SIDE for v in shape)):
        raise MorphError(f"{path} has a damaged image_size {shape!r} in its metadata (not [height, width] in "
                         "pixels); retrain it")
    return tuple(shape)


def _check_shapes(path, p, enc):
    try:
        want_in = input_size(enc)
        h = p["W2"].shape[0]
        biases = [f"b{k}" in p for k in LAYERS]
        ok = (p["W1"].shape == (want_in, h) and p["W2"].shape == (h, h) and p["W3"].shape == (h, 3)
              and (all(biases) or not any(biases))
              and all(p[f"b{k}"].shape == (s,) for k, s in zip(LAYERS, (h, h, 3)) if f"b{k}" in p)
              and all(p[name].shape == shape for name, shape in learned(enc).items())
              and all(np.all(np.isfinite(v)) for v in p.values()))
    except (KeyError, IndexError):
        ok = False
    if not ok:
        raise MorphError(f"{path} does not hold a valid {describe(enc)} net (shapes or values are off); retrain it")


def load_legacy(folder, n, hidden: int = None) -> Net:
    """The original project's W-<H>/w<n>_1.npy (wih), _2 (whh), _3 (who): sigmoid units, no biases; with `hidden`,
    a net of another H is refused."""
    files = [checks.path("folder", folder) / f"w{n}_{k}.npy" for k in LAYERS]
    try:
        wih, whh, who = (_npy(f) for f in files)
    except (OSError, ValueError, EOFError) as e:
        raise MorphError(f"cannot read the original-layout weights w{n}_1..3.npy in {folder} ({e})") from None
    params = {"W1": wih.T.copy(), "W2": whh.T.copy(), "W3": who.T.copy()}
    _check_shapes(folder, params, {"kind": "legacy"})
    net = Net(params, {"kind": "legacy"}, "sigmoid")
    if hidden is not None and net.hidden != int(hidden):
        raise MorphError(f"{folder}/w{n}_1..3.npy hold a net with H={net.hidden}, not H={hidden}: move them to "
                         f"W-{net.hidden}/ and use hidden={net.hidden}")
    return net


def _npy(path) -> np.ndarray:
    """A 2-D numeric array from a .npy file, no more than MAX_BYTES."""
    a = np.load(path, allow_pickle=False, mmap_mode="r")
    if not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype.kind not in "fiu" or a.nbytes > MAX_BYTES:
        raise ValueError(f"{Path(path).name} is not a 2-D array of numbers")
    return np.array(a, np.float32)


def load_numbered(n, hidden: int, root=".") -> Net:
    """Net of picture `n` from W-<hidden>/: <n>.npz, else the original w<n>_1..3.npy."""
    folder = weights_dir(hidden, root)
    path = weights_file(n, hidden, root)
    if path.is_file():
        return load_net(path, hidden)[0]
    if (folder / f"w{n}_1.npy").is_file():
        return load_legacy(folder, n, hidden)
    raise MorphError(f"picture {n} has no weights in {folder}/: train it first with "
                     f"`python -m morphlib learn img/{n}.png --hidden {hidden}` (or learn.ipynb)")


@dataclass
class Entry:
    """A net in a picture's history: its file, PSNR (dB), epochs and when it was trained ("trained <date>", or
    for older files "file dated <date>")."""

    path: Path
    psnr: float
    epochs: int
    date: str


def history_dir(path) -> Path:
    """Where the nets replaced at weights file `path` go: W-<H>/.history/<name>/."""
    path = Path(path)
    return path.parent / ".history" / path.stem


def history(name, hidden: int, root=".") -> list:
    """The nets that replaced or were kept apart from W-<hidden>/<name>.npz, newest first."""
    files = sorted(history_dir(weights_file(name, hidden, root)).glob("*.npz"), reverse=True)
    return [entry(p) for p in files]


def entry(path) -> Entry:
    """psnr, epochs and date of a saved net (None where its metadata cannot be read): the date it was trained,
    or for files that do not say, the date of the file (moving a net into the history keeps it)."""
    meta = read_meta(path)
    when = (f"trained {meta['trained']}" if meta.get("trained") else
            f"file dated {datetime.fromtimestamp(Path(path).stat().st_mtime):%Y-%m-%d %H:%M:%S}")
    epochs = meta.get("epochs") if checks.number(str(meta.get("epochs"))) is not None else None
    return Entry(Path(path), _score(meta), epochs, when)


def _score(meta: dict):
    """The PSNR a file's metadata records, None if it records none (or something else)."""
    psnr = meta.get("psnr")
    ok = isinstance(psnr, (int, float)) and not isinstance(psnr, bool) and math.isfinite(psnr)
    return float(psnr) if ok else None


def read_meta(path) -> dict:
    """The metadata of a weights file, {} if it has none readable (nothing else is loaded)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return {}
    return meta if isinstance(meta, dict) else {}


def _history_path(path, psnr) -> Path:
    score = "unknown" if psnr is None else f"{psnr:.2f}dB"
    return history_dir(path) / f"{datetime.now():%Y%m%d-%H%M%S-%f}_{score}.npz"


def _archive(path: Path) -> Path:
    """Hard-link the net at `path` into its history: whole or not at all, and `path` stays until replaced."""
    dest = _history_path(path, _score(read_meta(path)))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, dest)
    except OSError as e:
        raise MorphError(f"cannot keep {path} in its history {dest.parent} ({e.strerror or e}): nothing was "
                         "changed; free some disk space or pick a folder you can write to") from None
    return dest


def _prune(folder: Path):
    for old in sorted(folder.glob("*.npz"), reverse=True)[HISTORY:]:
        old.unlink()


def store(net: Net, path, **meta) -> Path:
    """Save `net` at `path`, the net it replaces going into the history first (the HISTORY newest are kept)."""
    path = Path(path)
    kept = _archive(path) if path.is_file() else None
    try:
        save_net(net, path, **meta)
    except BaseException:
        if kept is not None:
            kept.unlink(missing_ok=True)
        raise
    _prune(history_dir(path))
    return path


def store_apart(net: Net, path, **meta) -> Path:
    """Save `net` into the history of `path`, leaving the current net there; returns the history file."""
    dest = save_net(net, _history_path(path, _score(meta)), **meta)
    _prune(history_dir(path))
    return dest


def _entry_at(name, hidden: int, index: int, root=".") -> Entry:
    entries = history(name, hidden, root)
    if not (isinstance(index, int) and 0 <= index < len(entries)):
        have = f"0..{len(entries) - 1}" if entries else "none"
        folder = history_dir(weights_file(name, hidden, root))
        raise MorphError(f"picture {name} has no history entry {index!r} in {folder}/ "
                         f"(have: {have}); `python -m morphlib nets {name} -H {hidden}` lists them")
    return entries[index]


def restore(name, hidden: int, index: int, root=".") -> Path:
    """Make history entry `index` (0 = newest) the current net again; the current one goes into history."""
    path = weights_file(name, hidden, root)
    _entry_at(name, hidden, index, root)  # a missing entry is named before anything is written, the lock included
    with lock(path):
        chosen = _entry_at(name, hidden, index, root).path
        load_net(chosen, hidden)  # a damaged entry is refused before anything moves
        if path.is_file():
            _archive(path)
        try:
            os.replace(chosen, path)
        except OSError as e:
            raise MorphError(f"cannot move {chosen} to {path} ({e.strerror}); nothing was lost") from None
        _prune(history_dir(path))
    return path
