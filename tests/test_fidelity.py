"""Issue 12: morphlib against the seeds' own formulas, item by item; every expected number is computed here."""
import json
import logging

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import convolve1d
from scipy.optimize import minimize

from bench.book import book_step
from conftest import REPO
from morphlib.cli import options, parser
from morphlib.encoding import encode, grid, make_encoding
from morphlib.hybrid import Blender, compiled, kernel_size_for, loss_parts, tensorflow
from morphlib.images import resize, save_image
from morphlib.learn import Job, learn
from morphlib.net import init_net
from morphlib.render import render
from morphlib.samples import logo, photo
from morphlib.train import train
from morphlib.transition import write_transition
from morphlib.weights import load_net, load_numbered, save_net

sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731


def original_net(folder, n, hidden, seed=0):
    """Random weights in the original project's layout: W-<H>/w<n>_1..3.npy = wih (H, 3), whh (H, H), who (3, H)."""
    rng = np.random.default_rng(seed)
    ws = rng.normal(0, 1.5, (hidden, 3)), rng.normal(0, 1, (hidden, hidden)), rng.normal(0, 1, (3, hidden))
    folder.mkdir(parents=True, exist_ok=True)
    for k, w in enumerate(ws, 1):
        np.save(folder / f"w{n}_{k}.npy", w)
    return ws


def original_picture(ws, h, w):
    """The original's forward pass at its coordinates: inputs (row/h + 0.1, col/w + 0.1, 1), whole pixel indices."""
    wih, whh, who = ws
    row, col = np.mgrid[0:h, 0:w]
    inputs = np.stack([row / h + 0.1, col / w + 0.1, np.ones((h, w))], axis=0).reshape(3, -1)
    return sig(who @ sig(whh @ sig(wih @ inputs))).T.reshape(h, w, 3)


def test_1_original_nets_render_with_the_originals_formula(tmp_path):
    ws = original_net(tmp_path / "W-7", 5, 7)
    net = load_numbered(5, 7, tmp_path)
    for h, w in ((6, 9), (13, 4)):
        np.testing.assert_allclose(render(net, h, w), original_picture(ws, h, w), atol=2e-6)
    row, col = np.mgrid[0:3, 0:4]  # training sees the same inputs
    want = np.stack([row.ravel() / 3 + 0.1, col.ravel() / 4 + 0.1, np.ones(12)], axis=1)
    np.testing.assert_allclose(encode(grid(3, 4, net.encoding), net.encoding), want, atol=1e-7)


def test_1_seed_is_the_user_name_and_old_legacy_files_load(tmp_path):
    assert make_encoding("seed") == {"kind": "legacy"}
    save_net(init_net(5, make_encoding("seed"), seed=3), tmp_path / "1.npz")
    meta = json.loads(str(np.load(tmp_path / "1.npz")["meta"]))
    assert meta["encoding"] == {"kind": "legacy"}  # what older morphlib wrote too
    assert load_net(tmp_path / "1.npz")[0].encoding == {"kind": "legacy"}


def test_2_seed_exact_targets_and_truncating_save(workspace, tmp_path):
    pixels = np.asarray(Image.open(workspace / "img" / "2.png").convert("RGB"), np.float64)
    target = Job(picture=2, seed_exact=True, root=workspace).target()
    np.testing.assert_allclose(target, pixels / 256 + 0.001, atol=1e-7)
    rgb = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
    kept = np.asarray(Image.open(save_image(tmp_path / "t.png", rgb, rounding=False)), np.int64)
    np.testing.assert_array_equal(kept, np.floor(rgb.astype(np.float64) * 255))
    rounded = np.asarray(Image.open(save_image(tmp_path / "r.png", rgb)), np.int64)
    np.testing.assert_array_equal(rounded, np.floor(rgb.astype(np.float64) * 255 + 0.5))


def test_2_transition_frames_of_seed_nets_truncate_like_the_original(tmp_path):
    a, b = (init_net(6, make_encoding("seed"), seed=s) for s in (1, 2))  # normal init: a picture of many shades
    for n, net in ((1, a), (2, b)):
        save_net(net, tmp_path / "W-6" / f"{n}.npz")
    first = write_transition("1>2:2", hidden=6, size=9, root=tmp_path, out=tmp_path / "result")["frames"][0]
    exact = render(a, 9).astype(np.float64)
    np.testing.assert_array_equal(np.asarray(Image.open(first), np.int64), np.floor(exact * 255))


def test_2_per_pixel_sgd_step_is_the_originals_update():
    net = init_net(6, make_encoding("seed"), seed=1, init="uniform")
    wih, whh, who = (net.params[f"W{k}"].T.astype(np.float64) for k in (1, 2, 3))
    t = np.array([0.9, 0.2, 0.6])
    x = np.array([0.1, 0.1, 1.0])  # the one pixel of a 1x1 picture, at (row 0, col 0)
    book_step(wih, whh, who, x, t, 0.3)  # the article's backprop: the derivative goes into the passed-back error
    train(net, t.reshape(1, 1, 3).astype(np.float32), epochs=1, batch=1, optimizer="sgd", lr=0.3)
    for k, w in enumerate((wih, whh, who), 1):
        np.testing.assert_allclose(net.params[f"W{k}"].T, w, atol=1e-6)


