"""CPU and GPU give the same maths. Runs where CuPy finds a CUDA GPU; skipped, with the reason, elsewhere."""
import importlib.util

import numpy as np
import pytest

from conftest import gradient_picture, small_encoding
from morphlib.backend import cupy_namespace, kind, namespace, to_host
from morphlib.encoding import encode, grid
from morphlib.learn import Job, learn
from morphlib.net import gradients, init_net
from morphlib.render import render
from morphlib.train import train
from morphlib.weights import load_net

GPU = cupy_namespace()
WHY = ("CuPy is not installed (pip install -r requirements-gpu.txt)" if importlib.util.find_spec("cupy") is None
       else "CuPy is installed but finds no CUDA GPU")
pytestmark = pytest.mark.skipif(GPU is None, reason=f"GPU tests need CuPy and a GPU: {WHY}")


def _tiny_net(kind="fourier"):
    net = init_net(16, small_encoding(kind, features=8, sigma=3.0), seed=1)
    net.params = {k: v + np.float32(0.05) for k, v in net.params.items()}
    return net


@pytest.mark.parametrize(("backprop", "kind"), [("exact", "fourier"), ("book", "fourier"), ("exact", "hashgrid")])
def test_gradients_equal_on_cpu_and_gpu(backprop, kind):
    net = _tiny_net(kind)
    X = encode(grid(8, 8), net.encoding)
    T = np.random.default_rng(2).random((len(X), 3), dtype=np.float32)
    cpu, cpu_mse = gradients(net, X, T, backprop)
    gpu, gpu_mse = gradients(net.to(GPU), GPU.asarray(X), GPU.asarray(T), backprop)
    assert set(gpu) == set(cpu)
    np.testing.assert_allclose(float(gpu_mse), float(cpu_mse), rtol=1e-5)
    for k, g in cpu.items():
        np.testing.assert_allclose(to_host(gpu[k]), g, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["fourier", "hashgrid"])
def test_a_learned_net_renders_the_same_picture_on_both(kind):
    r = train(_tiny_net(kind), gradient_picture(), epochs=20, batch=64, device="gpu")
    assert isinstance(r.net.params["W1"], np.ndarray)
    for size in ((32, 32), (48, 80)):
        np.testing.assert_allclose(render(r.net, *size, device="gpu"), render(r.net, *size, device="cpu"), atol=1e-5)
        frames = [render(r.net, *size, device=d, uint8=True).astype(int) for d in ("gpu", "cpu")]
        assert np.abs(frames[0] - frames[1]).max() <= 1
    cpu = train(_tiny_net(kind), gradient_picture(), epochs=20, batch=64, device="cpu")
    np.testing.assert_allclose(r.history, cpu.history, rtol=1e-3)


def test_auto_picks_the_gpu_and_learn_saves_numpy_weights(workspace):
    assert kind(namespace("auto")) == "gpu"
    result, path = learn(Job(picture=2, hidden=8, epochs=2, max_side=32, device="gpu", root=workspace))
    assert isinstance(load_net(path, 8)[0].params["W1"], np.ndarray) and result.epochs >= 1
