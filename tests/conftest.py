import importlib
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def gradient_picture(h=16, w=16):
    """A small smooth picture any net can learn quickly."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x / (w - 1), y / (h - 1), 0.5 + 0.3 * np.sin(x / 3)], axis=2).astype(np.float32)


KINDS = ("plain", "legacy", "fourier", "hashgrid")


def small_encoding(kind, features=4, sigma=2.0) -> dict:
    """An encoding of `kind` small enough to check by finite differences: Fourier with `features`, a hash grid of
    3 levels (2 to 16 cells a side, the finest hashed into a table of 64 rows)."""
    from morphlib.encoding import make_encoding

    enc = make_encoding(kind, features=features, sigma=sigma)
    return {**enc, "levels": 3, "table": 64, "coarsest": 2, "finest": 16} if kind == "hashgrid" else enc


def nets_dir(root, hidden=6, kinds=("plain", "plain")) -> Path:
    """`root` with small random nets saved in W-<hidden>/: `kinds` lists encodings for nets 1, 2, ... (or maps
    numbers to encodings); net n is drawn from seed n (small_encoding's)."""
    from morphlib.net import init_net
    from morphlib.weights import save_net, weights_file

    kinds = kinds if isinstance(kinds, dict) else dict(enumerate(kinds, 1))
    for n, kind in kinds.items():
        save_net(init_net(hidden, small_encoding(kind), seed=n), weights_file(n, hidden, root))
    return Path(root)


@pytest.fixture
def workspace(tmp_path):
    """A folder with a copy of the sample pictures in img/, for runs that write W-<H>/ and result/."""
    shutil.copytree(REPO / "img", tmp_path / "img")
    return tmp_path


@pytest.fixture(params=["numpy", "array_api_strict"])
def xp(request):
    """The array namespace a test computes on: numpy, and array_api_strict, which refuses anything outside the
    array API standard (so a numpy-only call in the maths fails there)."""
    return importlib.import_module(request.param)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each test's call report on the item (item.rep_call), for fixtures that keep evidence of a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
