import numpy as np
import pytest
from PIL import Image

from conftest import nets_dir
from morphlib.align import align, permute
from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.net import init_net, interpolate
from morphlib.render import render
from morphlib.transition import Link, Plan, frame_plan, parse_sequence, parse_size, write_transition
from morphlib.weights import save_net, weights_file


@pytest.fixture
def nets(tmp_path):
    """W-6/ with three small plain nets and one Fourier net."""
    return nets_dir(tmp_path, 6, {1: "plain", 2: "plain", 3: "plain", 7: "fourier"})


def test_interpolation_ends_are_the_nets_and_it_extrapolates():
    a, b = init_net(5, seed=1), init_net(5, seed=2)
    for t, want in ((0, a), (1, b)):
        np.testing.assert_array_equal(render(interpolate(a, b, t), 8), render(want, 8))
    mid = interpolate(a, b, 0.5).params["W2"]
    np.testing.assert_allclose(mid, (a.params["W2"] + b.params["W2"]) / 2, rtol=1e-6)
    past = interpolate(a, b, 1.5).params["W1"]
    np.testing.assert_allclose(past, b.params["W1"] + 0.5 * (b.params["W1"] - a.params["W1"]), rtol=1e-5)


def test_parse_sequence_and_errors_point_at_the_spot():
    assert parse_sequence("1>2:40, 2> 3 :5,3>1:2") == [Link("1", "2", 40), Link("2", "3", 5), Link("3", "1", 2)]
    with pytest.raises(MorphError) as e:
        parse_sequence("1>2:40, 2=3:40")
    assert "from>to:steps" in str(e.value) and str(e.value).endswith("\n          ^")
    with pytest.raises(MorphError, match="at least 2 steps"):
        parse_sequence("1>2:1")
    with pytest.raises(MorphError, match="empty"):
        parse_sequence(" ")
    assert parse_sequence("1-3:5, 3>1:4") == [Link("1", "2", 5), Link("2", "3", 5), Link("3", "1", 4)]
    assert parse_sequence("3-2:2") == [Link("3", "2", 2)]
    for bad, why in (("1-1:5", "from one picture to another"), ("1-999999999:5", "too long"), ("1-4:1", "2 steps")):
        with pytest.raises(MorphError, match=why):
            parse_sequence(bad)


def test_plan_counts_seams_once_and_loops():
    links = parse_sequence("1>2:5, 2>3:5, 3>1:4")
    plan = frame_plan(links)
    assert len(plan) == 5 + 5 + 4 - 2
    assert plan[0] == ("1", "2", 0.0) and plan[4] == ("1", "2", 1.0) and plan[5] == ("2", "3", 0.25)
    looped = frame_plan(links, loop=True)
    assert len(looped) == len(plan) - 1 and looped[-1][2] < 1
    assert len(frame_plan(parse_sequence("1>2:5"), loop=True)) == 5 + 5 - 2
    pp = frame_plan(parse_sequence("1>2:5"), pingpong=True)
    assert [t for *_, t in pp] == [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25]
    beyond = frame_plan(parse_sequence("1>2:5"), beyond=0.5)
    assert [t for *_, t in beyond][-2:] == [1.25, 1.5]
    eased = [t for *_, t in frame_plan(parse_sequence("1>2:5"), "smoothstep")]
    assert eased[0] == 0 and eased[-1] == 1 and eased[1] < 0.25 and eased[2] == 0.5
    with pytest.raises(MorphError, match="schedule"):
        frame_plan(links, "bouncy")


def test_sizes():
    assert parse_size("640x360") == (640, 360) and parse_size(64) == (64, 64)
    for bad in ("0", "-5", "12xq", 0):
        with pytest.raises(MorphError):
            parse_size(bad)


def test_write_transition_frames_gif_mp4(nets):
    out = nets / "result"
    r = write_transition("1>2:4, 2>3:3", hidden=6, size="24x16", out=out, fps=10, movies=("gif", "mp4"), frames=True,
                         fit="stretch", root=nets)
    assert len(r["frames"]) == r["count"] == 4 + 3 - 1
    assert [p.name for p in r["frames"]][:2] == ["0001.png", "0002.png"]
    first = np.asarray(Image.open(r["frames"][0]), np.float32) / 255
    from morphlib.weights import load_numbered
    np.testing.assert_allclose(first, render(load_numbered(1, 6, nets), 16, 24), atol=0.51 / 255)
    last = np.asarray(Image.open(r["frames"][-1]), np.float32) / 255
    np.testing.assert_allclose(last, render(load_numbered(3, 6, nets), 16, 24), atol=0.51 / 255)
    with Image.open(r["gif"]) as g:
        assert g.n_frames == 6 and g.size == (24, 16)
    assert r["mp4"].stat().st_size > 100 and r["mp4"].read_bytes()[4:8] == b"ftyp"
    again = write_transition("1>2:3", hidden=6, size=8, out=out, movies=(), root=nets)
    assert again["removed_old"] == 6 and len(list((out / "transition").glob("*.png"))) == 3
    with pytest.raises(MorphError, match="positive"):
        write_transition("1>2:3", hidden=6, size="0x8", out=out, root=nets)
    assert len(list((out / "transition").glob("*.png"))) == 3  # a bad size removed nothing


