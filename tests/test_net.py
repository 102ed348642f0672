import importlib
import threading

import numpy as np
import pytest

from bench.book import book_step
from conftest import KINDS, gradient_picture, small_encoding
from morphlib.backend import to_host
from morphlib.encoding import encode, grid, make_encoding
from morphlib.errors import MorphError
from morphlib.net import forward, gradients, init_net, interpolate
from morphlib.optim import SGD
from morphlib.render import fit_error, render, render_morph, render_warped
from morphlib.train import FLOOR, WARMUP, draws, rate, train


def _loss(net, X, T):
    return 0.5 * np.sum((forward(net, X.astype(np.float64)) - T) ** 2) / len(X)


def _as64(net):
    net = net.copy()
    net.params = {k: v.astype(np.float64) for k, v in net.params.items()}
    return net


def _finite_difference(net, X, T, key, eps=1e-6):
    p = net.params[key]
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + eps
        up = _loss(net, X, T)
        p[i] = old - eps
        down = _loss(net, X, T)
        p[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("kind", ["plain", "fourier", "hashgrid"])
def test_exact_backprop_matches_finite_differences(kind, xp):
    enc = small_encoding(kind)
    net = _as64(init_net(5, enc, seed=1))
    if net.has_biases:
        net.params = {k: v + 0.1 for k, v in net.params.items()}
    X = encode(grid(3, 4), enc).astype(np.float64)
    T = np.random.default_rng(2).random((len(X), 3))
    grads, _ = gradients(net.to(xp), xp.asarray(X), xp.asarray(T), "exact")
    assert set(grads) == set(net.params)
    for key in net.params:
        np.testing.assert_allclose(to_host(grads[key]), _finite_difference(net, X, T, key), rtol=1e-5, atol=1e-9)


def test_book_backprop_output_layer_is_exact_hidden_layers_are_not(xp):
    net = _as64(init_net(5, seed=3))
    X = encode(grid(3, 4), net.encoding).astype(np.float64)
    T = np.random.default_rng(4).random((len(X), 3))
    book = {k: to_host(g) for k, g in gradients(net.to(xp), xp.asarray(X), xp.asarray(T), "book")[0].items()}
    np.testing.assert_allclose(book["W3"], _finite_difference(net, X, T, "W3"), rtol=1e-5)
    assert not np.allclose(book["W2"], _finite_difference(net, X, T, "W2"), rtol=1e-2)


def test_book_mode_step_equals_the_books_update():
    net = _as64(init_net(6, seed=5))
    wih, whh, who = (net.params[k].T.copy() for k in ("W1", "W2", "W3"))
    x = np.array([[0.3, 0.7, 1.0]])
    t = np.array([[0.9, 0.1, 0.5]])
    book_step(wih, whh, who, x[0], t[0], 0.3, corrected=False)
    SGD(0.3).step(net.params, gradients(net, x, t, "book")[0])
    for mine, book in zip(("W1", "W2", "W3"), (wih, whh, who)):
        np.testing.assert_allclose(net.params[mine], book.T, rtol=1e-10)


def test_training_reaches_psnr_and_is_reproducible(xp):
    img = gradient_picture()
    runs = [train(init_net(20, seed=0), img, epochs=150, batch=64, seed=0, device=xp) for _ in range(2)]
    assert runs[0].psnr > 28
    assert runs[0].history == runs[1].history
    assert isinstance(runs[0].net.params["W1"], np.ndarray) and runs[0].net.params["W1"].dtype == np.float32


def test_training_updates_the_net_in_place_wherever_it_runs(xp):
    net = init_net(6, seed=0)
    before = net.params["W2"].copy()
    r = train(net, gradient_picture(), epochs=3, batch=64, device=xp)
    assert isinstance(net.params["W2"], np.ndarray) and not np.array_equal(net.params["W2"], before)
    np.testing.assert_array_equal(net.params["W2"], r.net.params["W2"])  # the last epoch is the best here


def test_fourier_net_learns_sharp_edges_better_than_plain(xp):
    img = np.zeros((32, 32, 3), np.float32)
    img[8:24, 8:24] = [1, 0.2, 0.1]
    plain = train(init_net(32, seed=0), img, epochs=60, batch=128, device=xp)
    sharp = train(init_net(32, make_encoding("fourier", features=32, sigma=6.0), seed=0), img, epochs=60, batch=128,
                  device=xp)
    assert sharp.psnr > plain.psnr + 5


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_render_equals_forward_at_any_size(xp, activation):
    for enc in (small_encoding(kind, features=8, sigma=3.0) for kind in KINDS):
        net = init_net(7, enc, activation=activation, seed=2)
        if net.has_biases:  # render folds relu's b2 into the last layer's bias: biases of all signs
            for k in ("b1", "b2", "b3"):
                net.params[k] += np.random.default_rng(int(k[-1])).normal(0, 0.5, net.params[k].shape).astype(
                    np.float32)
        out = render(net, 5, 9, chunk=7, device=xp)
        assert out.shape == (5, 9, 3) and out.dtype == np.float32
        want = to_host(forward(net.to(xp), encode(grid(5, 9, enc, xp=xp), enc)))
        np.testing.assert_allclose(out.reshape(-1, 3), want, atol=1e-5)
        bytes_ = render(net, 5, 9, device=xp, uint8=True)
        assert bytes_.dtype == np.uint8 and np.abs(bytes_ - np.round(out * 255)).max() <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_morph_frames_equal_renders_of_the_mixed_nets(xp, kind):
    enc = small_encoding(kind, features=8, sigma=3.0)
    a, b = (init_net(7, enc, seed=s) for s in (1, 2))
    for s, net in enumerate((a, b)):  # tables as learned ones are, not the tiny fresh ones
        net.params.update({k: np.random.default_rng(s).normal(0, 1, v.shape).astype(np.float32)
                           for k, v in net.params.items() if k == "tables"})
    ts, window = [0.0, 0.3, 1.0, 1.4], ((0.1, 0.9), (0.25, 0.5))
    got = render_morph(a, b, ts, 6, 10, window=window, chunk=13, device=xp)
    assert got.shape == (4, 6, 10, 3) and got.dtype == np.float32
    same = render_warped(a, b, ts, lambda t, xy: (xy, xy), 6, 10, blend="weights", window=window)
    np.testing.assert_allclose(got, same, atol=2e-6)  # the two first layers mixed, then the mixed net's others
    for t, frame in zip(ts, got):  # ... which is the mixed net where the inputs are fixed (all but learned tables)
        mixed = render(interpolate(a, b, t), 6, 10, window=window)
        if kind == "hashgrid":
            assert t in (0.0, 1.0) or np.abs(frame - mixed).max() > 1e-3
        else:
            np.testing.assert_allclose(frame, mixed, atol=2e-6)
    np.testing.assert_array_equal(got[0], render(a, 6, 10, window=window, device=xp))  # exact ends
    bytes_ = render_morph(a, b, ts, 6, 10, window=window, device=xp, uint8=True)
    assert bytes_.dtype == np.uint8 and np.abs(bytes_.astype(int) - np.round(got * 255)).max() <= 1


@pytest.mark.parametrize("sampling", ["uniform", "error"])
def test_divergence_stops_and_keeps_last_good_weights(xp, sampling):
    img = gradient_picture()
    r = train(init_net(50, seed=0), img, epochs=50, batch=64, lr=10.0, sampling=sampling, device=xp)  # 200 steps
    assert r.stopped == "diverged" and "lower the learning rate" in r.message
    assert all(np.all(np.isfinite(v)) for v in r.net.params.values())


def test_stop_event_and_ctrl_c_keep_the_best(xp):
    img = gradient_picture()
    stop = threading.Event()
    stop.set()
    r = train(init_net(10), img, epochs=100, stop=stop, device=xp)
    assert r.stopped == "stopped" and r.epochs == 1

    def interrupt(epoch, score, net):
        if epoch == 5:
            raise KeyboardInterrupt

    r = train(init_net(10), img, epochs=100, on_epoch=interrupt, device=xp)
    assert r.stopped == "interrupted" and len(r.history) == 5 and r.psnr == max(r.history)


def test_bad_settings():
    with pytest.raises(MorphError, match="optimizer"):
        train(init_net(4), gradient_picture(), optimizer="lbfgs")
    with pytest.raises(MorphError, match="hidden size"):
        init_net(0)


def test_a_links_frames_are_its_nets_pictures_exactly_at_both_ends():
    enc = make_encoding("fourier", features=16)
    a, b = init_net(8, enc, seed=1), init_net(8, enc, seed=2)
    ends = render_morph(a, b, [0.0, 1.0], 12, 10)
    np.testing.assert_array_equal(ends[0], render(a, 12, 10))
    np.testing.assert_array_equal(ends[1], render(b, 12, 10))


@pytest.mark.parametrize("kind", ["plain", "fourier", "hashgrid"])
def test_a_band_of_rows_is_exactly_those_rows_of_the_whole(xp, kind):
    enc = small_encoding(kind, features=8, sigma=3.0)
    a, b = (init_net(7, enc, seed=s) for s in (1, 2))
    whole = render_morph(a, b, [0.0, 0.4, 1.0], 9, 10, chunk=20, device=xp, uint8=True)
    for band in ((0, 4), (4, 9), (3, 4)):
        np.testing.assert_array_equal(render_morph(a, b, [0.0, 0.4, 1.0], 9, 10, band=band, chunk=20, device=xp,
                                                   uint8=True), whole[:, band[0]:band[1]])


def test_cosine_rate_climbs_then_decays_to_its_floor():
    got = [rate(0.01, p) for p in np.linspace(0, 1, 101)]
    top = int(round(WARMUP * 100))
    assert got[0] == 0 and got[top] == pytest.approx(0.01) and got[-1] == pytest.approx(0.01 * FLOOR)
    assert np.all(np.diff(got[:top + 1]) > 0) and np.all(np.diff(got[top:]) < 0)
    assert rate(0.01, 0.3, "constant") == 0.01 and rate(0.01, 2.0) == pytest.approx(0.01 * FLOOR)


def test_error_sampling_draws_the_worse_pixels_more_and_estimates_the_mean_error():
    rng, errors = np.random.default_rng(0), np.full(20_000, 0.01)
    errors[:100] = 1.0  # half a percent of the pixels hold a third of the error
    order, weights = draws(rng, errors, "error")
    assert order.shape == errors.shape and np.mean(order < 100) > 0.1
    assert np.mean(errors[order] * weights) == pytest.approx(errors.mean(), rel=0.05)
    for unknown in (np.zeros(50), np.full(50, np.nan), np.full(50, np.inf)):  # not yet, or exploded: each once
        first, none = draws(rng, unknown, "error")
        assert none is None and sorted(first) == list(range(50))
    assert draws(rng, errors, "uniform")[1] is None


def test_schedule_and_error_sampling_learn_reproducibly(xp):
    img = gradient_picture()
    enc = make_encoding("fourier", features=16, sigma=3.0)
    runs = [train(init_net(20, enc, seed=0), img, epochs=100, batch=64, schedule="cosine", sampling="error",
                  device=xp) for _ in range(2)]
    assert runs[0].history == runs[1].history and runs[0].stopped == "done" and len(runs[0].history) == 100
    assert runs[0].psnr > 28 and abs(fit_error(runs[0].net, img) - runs[0].psnr) < 3  # an honest estimate


def test_unknown_schedule_or_sampling_is_refused():
    for option in ({"schedule": "linear"}, {"sampling": "edges"}):
        with pytest.raises(MorphError, match=f"unknown {next(iter(option))} .* use"):
            train(init_net(4), gradient_picture(), **option)


def test_big_fourier_pictures_make_their_inputs_at_each_step(xp, monkeypatch):
    training = importlib.import_module("morphlib.train")  # the module: the package's `train` is the function
    enc = make_encoding("fourier", features=8, sigma=3.0)
    stored = training.inputs(enc, 5, 7, xp)
    monkeypatch.setattr(training, "INPUT_BYTES", 0)
    made = training.inputs(enc, 5, 7, xp)
    idx = xp.asarray(np.array([0, 6, 7, 34, 20]))
    np.testing.assert_allclose(to_host(made(idx)), to_host(stored(idx)), atol=1e-5)
    r = train(init_net(8, enc, seed=0), gradient_picture(), epochs=3, batch=64, device=xp)
    assert r.stopped == "done" and len(r.history) == 3


def test_encodings_made_in_blocks_equal_those_made_at_once(monkeypatch):
    xy = grid(9, 13)
    for kind in ("fourier", "hashgrid"):
        enc = small_encoding(kind)
        whole = encode(xy, enc)
        monkeypatch.setattr(importlib.import_module("morphlib.encoding"), "ENCODE_ROWS", 10)
        np.testing.assert_array_equal(encode(xy, enc), whole)
        monkeypatch.undo()
