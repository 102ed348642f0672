"""The array namespace the maths runs on: numpy by default, CuPy on a GPU (imported lazily), or any other array-API
namespace (array_api_strict in the tests), through array_api_compat."""
import numpy as np
from array_api_compat import array_namespace, is_cupy_array, is_cupy_namespace, is_numpy_namespace

from .errors import MorphError

DEVICES = ("cpu", "gpu", "auto")
DEVICE = "auto"  # the default everywhere: the GPU when CuPy finds one, else numpy
# Pixels per training step and per render block. A GPU wants big ones: small batches leave it idle between kernel
# launches (bench.gpu times epochs and PSNR per batch size on a GPU, against PyTorch).
BATCH = {"cpu": 1024, "gpu": 65536}
RENDER_CHUNK = {"cpu": 2048, "gpu": 1 << 21}
NUMPY = array_namespace(np.empty(0))  # numpy as array_api_compat wraps it: the standard's names on any numpy
INSTALL_GPU = "pip install -r requirements-gpu.txt (CuPy for CUDA 12; see README, 'On a GPU')"


def namespace(device="cpu"):
    """numpy for "cpu", CuPy for "gpu", CuPy if it finds a GPU else numpy for "auto"; a namespace module (numpy,
    array_api_strict) as array_api_compat wraps it."""
    if not isinstance(device, str):
        if not callable(getattr(device, "empty", None)):
            raise MorphError(f"unknown device {device!r:.60}: use {', '.join(DEVICES)} (or an array namespace)")
        return array_namespace(device.empty(0))
    if device not in DEVICES:
        raise MorphError(f"unknown device {device!r}: use {', '.join(DEVICES)}")
    if device == "cpu":
        return NUMPY
    xp = cupy_namespace()
    if xp is None and device == "gpu":
        raise MorphError(f"device 'gpu' needs CuPy and a CUDA GPU, and none was found: {INSTALL_GPU}, "
                         "or use device 'cpu'")
    return xp or NUMPY


def cupy_namespace():
    """array_api_compat's CuPy namespace if CuPy is installed and sees a GPU, else None."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # no CuPy, no driver, no CUDA runtime: all mean "no GPU here"
        return None
    return array_namespace(cupy.empty(0))


def kind(xp) -> str:
    """"gpu" for CuPy, else "cpu": which column of BATCH and RENDER_CHUNK suits `xp`."""
    return "gpu" if is_cupy_namespace(xp) else "cpu"


def to_host(x) -> np.ndarray:
    """`x` as a numpy array (one copy from a GPU)."""
    if isinstance(x, np.ndarray):
        return x
    return x.get() if is_cupy_array(x) else np.from_dlpack(x)


def move(x, xp):
    """`x` as an array of namespace `xp`."""
    return to_host(x) if is_numpy_namespace(xp) else xp.asarray(x)