def test_3_seed_mode_is_one_flag_away(workspace):
    a = parser().parse_args(["learn", "1", "--seed-exact", "--hidden", "9"])
    job = Job(**{**options(a, Job), "picture": a.picture[0], "root": workspace})  # as cli._learn makes it
    assert (job.encoding, job.init, job.optimizer, job.batch) == ("seed", "uniform", "sgd", 1)
    net = job.start_net()
    assert net.encoding == {"kind": "legacy"} and not net.has_biases and net.activation == "sigmoid"
    assert all(np.abs(w).max() <= 0.05 for w in net.params.values())
    a = parser().parse_args(["learn", "1", "--encoding", "seed", "--init", "uniform"])
    assert Job(**{**options(a, Job), "picture": 1}).start_net().encoding == {"kind": "legacy"}
    cell = next(c for c in json.loads((REPO / "learn.ipynb").read_text())["cells"] if "parameters" in
                c["metadata"].get("tags", []))
    assert any(line.startswith("SEED_EXACT = False") for line in cell["source"])


def test_4_kernel_taps_are_the_articles():
    def article_kernel(size, sigma):  # make_gauss_blur_kernel, as written in the article
        k = np.array([np.exp(-((i - size // 2) ** 2) / (2 * sigma**2)) for i in range(size)])
        return k / k.sum()

    assert kernel_size_for(2) == 11 and kernel_size_for(3) == 15
    np.testing.assert_allclose(article_kernel(kernel_size_for(2), 2)[:3], [0.00881223, 0.02714358, 0.06511406],
                               rtol=1e-6)
    b = Blender(np.full((20, 20, 3), 0.5), np.full((20, 20, 3), 0.5), sigma=3)
    assert b.kernel_size == 15
    np.testing.assert_allclose(b.s["kernel"].numpy(), article_kernel(15, 3), rtol=1e-6)


def test_5_original_nets_are_a_starting_point(workspace):
    ws = original_net(workspace / "W-8", 1, 8)
    start = Job(picture=2, hidden=8, encoding="seed", init_from=1, root=workspace).start_net()
    np.testing.assert_allclose(start.params["W1"], ws[0].T, atol=1e-7)
    result, path = learn(Job(picture=1, hidden=8, encoding="seed", resume=True, epochs=3, max_side=16,
                             root=workspace))
    assert path == workspace / "W-8" / "1.npz" and load_net(path)[0].encoding == {"kind": "legacy"}
    with pytest.raises(Exception, match="same encoding"):
        Job(picture=2, hidden=8, init_from=1, root=workspace).start_net()


def converged(near, far, size=15, sigma=3.0, mp=0.1, mb=1.0):
    """The hybrid loss's optimum over pixels in [1e-4, 1]: L-BFGS-B in float64, gradient written out."""
    k = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    k /= k.sum()
    blur = lambda u: convolve1d(convolve1d(u, k, 0, mode="constant"), k, 1, mode="constant")  # noqa: E731
    want = blur(far.astype(np.float64) ** 2.2) ** (1 / 2.2)

    def f(v):
        x = v.reshape(near.shape)
        u = blur(x**2.2)
        r = u ** (1 / 2.2) - want
        grad = 2 * mp * (x - near) + x**1.2 * blur(2 * mb * r * u ** (1 / 2.2 - 1))
        return mp * np.sum((x - near) ** 2) + mb * np.sum(r * r), grad.ravel()

    res = minimize(f, np.full(near.size, 0.5), jac=True, method="L-BFGS-B", bounds=[(1e-4, 1)] * near.size,
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    return res.x.reshape(near.shape), res.fun


def test_6_default_hybrid_reaches_the_losss_optimum():
    near, far = photo(64), resize(logo(), (64, 64))
    best, best_loss = converged(near, far)
    ours = Blender(near, far).run(100)
    article = Blender(near, far, optimizer="gd", lr=0.3, start="grey").run(200)
    mad = lambda img: float(np.mean(np.abs(img - best)))  # noqa: E731
    assert mad(ours.image) < 0.01 < mad(article.image)
    assert best_loss <= loss_parts(ours.image, near, far)[0] < best_loss * 1.002


def test_7_many_blenders_share_one_compiled_step():
    tf = tensorflow()
    caught = []
    handler = logging.Handler()
    handler.emit = lambda record: caught.append(record.getMessage())
    tf.get_logger().addHandler(handler)
    try:
        rng = np.random.default_rng(0)
        before = compiled()["adam"].experimental_get_tracing_count()
        for _ in range(7):
            Blender(rng.random((23, 31, 3)), rng.random((23, 31, 3))).run(2)
        traces = compiled()["adam"].experimental_get_tracing_count() - before
    finally:
        tf.get_logger().removeHandler(handler)
    assert traces <= 1 and not [m for m in caught if "retracing" in m]
