"""The array namespace the maths runs on, a table of backends by name: numpy on the CPU, CuPy on a GPU (imported
lazily); or any other array-API namespace (array_api_strict in the tests), through array_api_compat."""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace, is_cupy_array, is_cupy_namespace, is_numpy_namespace

from . import checks
from .errors import MorphError

# Pixels per training step and per render block. A GPU wants big ones: small batches leave it idle between kernel
# launches (bench.gpu times epochs and PSNR per batch size on a GPU, against PyTorch). On a CPU a step of 512 pixels
# costs less per pixel than one of 1024 (its arrays stay in the cache) and makes twice the steps (bench.learn's
# batch rows).
BATCH = {"cpu": 512, "gpu": 65536}
RENDER_CHUNK = {"cpu": 2048, "gpu": 1 << 21}
NUMPY = array_namespace(np.empty(0))  # numpy as array_api_compat wraps it: the standard's names on any numpy
INSTALL_GPU = "pip install -r requirements-gpu.txt (CuPy for CUDA 12; see README, 'On a GPU')"


def cupy_namespace():
    """array_api_compat's CuPy namespace if CuPy is installed and sees a GPU, else None."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # no CuPy, no driver, no CUDA runtime: all mean "no GPU here"
        return None
    return array_namespace(cupy.empty(0))


@dataclass(frozen=True)
class Backend:
    """An array library by the name users give it: how to load its namespace (None where it is not there), whether
    a namespace is its own, what to install when it is missing, and its column of BATCH and RENDER_CHUNK."""

    load: Callable
    owns: Callable
    install: str
    kind: str


BACKENDS = {
    "cpu": Backend(lambda: NUMPY, is_numpy_namespace, "", "cpu"),
    "gpu": Backend(cupy_namespace, is_cupy_namespace, f"it needs CuPy and a CUDA GPU: {INSTALL_GPU}", "gpu"),
}
AUTO = ("gpu", "cpu")  # what "auto" takes: the first of these that loads
DEVICES = (*BACKENDS, "auto")
DEVICE = "auto"  # the default everywhere


def namespace(device=DEVICE):
    """The namespace of a backend by name (BACKENDS), or for "auto" the first of AUTO that loads; a namespace
    module (numpy, array_api_strict) as array_api_compat wraps it."""
    if not isinstance(device, str):
        if not callable(getattr(device, "empty", None)):
            raise MorphError(f"unknown device {checks.brief(device)}: use {', '.join(DEVICES)} (or an array namespace)")
        return array_namespace(device.empty(0))
    checks.choice("device", device, DEVICES)
    for name in AUTO if device == "auto" else (device,):
        xp = BACKENDS[name].load()
        if xp is not None:
            return xp
    raise MorphError(f"device {device!r} is not there: {BACKENDS[device].install}; or use device 'cpu'")


def kind(xp) -> str:
    """"gpu" or "cpu": which column of BATCH and RENDER_CHUNK suits `xp` (its backend's; "cpu" for others)."""
    return next((b.kind for b in BACKENDS.values() if b.owns(xp)), "cpu")


def to_host(x) -> np.ndarray:
    """`x` as a numpy array (one copy from a GPU)."""
    if isinstance(x, np.ndarray):
        return x
    return x.get() if is_cupy_array(x) else np.from_dlpack(x)


def move(x, xp):
    """`x` as an array of namespace `xp`."""
    return to_host(x) if is_numpy_namespace(xp) else xp.asarray(x)
