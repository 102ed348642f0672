"""The maths path on a strict array-API namespace (array_api_strict) gives what numpy gives: no numpy-only call
hides in training, rendering, learning or transitions. The same code runs CuPy on a GPU (tests/test_gpu.py)."""
import array_api_strict as strict
import numpy as np
import pytest
from PIL import Image

from conftest import gradient_picture, nets_dir, small_encoding
from morphlib.backend import NUMPY, cupy_namespace, namespace, to_host
from morphlib.cli import main
from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.learn import Job, learn
from morphlib.net import init_net
from morphlib.render import render, render_morph, render_warped
from morphlib.train import train
from morphlib.transition import write_transition
from morphlib.warp import Warp
from morphlib.weights import load_net, save_net


@pytest.mark.parametrize("setup", [dict(encoding="fourier", optimizer="adam", backprop="exact"),
                                   dict(encoding="hashgrid", optimizer="adam", backprop="exact"),
                                   dict(encoding="plain", optimizer="sgd", backprop="book")])
def test_strict_namespace_trains_like_numpy(setup):
    enc = small_encoding(setup["encoding"], features=8, sigma=3.0)
    runs = [train(init_net(8, enc, seed=0), gradient_picture(), epochs=8, batch=48, optimizer=setup["optimizer"],
                  backprop=setup["backprop"], device=device) for device in ("cpu", strict)]
    np.testing.assert_allclose(runs[0].history, runs[1].history, rtol=1e-5)
    for k, v in runs[0].net.params.items():
        np.testing.assert_allclose(runs[1].net.params[k], v, rtol=1e-4, atol=1e-6)


def test_net_moves_between_namespaces_and_saves_as_numpy(tmp_path):
    net = init_net(5, make_encoding("fourier", features=4), seed=3)
    there = net.to(strict)
    assert all(isinstance(v, type(strict.asarray(0.0))) for v in there.params.values())
    assert there.to(strict) is there and net.to(NUMPY) is net
    save_net(there, tmp_path / "n.npz")
    back = load_net(tmp_path / "n.npz")[0]
    for k, v in net.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    np.testing.assert_array_equal(render(there, 6), render(net, 6))


def test_learn_on_another_namespace_saves_numpy_weights(workspace):
    job = Job(picture=2, hidden=6, epochs=2, max_side=16, device=strict, root=workspace)
    result, path = learn(job)
    net, meta = load_net(path, 6)
    assert isinstance(net.params["W1"], np.ndarray) and meta["epochs"] == result.epochs
    cpu, _ = learn(Job(picture=2, hidden=6, epochs=2, max_side=16, device="cpu", root=workspace))
    np.testing.assert_allclose(cpu.history, result.history, rtol=1e-5)


def test_transition_frames_on_another_namespace_equal_the_cpus(tmp_path):
    nets_dir(tmp_path, 6, ("fourier", "fourier"))
    runs = [write_transition("1>2:3", hidden=6, size="12x8", out=tmp_path / name, device=device, root=tmp_path)
            for name, device in (("cpu", "cpu"), ("strict", strict))]
    for a, b in zip(*(r["frames"] for r in runs)):
        pa, pb = (np.asarray(Image.open(p), np.int16) for p in (a, b))
        assert pa.shape == (8, 12, 3) and np.abs(pa - pb).max() <= 1


def test_morph_frames_on_another_namespace_equal_the_cpus():
    enc = make_encoding("fourier", features=4)
    a, b = init_net(6, enc, seed=1), init_net(6, enc, seed=2)
    frames = [render_morph(a, b, [0.2, 0.7], 8, 12, device=device) for device in ("cpu", strict)]
    np.testing.assert_allclose(*frames, atol=1e-6)


def test_device_choice(workspace, capsys):
    assert namespace("cpu") is NUMPY and namespace(np) is NUMPY
    with pytest.raises(MorphError, match="unknown device"):
        namespace("tpu")
    if cupy_namespace() is None:
        assert namespace("auto") is NUMPY
        with pytest.raises(MorphError, match="requirements-gpu.txt"):
            namespace("gpu")
        assert main(["learn", "1", "--device", "gpu", "--img-dir", str(workspace / "img")]) == 2
        assert "requirements-gpu.txt" in capsys.readouterr().err
    assert to_host(strict.asarray([1.0, 2.0])).tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("blend", "kind"), [("colour", "fourier"), ("weights", "fourier"), ("colour", "hashgrid")])
def test_warped_frames_on_another_namespace_equal_the_cpus(blend, kind):
    enc = small_encoding(kind)
    a, b = init_net(6, enc, seed=1), init_net(6, enc, seed=2)
    warp = Warp([[0.2, 0.3, 0.4, 0.35], [0.7, 0.6, 0.6, 0.8], [0.5, 0.8, 0.3, 0.7]])
    frames = [render_warped(a, b, [0.0, 0.4, 1.3], warp.maps, 8, 12, blend=blend, device=device)
              for device in ("cpu", strict)]
    np.testing.assert_allclose(*frames, atol=1e-6)
    fades = [render_warped(a, b, [0.4], None, 8, 12, blend=blend, device=device) for device in ("cpu", strict)]
    np.testing.assert_allclose(*fades, atol=1e-6)