def test_clear_errors(nets):
    with pytest.raises(MorphError, match="picture 5 has no weights.*learn img/5.png --hidden 6"):
        write_transition("1>5:4", hidden=6, size=8, out=nets / "r", root=nets)
    with pytest.raises(MorphError, match="different encodings"):
        write_transition("1>7:4", hidden=6, size=8, out=nets / "r", root=nets)
    with pytest.raises(MorphError, match="H=6, not H=9"):
        (nets / "W-6").rename(nets / "W-9")
        write_transition("1>2:4", hidden=9, size=8, out=nets / "r", root=nets)


@pytest.mark.parametrize("kind", ["plain", "fourier"])
def test_alignment_is_a_pure_reordering_that_brings_nets_closer(kind):
    enc = make_encoding(kind, features=4)
    a, b = init_net(12, enc, seed=1), init_net(12, enc, seed=2)
    if b.has_biases:
        b.params = {k: v + 0.1 * np.arange(v.shape[-1], dtype=np.float32) for k, v in b.params.items()}
    perm = np.random.default_rng(0).permutation(12)
    shuffled = permute(a, perm, perm[::-1])
    np.testing.assert_allclose(render(shuffled, 9), render(a, 9), atol=1e-6)
    back = align(a, shuffled)  # a shuffled copy of A aligns back onto A exactly
    for k in a.params:
        np.testing.assert_allclose(back.params[k], a.params[k], atol=1e-6)
    aligned = align(a, b)
    np.testing.assert_allclose(render(aligned, 9), render(b, 9), atol=1e-5)
    dist = lambda x: sum(np.sum((x.params[k] - a.params[k]) ** 2) for k in a.params)  # noqa: E731
    assert dist(aligned) < dist(b)


def test_strip_and_smoothness():
    from bench.metrics import smoothness, strip

    a, b = np.zeros((4, 6, 3), np.float32), np.ones((4, 6, 3), np.float32)
    fade = [a + (b - a) * k / 10 for k in range(11)]
    assert smoothness(fade) == pytest.approx((0.1, 0.1))
    jumpy = fade[:5] + [b] * 6
    assert smoothness(jumpy)[0] == pytest.approx(0.6)
    s = strip(fade, count=3, height=8)
    assert s.shape == (8, 36, 3) and s[0, 0, 0] == 0 and s[0, -1, 0] == 1


@pytest.mark.parametrize("kind", ["fourier", "legacy"])
def test_crop_shows_the_middle_of_the_picture_and_pad_all_of_it(kind):
    a, b = (init_net(6, make_encoding(kind, features=4), seed=s) for s in (1, 2))
    plan, nets = frame_plan(parse_sequence("a>b:3")), {"a": a, "b": b}
    square = render(a, 16)  # a square picture stays round: 16x8 shows its middle rows, unstretched
    crop = next(Plan.of(plan, nets, "16x8").render())
    np.testing.assert_allclose(crop, square[4:12], atol=1e-6)
    np.testing.assert_allclose(next(Plan.of(plan, nets, "8x16").render()), square[:, 4:12], atol=1e-6)
    pad = next(Plan.of(plan, nets, "16x8", fit="pad").render())
    assert not pad[:, :4].any() and not pad[:, 12:].any()
    np.testing.assert_allclose(pad[:, 4:12], render(a, 8), atol=1e-6)
    np.testing.assert_allclose(next(Plan.of(plan, nets, "16x8", fit="stretch").render()), render(a, 8, 16), atol=1e-6)
    with pytest.raises(MorphError, match="unknown fit"):
        next(Plan.of(plan, nets, 8, fit="zoom").render())


@pytest.mark.parametrize(("size", "fit"), [("8x14", "pad"), ("14x8", "pad"), ("8x14", "crop")])
def test_bands_of_rows_put_together_are_the_whole_frames(size, fit):
    a, b = (init_net(6, make_encoding("fourier", features=4), seed=s) for s in (1, 2))
    plan, nets = frame_plan(parse_sequence("a>b:4")), {"a": a, "b": b}
    whole = list(Plan.of(plan, nets, size, fit=fit).render(uint8=True))
    h = whole[0].shape[0]
    bands = [(0, 2), (2, h // 2), (h // 2, h - 1), (h - 1, h)]  # in the bars, across their edges, in the picture
    parts = [list(Plan.of(plan, nets, size, fit=fit).render(uint8=True, band=band)) for band in bands]
    for i, frame in enumerate(whole):
        np.testing.assert_array_equal(np.concatenate([part[i] for part in parts]), frame)


def test_pictures_keep_the_shape_they_were_learned_at(nets):
    wide = init_net(6, seed=5)
    save_net(wide, weights_file(5, 6, nets), image_size=[8, 16])  # a 2:1 picture
    save_net(init_net(6, seed=6), weights_file(6, 6, nets), image_size=[8, 16])
    first = write_transition("5>6:3", hidden=6, size=16, out=nets / "r", root=nets)["frames"][0]
    np.testing.assert_allclose(np.asarray(Image.open(first), np.float32) / 255, render(wide, 16, 32)[:, 8:24],
                               atol=0.51 / 255)
    mixed = write_transition("1>5:3", hidden=6, size=16, fit="pad", out=nets / "r", root=nets)
    bars = [np.asarray(Image.open(p))[0].any(axis=1) for p in mixed["frames"]]  # top row: black in a bar
    assert bars[0].all() and not bars[-1].any()  # square at 1, 2:1 at 5 (bars above and below)
