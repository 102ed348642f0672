"""Warps: a user's points (checked), the maps they make, matched features, and frames rendered through them."""
import json

import numpy as np
import pytest
from scipy.interpolate import RBFInterpolator

from conftest import nets_dir
from morphlib.cli import main
from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.net import init_net
from morphlib.render import render_at, render_morph, render_warped
from morphlib.warp import SMOOTHING, Warp, link_warp, points_file, read_points, saved_points, write_points

TURN, ZOOM, SHIFT = np.deg2rad(25), 1.25, np.array([0.08, 0.08])
ROT = np.array([[np.cos(TURN), -np.sin(TURN)], [np.sin(TURN), np.cos(TURN)]]) * ZOOM


def similarity(p):
    return 0.5 + (p - 0.5) @ ROT.T + SHIFT


def pairs(f=similarity, count=5):
    c = np.linspace(0.25, 0.7, count)
    pa = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2)
    return np.concatenate([pa, f(pa)], axis=1).astype(np.float32)


def test_the_warp_takes_each_a_point_onto_its_b_point_and_is_the_identity_at_the_ends():
    pts = pairs()
    pa, pb = pts[:, :2], pts[:, 2:]
    w = Warp(pts)
    at_a, at_b = w.maps(0.0, pa)
    np.testing.assert_array_equal(at_a, pa)  # frame 0 is A, untouched
    np.testing.assert_allclose(at_b, pb, atol=1e-3)
    at_a, at_b = w.maps(1.0, pb)
    np.testing.assert_array_equal(at_b, pb)  # frame 1 is B, untouched
    np.testing.assert_allclose(at_a, pa, atol=1e-3)
    for t in (0.5, 1.5):  # halfway, and half a link beyond B (--beyond): each pair (1 - t) a + t b
        at_a, at_b = w.maps(t, (1 - t) * pa + t * pb)
        np.testing.assert_allclose(at_a, pa, atol=1e-3)
        np.testing.assert_allclose(at_b, pb, atol=1e-3)


@pytest.mark.parametrize("data, says", [
    ([[0.1, 0.2, 1.3, 0.4]], "pair 1 .* outside the picture"),
    ([[0.1, 0.2, 0.3, 0.4], [0.1, -0.01, 0.3, 0.4]], "pair 2 .* outside the picture"),
    ([[0.1, 0.2, 0.3]], "four numbers each"),
    ({"a": 1}, "a list of pairs"),
    ([[0.1, float("nan"), 0.3, 0.4]], "pair 1 holds a value that is not a number"),
    ([], "empty"),
])
def test_bad_points_files_are_refused_with_what_is_wrong(tmp_path, data, says):
    path = tmp_path / "points.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MorphError, match=says):
        read_points(path)


def test_a_points_file_that_is_not_json_or_not_there_is_refused(tmp_path):
    (tmp_path / "p.json").write_text("[[0.1, 0.2, 0.3, 0.4]")
    with pytest.raises(MorphError, match="not JSON"):
        read_points(tmp_path / "p.json")
    with pytest.raises(MorphError, match="not found"):
        read_points(tmp_path / "none.json")


def test_a_links_saved_points_serve_it_both_ways(tmp_path):
    pts = pairs()
    write_points(points_file("1", "2", tmp_path), pts)
    np.testing.assert_allclose(saved_points("1", "2", tmp_path), pts, atol=1e-5)
    np.testing.assert_allclose(saved_points("2", "1", tmp_path), pts[:, [2, 3, 0, 1]], atol=1e-5)
    assert saved_points("1", "3", tmp_path) is None


def least_jacobian(maps, t, side=64):
    """The smallest Jacobian determinant of frame t's maps onto A and B over a side x side grid (differences)."""
    c = (np.arange(side) + 0.5) / side
    xy = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2).astype(np.float32)
    dets = []
    for m in maps(t, xy):
        m = m.reshape(side, side, 2) * side
        dx, dy = np.diff(m, axis=1)[:-1], np.diff(m, axis=0)[:, :-1]
        dets.append((dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]).min())
    return min(dets)


def test_points_that_would_fold_the_frame_are_smoothed_until_nothing_folds():
    pts = pairs(lambda p: p, count=4)
    pts[5, 2:], pts[6, 2:] = pts[6, 2:].copy(), pts[5, 2:].copy()  # two neighbours swap places: a fold
    spline = RBFInterpolator(pts[:, :2], pts[:, 2:] - pts[:, :2], kernel="thin_plate_spline", degree=1)
    assert least_jacobian(lambda t, xy: (xy, xy + spline(xy)), 0.0) < 0  # through the pairs exactly: it folds
    w = Warp(pts)
    assert w.smoothing > SMOOTHING["points"]
    assert min(least_jacobian(w.maps, t) for t in (0.0, 0.25, 0.5, 0.75, 1.0)) > 0


def moved(net, f):
    """A plain net drawing `net`'s picture moved by the affine map f: its inputs (x, y, 1) go through f^-1."""
    m = np.vstack([np.column_stack([ROT, SHIFT + 0.5 - ROT @ [0.5, 0.5]]), [0, 0, 1]])
    inv = np.linalg.inv(m)  # (x, y, 1) -> f^-1's (x, y, 1)
    out = net.copy()
    out.params["W1"] = (inv.T @ net.params["W1"]).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def plain_pair():
    a = init_net(24, make_encoding("plain"), seed=3)
    a.params["W1"] *= 20  # a picture with some shapes in it, not a flat grey
    a.params["W3"] *= 6
    return a, moved(a, similarity)


