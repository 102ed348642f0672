import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from morphlib.errors import MorphError
from morphlib.hybrid import FTOL, Blender, Progress, gauss_kernel, hybrid, hybrid_fft


def synthetic_pair(n=512):
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    near = np.stack([x, y, 0.5 + 0.4 * np.sin(40 * x * y)], axis=2)
    far = np.stack([((x * 6).astype(int) + (y * 6).astype(int)) % 2 * 0.8 + 0.1,
                    0.5 + 0.5 * np.cos(7 * y), 0.3 + 0.0 * x], axis=2)
    return near.astype(np.float32), far.astype(np.float32)


def numpy_loss(img, near, far, size, sigma, m_precise, m_blurred):
    """The article's formula, written again with shifted slices (zero padding, 'SAME')."""
    k = np.exp(-((np.arange(size) - (size - 1) // 2) ** 2) / (2 * sigma**2))
    k /= k.sum()

    def blur(x):
        x = x.astype(np.float64) ** 2.2
        for axis in (0, 1):
            pad = [(0, 0)] * 3
            pad[axis] = ((size - 1) // 2, size // 2)
            p = np.pad(x, pad)
            x = sum(k[i] * np.take(p, np.arange(i, i + x.shape[axis]), axis=axis) for i in range(size))
        return x ** (1 / 2.2)

    return m_precise * np.sum((img - near) ** 2) + m_blurred * np.sum((blur(img) - blur(far)) ** 2)


def test_kernel_matches_the_article_and_sums_to_one():
    k = gauss_kernel(11, 2)
    np.testing.assert_allclose(k[:3], [0.00881223, 0.02714358, 0.06511406], rtol=1e-6)
    assert k.sum() == pytest.approx(1.0) and gauss_kernel(15, 3).argmax() == 7
    with pytest.raises(MorphError):
        gauss_kernel(0, 3)


def test_article_settings_loss_equals_numpy_and_decreases():
    near, far = synthetic_pair(512)
    b = Blender(near, far, kernel_size=15, sigma=3, m_precise=0.1, m_blurred=1.0, optimizer="gd", lr=0.3,
                start="grey")
    r = b.run(200, every=50)
    assert r.steps == 200 and [h[0] for h in r.history] == [50, 100, 150, 200]
    losses = [h[1] for h in r.history]
    assert all(a > b for a, b in zip(losses, losses[1:]))
    assert r.loss == pytest.approx(numpy_loss(r.image, near, far, 15, 3, 0.1, 1.0), rel=1e-4)
    assert r.image.min() >= 0 and r.image.max() <= 1 and r.image.shape == near.shape


def test_no_blur_weight_gives_back_the_near_picture():
    near, far = synthetic_pair(48)
    near = 0.05 + 0.9 * near  # sigmoid reaches 0 and 1 only at infinity
    r = hybrid(near, far, steps=300, m_blurred=0.0, start="far")
    assert np.abs(r.image - near).max() < 0.02


def test_warm_start_and_live_settings():
    near, far = synthetic_pair(64)
    b = Blender(near, far, start="near")
    first = b.run(20)
    b.set(m_precise=0.01, sigma=5)
    second = b.run(20)
    assert second.steps == 40 and second.loss_blurred < first.loss_blurred


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_run_stops_when_asked_with_the_picture_so_far(optimizer):
    near, far = synthetic_pair(32)
    b = Blender(near, far, optimizer=optimizer, start="grey")
    r = b.run(100, every=1, stop=lambda: b.steps >= 3)
    assert r.interrupted and r.steps == 3 and len(r.history) == 3 and "interrupted at step 3" in r.message


def test_lbfgs_reports_the_losses_of_its_iterates():
    near, far = synthetic_pair(32)
    r = Blender(near, far, start="grey").run(5, every=1)
    assert r.loss == pytest.approx(r.history[-1][1], rel=1e-5)  # the last step's losses are the picture's


def test_progress_follows_lbfgs_to_its_tolerance():
    near, far = synthetic_pair(48)
    track, seen = Progress(300), []
    r = Blender(near, far, start="grey").run(300, every=1, on_step=lambda i, n, h: seen.append(track.update(i, h[1])))
    fractions = [f for f, _, _ in seen]
    assert fractions == sorted(fractions) and 0 <= fractions[0] < 0.2 and fractions[-1] > 0.8
    assert r.steps < 300 and seen[-1][2] <= FTOL * 100  # it ended near the tolerance, before the step limit
    assert all(left is None or left >= 0 for _, left, _ in seen) and seen[len(seen) // 2][1] is not None


def test_different_sizes_grey_and_rgba_inputs():
    near = np.random.default_rng(0).random((40, 60)).astype(np.float32)  # grey
    far = np.random.default_rng(1).random((90, 90, 4)).astype(np.float32)  # RGBA, other size
    r = hybrid(near, far, steps=3)
    assert r.image.shape == (40, 60, 3) and "centre-cropped and resized" in r.message
    with pytest.raises(MorphError, match="H x W x 3"):
        hybrid(np.zeros((4, 4, 5)), far, steps=1)


def test_fft_baseline_same_api():
    near, far = synthetic_pair(64)
    r = hybrid_fft(near, far, sigma=3)
    assert r.image.shape == near.shape and 0 <= r.image.min() and r.image.max() <= 1
    assert r.loss == pytest.approx(numpy_loss(r.image, near, far, 15, 3, 0.1, 1.0), rel=1e-6)
    tuned = hybrid(near, far, steps=50)  # starts from the baseline and improves on it
    assert tuned.loss < r.loss


@pytest.mark.parametrize("fake", [True, False])
def test_tensorflows_start_up_lines_are_dropped_and_other_stderr_kept(tmp_path, fake):
    """Its start-up lines showed as a pink error block above the tuner; real complaints must still show."""
    if fake:  # a stand-in that writes what TensorFlow's C++ start-up writes, and one line that matters
        (tmp_path / "tensorflow.py").write_text(
            "import os\n"
            "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written\\n')\n"
            "os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on. You may see ...\\n')\n"
            "os.write(2, b'E0000 something real went wrong\\n')\n")
    path = os.pathsep.join([str(tmp_path), str(REPO)])
    run = subprocess.run([sys.executable, "-c", "from morphlib.hybrid import tensorflow; tensorflow()"],
                         env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "absl" not in run.stderr and "oneDNN" not in run.stderr
    assert ("something real went wrong" in run.stderr) == fake
