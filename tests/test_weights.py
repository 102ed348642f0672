import json

import numpy as np
import pytest

from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.net import init_net
from morphlib.render import render
from morphlib.weights import load_net, load_numbered, save_net, weights_file


def test_roundtrip_with_metadata(tmp_path):
    net = init_net(8, make_encoding("fourier", features=6, sigma=3.0, seed=4), seed=1)
    path = save_net(net, tmp_path / "W-8" / "1.npz", epochs=3, psnr=20.5)
    back, meta = load_net(path, hidden=8)
    assert meta["hidden"] == 8 and meta["epochs"] == 3 and meta["encoding"]["kind"] == "fourier"
    np.testing.assert_array_equal(render(back, 6), render(net, 6))
    assert list(tmp_path.glob("W-8/.*")) == []


def test_a_hash_grid_net_keeps_its_tables_and_damaged_ones_are_refused(tmp_path):
    net = init_net(8, make_encoding("hashgrid"), seed=1)
    path = save_net(net, tmp_path / "h.npz")
    back, meta = load_net(path, hidden=8)
    assert meta["encoding"]["kind"] == "hashgrid" and back.params.keys() == net.params.keys()
    np.testing.assert_array_equal(render(back, 6), render(net, 6))
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    for name, bad in (("levels", "16"), ("table", 1 << 30), ("finest", 0)):
        np.savez(tmp_path / "d.npz", **{**arrays, "meta": np.array(json.dumps({**meta, "encoding": {
            **meta["encoding"], name: bad}}))})
        with pytest.raises(MorphError, match="damaged hashgrid encoding"):
            load_net(tmp_path / "d.npz")
    for tables in (arrays["tables"][:-1], None):
        np.savez(tmp_path / "t.npz", **{k: v for k, v in {**arrays, "tables": tables}.items() if v is not None})
        with pytest.raises(MorphError, match="not hold a valid hashgrid"):
            load_net(tmp_path / "t.npz")


def test_wrong_hidden_size_says_what_to_do(tmp_path):
    save_net(init_net(8), weights_file(1, 8, tmp_path))
    (tmp_path / "W-5").mkdir()
    (tmp_path / "W-8" / "1.npz").rename(tmp_path / "W-5" / "1.npz")
    with pytest.raises(MorphError, match="H=8, not H=5"):
        load_numbered(1, 5, tmp_path)


def test_missing_weights_say_how_to_train(tmp_path):
    with pytest.raises(MorphError, match="morphlib learn img/3.png --hidden 100"):
        load_numbered(3, 100, tmp_path)


def test_newer_format_is_refused(tmp_path):
    path = save_net(init_net(4), tmp_path / "a.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["format"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(MorphError, match="newer morphlib"):
        load_net(path)


def test_pickles_and_damage_are_refused(tmp_path):
    np.savez(tmp_path / "p.npz", W1=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(MorphError, match="pickled"):
        load_net(tmp_path / "p.npz")
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(MorphError, match="damaged"):
        load_net(tmp_path / "d.npz")
    good = save_net(init_net(4), tmp_path / "g.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(MorphError, match="damaged"):
        load_net(tmp_path / "t.npz")


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_net(init_net(4, seed=1), tmp_path / "1.npz")
    before = path.read_bytes()

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_net(init_net(4, seed=2), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["1.npz"]


def test_original_npy_layout(tmp_path):
    rng = np.random.default_rng(0)
    wih, whh, who = rng.normal(size=(6, 3)), rng.normal(size=(6, 6)), rng.normal(size=(3, 6))
    folder = tmp_path / "W-6"
    folder.mkdir()
    for k, w in enumerate((wih, whh, who), 1):
        np.save(folder / f"w2_{k}.npy", w)
    net = load_numbered(2, 6, tmp_path)
    assert net.encoding["kind"] == "legacy"
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h, w = 4, 5
    out = render(net, h, w)
    y, x = 2, 3  # the original fed (y/h + 0.1, x/w + 0.1, 1) with whole pixel indices, and so does morphlib
    inp = np.array([y / h + 0.1, x / w + 0.1, 1.0])
    np.testing.assert_allclose(out[y, x], sig(who @ sig(whh @ sig(wih @ inp))), atol=1e-5)