def test_exact_points_give_the_ideal_middle_frame(plain_pair):
    a, b = plain_pair
    side = 48
    c = (np.arange(side) + 0.5) / side
    frame = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2)
    halfway = np.linalg.inv((np.eye(2) + ROT) / 2)  # the ideal middle draws A's p at (p + f(p)) / 2
    ideal = render_at(a, (frame - (0.5 + SHIFT / 2)) @ halfway.T + 0.5).reshape(side, side, 3)
    fade = (render_morph(a, None, [0.0], side)[0] + render_morph(b, None, [0.0], side)[0]) / 2
    for blend in ("colour", "weights"):
        mid = render_warped(a, b, [0.5], Warp(pairs()).maps, side, blend=blend)[0]
        assert np.abs(mid - ideal).max() < 1e-4
    assert np.abs(fade - ideal).max() > 0.04  # a cross-fade is far from it


def test_the_ends_of_a_warped_link_are_the_nets_pictures(plain_pair):
    a, b = plain_pair
    ends = render_warped(a, b, [0.0, 1.0], Warp(pairs()).maps, 24, 20, uint8=True)
    np.testing.assert_array_equal(ends[0], render_morph(a, None, [0.0], 24, 20, uint8=True)[0])
    np.testing.assert_array_equal(ends[1], render_morph(b, None, [0.0], 24, 20, uint8=True)[0])


def test_auto_on_pictures_with_nothing_to_match_falls_back_in_one_line():
    flat = init_net(8, make_encoding("plain"), seed=0)  # a plain net from its start: a flat grey
    warp, line = link_warp("1", "2", flat, flat.copy())
    assert warp.maps is None  # blended where they are
    assert "nothing moves" in line and "\n" not in line


def test_a_link_that_does_not_move_is_a_cross_fade_or_the_weight_morph(plain_pair):
    a, b = plain_pair
    ts = [0.0, 0.3, 1.0]
    fade = render_warped(a, b, ts, None, 16)
    ends = render_morph(a, b, [0.0, 1.0], 16)
    np.testing.assert_allclose(fade[1], 0.7 * ends[0] + 0.3 * ends[1], atol=1e-6)
    np.testing.assert_array_equal(fade[[0, 2]], ends)
    np.testing.assert_array_equal(render_warped(a, b, ts, None, 16, blend="weights"), render_morph(a, b, ts, 16))


def test_warp_points_without_points_is_refused(tmp_path):
    flat = init_net(8, make_encoding("plain"), seed=0)
    with pytest.raises(MorphError, match="has no points"):
        link_warp("1", "2", flat, flat, warp="points", folder=tmp_path)


@pytest.mark.parametrize("points, args, says", [
    ([[0.1, 0.2, 0.3]], [], "four numbers each"),
    ([[0.1, 0.2, 0.3, 2.0]], [], "outside the picture"),
    ([[0.1, 0.2, 0.3, 0.4]], ["--warp", "none"], "warp is none"),
])
def test_the_command_line_refuses_bad_points_in_one_line(tmp_path, monkeypatch, capsys, points, args, says):
    nets_dir(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps(points))
    monkeypatch.chdir(tmp_path)
    assert main(["transition", "1>2:3", "-H", "6", "--size", "8", "--points", "p.json", *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_points_for_a_chain_are_refused_and_the_notes_say_where_each_links_pairs_came_from(tmp_path, monkeypatch,
                                                                                          capsys):
    nets_dir(tmp_path, kinds=("plain", "plain", "plain"))
    write_points(points_file("2", "3", tmp_path / "W-6"), pairs())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps(pairs().tolist()))
    assert main(["transition", "1>2:3, 2>3:3", "-H", "6", "--size", "8", "--points", "p.json", "--quiet"]) == 2
    assert "several" in capsys.readouterr().err
    assert main(["transition", "1>2:3, 3>2:3", "-H", "6", "--size", "8", "--warp", "points", "--quiet"]) == 2
    assert "link 1>2 has no points" in capsys.readouterr().err
    assert main(["transition", "2>3:3, 3>2:3", "-H", "6", "--size", "8", "--warp", "points", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "warp 2>3: 25 points saved in W-6/points/" in out and "warp 3>2: 25 points saved" in out


def test_one_pair_shifts_the_picture_and_two_turn_and_zoom_it():
    xy = np.array([[0.1, 0.9], [0.5, 0.5]], np.float32)
    at_a, at_b = Warp([[0.2, 0.2, 0.4, 0.3]]).maps(0.5, xy)
    np.testing.assert_allclose(at_a, xy - [0.1, 0.05], atol=1e-5)
    np.testing.assert_allclose(at_b, xy + [0.1, 0.05], atol=1e-5)
    two = pairs()[[0, -1]]  # two pairs of the similarity: the similarity itself, everywhere
    np.testing.assert_allclose(Warp(two).maps(0.0, xy)[1], similarity(xy), atol=1e-4)
