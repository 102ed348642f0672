"""The W-<H>/ store: one .npz per picture with metadata, atomic saves, strict loads, and the original .npy layout."""
import json
import zipfile
from pathlib import Path

import numpy as np

from .encoding import KINDS, describe, input_size
from .errors import MorphError
from .images import atomic_path
from .mlp import ACTIVATIONS, LAYERS, Net

FORMAT = 1


def weights_dir(hidden: int, root=".") -> Path:
    return Path(root) / f"W-{int(hidden)}"


def weights_file(n, hidden: int, root=".") -> Path:
    return weights_dir(hidden, root) / f"{n}.npz"


def save_net(net: Net, path, **meta) -> Path:
    """Write the net and its metadata to `path` (.npz) atomically: a crash never leaves half a file."""
    path = Path(path)
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
    path = Path(path)
    if not path.is_file():
        raise MorphError(f"weights {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        raise MorphError(f"{path} holds pickled objects, which morphlib never loads ({e}); retrain it") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise MorphError(f"{path} is damaged or not a morphlib weights file ({e}); retrain it") from None
    meta = _meta(path, arrays.pop("meta", None))
    net = _net_from(path, arrays, meta)
    if hidden is not None and net.hidden != int(hidden):
        raise MorphError(f"{path} holds a net with H={net.hidden}, not H={hidden}: use hidden={net.hidden}, "
                         f"or retrain the picture with H={hidden}")
    return net, meta


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
    enc = dict(meta.get("encoding", {}))
    if enc.get("kind") not in KINDS or meta.get("activation") not in ACTIVATIONS:
        raise MorphError(f"{path} names an unknown encoding or activation ({meta}); retrain it")
    if enc["kind"] == "fourier":
        if "fourier_B" not in arrays:
            raise MorphError(f"{path} is a Fourier net without its frequencies; retrain it")
        enc["B"] = arrays.pop("fourier_B").astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in arrays.items()}
    _check_shapes(path, params, enc)
    return Net(params, enc, meta["activation"])


def _check_shapes(path, p, enc):
    try:
        want_in = input_size(enc)
        h = p["W2"].shape[0]
        ok = (p["W1"].shape == (want_in, h) and p["W2"].shape == (h, h) and p["W3"].shape == (h, 3)
              and all(p[f"b{k}"].shape == (s,) for k, s in zip(LAYERS, (h, h, 3)) if f"b{k}" in p)
              and all(np.all(np.isfinite(v)) for v in p.values()))
    except (KeyError, IndexError):
        ok = False
    if not ok:
        raise MorphError(f"{path} does not hold a valid {describe(enc)} net (shapes or values are off); retrain it")


def load_legacy(folder, n) -> Net:
    """The original project's W-<H>/w<n>_1.npy (wih), _2 (whh), _3 (who): sigmoid units, no biases."""
    files = [Path(folder) / f"w{n}_{k}.npy" for k in LAYERS]
    try:
        wih, whh, who = (np.load(f, allow_pickle=False).astype(np.float32) for f in files)
    except (OSError, ValueError) as e:
        raise MorphError(f"cannot read the original-layout weights w{n}_1..3.npy in {folder} ({e})") from None
    params = {"W1": wih.T.copy(), "W2": whh.T.copy(), "W3": who.T.copy()}
    _check_shapes(folder, params, {"kind": "legacy"})
    return Net(params, {"kind": "legacy"}, "sigmoid")


def load_numbered(n, hidden: int, root=".") -> Net:
    """Net of picture `n` from W-<hidden>/: <n>.npz, else the original w<n>_1..3.npy."""
    folder = weights_dir(hidden, root)
    path = weights_file(n, hidden, root)
    if path.is_file():
        return load_net(path, hidden)[0]
    if (folder / f"w{n}_1.npy").is_file():
        return load_legacy(folder, n)
    raise MorphError(f"picture {n} has no weights in {folder}/: train it first with "
                     f"`python -m morphlib learn img/{n}.png --hidden {hidden}` (or learn.ipynb)")
