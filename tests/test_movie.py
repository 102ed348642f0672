"""Frames streamed into movies: MP4 frame counts, GIF sizes, PNGs only when asked, nothing half-written."""
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from conftest import nets_dir
from morphlib.movie import Movie, write_movie
from morphlib.transition import write_transition


@pytest.fixture
def nets(tmp_path):
    return nets_dir(tmp_path, 6, ("fourier", "fourier"))


def test_streamed_mp4_has_the_planned_frames_and_no_pngs(nets):
    r = write_transition("1>2:7", hidden=6, size="34x20", out=nets / "r", movies=("mp4", "gif"), gif_size=10,
                         root=nets)
    assert r["count"] == 7 and r["frames"] == [] and not (nets / "r" / "transition").exists()
    assert imageio_ffmpeg.count_frames_and_secs(str(r["mp4"]))[0] == 7
    with Image.open(r["gif"]) as g:
        assert g.n_frames == 7 and g.size == (10, 6)  # the longer side is gif_size
    only = write_transition("1>2:3", hidden=6, size=8, out=nets / "r", name="pngs", root=nets)
    assert [p.name for p in only["frames"]] == ["0001.png", "0002.png", "0003.png"] and "mp4" not in only


def test_a_failed_movie_leaves_the_old_one_and_no_temp_files(tmp_path):
    frame = np.full((6, 8, 3), 0.5, np.float32)
    old = write_movie([frame] * 3, {"mp4": tmp_path / "m.mp4", "gif": tmp_path / "m.gif"}, fps=5)
    before = {p: p.read_bytes() for p in old.paths.values()}
    with pytest.raises(RuntimeError):
        with Movie(5, {"mp4": tmp_path / "m.mp4", "gif": tmp_path / "m.gif"}) as m:
            m.add(frame)
            raise RuntimeError("rendering failed")
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gif", "m.mp4"]


def test_odd_sizes_and_frames_from_files(tmp_path):
    frames = [np.random.default_rng(i).integers(0, 256, (5, 7, 3), dtype=np.uint8) for i in range(3)]
    pngs = write_movie(frames, fps=5, folder=tmp_path / "f").pngs
    movie = write_movie(pngs, {"mp4": tmp_path / "odd.mp4"}, fps=5)
    assert movie.count == 3 and imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "odd.mp4"))[0] == 3
    np.testing.assert_array_equal(np.asarray(Image.open(pngs[1])), frames[1])


def test_a_webm_holds_every_frame_at_its_size(nets):
    r = write_transition("1>2:5", hidden=6, size="15x9", out=nets / "r", movies=("webm",), root=nets)
    frames = imageio_ffmpeg.read_frames(str(r["webm"]))
    assert next(frames)["size"] == (15, 9) and len(list(frames)) == 5  # odd sides stay: VP9 takes them
    assert r["webm"].read_bytes()[:4] == b"\x1aE\xdf\xa3"  # Matroska's (WebM's) signature
