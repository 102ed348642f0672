"""Bad input the robustness table in docs/robustness.md promises a clear answer for (the rest is tested beside
the code it concerns)."""
import errno
import importlib
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import replace
from math import inf, nan

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, gradient_picture, nets_dir
from morphlib import checks, hybrid, movie, parallel, threads, transition, weights
from morphlib.cli import main
from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.hybrid import Blender, hybrid_fft
from morphlib.images import load_image, save_image
from morphlib.learn import Job, learn
from morphlib.net import LAYERS, init_net
from morphlib.train import train
from morphlib.transition import frame_plan, parse_sequence, parse_size, write_transition
from morphlib.weights import load_legacy, load_net, load_numbered, save_net, weights_dir, weights_file

training, rendering = (importlib.import_module(f"morphlib.{m}") for m in ("train", "render"))  # not the functions
PIC = gradient_picture(12, 12)


@pytest.fixture
def nets(workspace):
    """img/ and two tiny plain nets in W-4/."""
    return nets_dir(workspace, 4)


def png_header_only(path, width, height):
    """A PNG that claims to be width x height: opening it decodes nothing, as a decompression bomb would."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_huge_pictures_are_refused_before_decoding(tmp_path, side):
    with pytest.raises(MorphError, match="too big"):
        load_image(png_header_only(tmp_path / "bomb.png", side, side))


def test_unwritable_result_folder(tmp_path):
    nets_dir(tmp_path, 4)
    blocker = tmp_path / "result"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(MorphError, match="cannot write into"):
        write_transition("1>2:2", hidden=4, size=8, out=blocker, root=tmp_path)


# Numbers, names and sizes are refused at the boundary (morphlib/checks.py), naming the option, before any work.
@pytest.mark.parametrize("call, option", [
    (lambda: Job(batch=-1), "batch"), (lambda: Job(batch=0), "batch"), (lambda: Job(max_side=0), "max_side"),
    (lambda: Job(features=0), "features"), (lambda: Job(sigma=-1.0), "sigma"), (lambda: Job(sigma=nan), "sigma"),
    (lambda: Job(seed=-1), "seed"), (lambda: Job(lr=nan), "lr"), (lambda: Job(hidden=10**9), "hidden"),
    (lambda: train(init_net(4), gradient_picture(), batch=0), "batch"),
    (lambda: train(init_net(4), gradient_picture(), time_limit=nan), "time_limit"),
    (lambda: make_encoding("fourier", features=0), "features"), (lambda: parse_size("40x20x7"), "size"),
    (lambda: parse_size("512x"), "size"), (lambda: parse_size(100_000), "size"),
    (lambda: frame_plan(parse_sequence("1>2:3"), beyond=-0.5), "beyond"),
    (lambda: frame_plan(parse_sequence("1>2:3"), beyond=inf), "beyond"),
    (lambda: hybrid_fft(PIC, PIC, nan), "sigma"), (lambda: hybrid_fft(PIC, PIC, m_precise=-1), "m_precise"),
    (lambda: Blender(PIC, PIC, m_precise=nan), "m_precise"), (lambda: Blender(PIC, PIC, lr=nan), "lr"),
    (lambda: Blender(PIC, PIC, sigma=nan), "sigma"), (lambda: Blender(PIC, PIC, kernel_size=0), "kernel_size"),
])
def test_bad_numbers_name_the_option(call, option):
    with pytest.raises(MorphError, match=f"^{option}"):
        call()


def test_bad_transition_options_fail_before_any_file_is_touched(nets):
    for kw, option in [({"fps": nan}, "fps"), ({"fps": -1}, "fps"), ({"name": ""}, "name"), ({"name": "a/b"}, "name"),
                       ({"hidden": -1}, "hidden"), ({"size": "40x20x7"}, "size")]:
        with pytest.raises(MorphError, match=f"^{option}"):
            write_transition("1>2:3", **{"hidden": 4, "size": 8, "out": nets / "result", "root": nets, **kw})
    assert not (nets / "result").exists()


def test_huge_frame_counts_are_refused_at_once():
    for text, beyond in (("1>2:1000000000", 0.0), ("1>2:100", 5000.0)):
        with pytest.raises(MorphError, match="more than 100,000"):
            frame_plan(parse_sequence(text), beyond=beyond, pingpong=True)


def test_float_tiff_is_scaled_by_its_range(tmp_path):
    for top, scale in ((1.0, 1.0), (255.0, 255.0), (4095.0, 65535.0)):
        Image.fromarray(np.linspace(0, top, 12, dtype=np.float32).reshape(3, 4), "F").save(tmp_path / "f.tif")
        np.testing.assert_allclose(load_image(tmp_path / "f.tif")[..., 0].ravel(), np.linspace(0, top, 12) / scale,
                                   atol=1e-6)
    Image.fromarray(np.array([[-2.0, 0.0, 2.0]], np.float32), "F").save(tmp_path / "s.tif")
    np.testing.assert_allclose(load_image(tmp_path / "s.tif")[0, :, 0], [0, 0.5, 1])


def test_hybrid_takes_uint8_pictures_and_refuses_out_of_range_floats():
    near8, far8 = (np.round(p * 255).astype(np.uint8) for p in (PIC, PIC[::-1]))
    as_float = hybrid_fft(near8 / np.float32(255), far8 / np.float32(255)).image
    np.testing.assert_allclose(hybrid_fft(near8, far8).image, as_float, atol=1e-6)
    with pytest.raises(MorphError, match="divide 0..255 values by 255"):
        hybrid_fft(near8.astype(np.float32), far8)
    with pytest.raises(MorphError, match="near picture"):
        hybrid_fft(np.full_like(PIC, nan), PIC)


def _fourier_file(tmp_path, **change):
    path = save_net(init_net(4, make_encoding("fourier", features=3), seed=1), tmp_path / "f.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(path, **{**arrays, **change})
    return path


@pytest.mark.parametrize("change, says", [
    ({"fourier_B": np.full((2, 3), np.inf, np.float32)}, "non-finite"),
    ({"fourier_B": np.zeros(6, np.float32)}, r"shape \(6,\), not \(2, 3\)"),
    ({"extra": np.zeros(2, np.float32)}, r"does not have \(extra\)"),
    ({"W2": np.array([["a"] * 4] * 4)}, "not numbers"),
])
def test_bad_weights_are_refused_with_what_is_wrong(tmp_path, change, says):
    with pytest.raises(MorphError, match=says):
        load_net(_fourier_file(tmp_path, **change))


def test_renamed_npy_and_zip_bombs_are_refused_unread(tmp_path, monkeypatch):
    np.save(tmp_path / "w.npy", np.zeros((3, 3), np.float32))
    (tmp_path / "w.npy").rename(tmp_path / "w.npz")
    with pytest.raises(MorphError, match="not a .npz archive"):
        load_net(tmp_path / "w.npz")
    path = save_net(init_net(30, seed=1), tmp_path / "big.npz")
    monkeypatch.setattr(weights, "MAX_BYTES", 1000)
    with pytest.raises(MorphError, match="unpacks to"):
        load_net(path)


def test_legacy_net_of_another_hidden_size_is_refused(tmp_path):
    folder = weights_dir(8, tmp_path)
    folder.mkdir()
    net = init_net(30, seed=1)
    for k, name in zip(LAYERS, ("W1", "W2", "W3")):
        np.save(folder / f"w1_{k}.npy", net.params[name].T)
    with pytest.raises(MorphError, match="H=30, not H=8"):
        load_numbered(1, 8, tmp_path)
    np.save(folder / "w1_2.npy", np.zeros(5))
    with pytest.raises(MorphError, match="not a 2-D array"):
        load_legacy(folder, 1)


def test_a_rerun_without_movies_removes_the_earlier_runs_movies(nets):
    out = nets / "result"
    first = write_transition("1>2:3", hidden=4, size=8, out=out, movies=("gif",), root=nets)
    (out / "mine.gif").write_bytes(b"a user's file")
    again = write_transition("1>2:3", hidden=4, size=8, out=out, root=nets)
    assert again["removed_movies"] == [first["gif"]] and not first["gif"].exists() and (out / "mine.gif").exists()


def test_output_folder_and_full_disk_give_one_line(nets, monkeypatch, capsys):
    monkeypatch.chdir(nets)
    (nets / "result").mkdir()
    assert main(["hybrid", "img/1.png", "img/2.png", "-o", "result"]) == 2
    assert capsys.readouterr().err.startswith("error: output 'result' names a folder")

    def full(path, rgb):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(movie, "save_image", full)
    assert main(["transition", "1>2:3", "-H", "4", "--size", "8", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device): free some disk space" in err


def test_ctrl_c_while_rendering_keeps_whole_frames(nets, monkeypatch, capsys):
    monkeypatch.chdir(nets)
    calls, render = [], transition.render_morph

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return render(*args, **kw)

    monkeypatch.setattr(transition, "render_morph", interrupted)
    monkeypatch.setattr(transition, "GROUP", 1)  # a frame per render
    assert main(["transition", "1>2:5", "-H", "4", "--size", "8", "--warp", "none", "--quiet"]) == 130
    assert capsys.readouterr().err == ("interrupted after 2 frames: no movie was written; PNG frames "
                                          "written are complete\n")
    assert [load_image(p).shape for p in sorted((nets / "result" / "transition").glob("*.png"))] == [(8, 8, 3)] * 2


def test_ctrl_c_during_a_hybrid_saves_the_picture_so_far(tmp_path, monkeypatch, capsys):
    run = hybrid.Blender.run

    def interrupted_at_3(self, steps=200, on_step=None, every=10):
        def stop(i, n, parts):
            if i == 3:
                raise KeyboardInterrupt

        return run(self, steps, on_step=stop, every=1)

    monkeypatch.setattr(hybrid.Blender, "run", interrupted_at_3)
    for n in (1, 2):
        save_image(tmp_path / f"{n}.png", PIC[:, ::n])
    out = tmp_path / "h.png"
    assert main(["hybrid", str(tmp_path / "1.png"), str(tmp_path / "2.png"), "-o", str(out), "--steps", "9"]) == 130
    assert capsys.readouterr().err == f"interrupted at step 3 of 9: the picture so far is in {out}\n"
    assert load_image(out).shape == PIC.shape


def test_ctrl_c_during_import_exits_quietly():
    stop = ("import runpy, sys\n"
            "class Stop:\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name == 'morphlib.cli': raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Stop())\n"
            "sys.argv = ['morphlib', 'demo']\n"
            "runpy.run_module('morphlib', run_name='__main__')\n")
    r = subprocess.run([sys.executable, "-c", stop], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (130, "interrupted\n")


def test_a_learned_picture_that_drops_is_converged_not_exploded(monkeypatch):
    scores = iter([10.0, 50.0] + [40.0] * 10)
    for module in (training, rendering):  # the start's measure, then each epoch's
        monkeypatch.setattr(module, "psnr", lambda mse: next(scores))
    r = train(init_net(4, seed=0), gradient_picture(), epochs=12)
    assert (r.stopped, r.psnr, r.epochs) == ("converged", 50.0, 1) and "learning rate" not in r.message


def test_render_and_train_use_one_blas_thread(monkeypatch):
    blas = threads._BLAS.select(user_api="blas").lib_controllers  # numpy's, loaded before morphlib
    counts = lambda: [lib.num_threads for lib in blas]  # noqa: E731
    seen, gradients, before = [], training.gradients, counts()

    def spy(*args, **kwargs):
        seen.append(counts())
        return gradients(*args, **kwargs)

    monkeypatch.setattr(training, "gradients", spy)
    train(init_net(4), gradient_picture(), epochs=1, batch=10_000)
    assert blas and seen == [[1] * len(blas)] and counts() == before


# Third pass (issue 20): what used to end in a traceback, a misleading message, or silently wrong.
def _with_meta(path, **changes):
    """The weights file at `path` rewritten with its metadata changed."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = {**json.loads(str(arrays["meta"])), **changes}
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("image_size", [0, -3, "x", "12", [5], [0, 4], [4, -1], [4.5, 4], [True, 4], [4, 4, 4],
                                        {"h": 4}, [4, 10**9]])
def test_damaged_image_size_is_named(tmp_path, image_size):
    nets_dir(tmp_path, 4)
    _with_meta(weights_file(2, 4, tmp_path), image_size=image_size)
    for call in (lambda: load_net(weights_file(2, 4, tmp_path)),
                 lambda: write_transition("1>2:2", hidden=4, size=8, out=tmp_path / "r", root=tmp_path)):
        with pytest.raises(MorphError, match="W-4/2.npz has a damaged image_size .* retrain it"):
            call()
    assert not (tmp_path / "r").exists()


def test_a_net_with_some_biases_and_a_zip_of_other_members_are_refused(tmp_path):
    net = init_net(4, biases=True, seed=1)
    del net.params["b2"]
    with pytest.raises(MorphError, match="does not hold a valid plain net"):
        load_net(save_net(net, tmp_path / "W-4" / "1.npz"))
    with pytest.raises(MorphError, match="does not hold a valid plain net"):
        Job(picture=1, hidden=4, encoding="plain", resume=True, root=tmp_path).start_net()
    good = save_net(init_net(4, seed=1), tmp_path / "good.npz")
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(tmp_path / "odd.npz", "w") as out:
        for name in z.namelist():  # W1 as a member that is not an array: np.load gives its bytes
            out.writestr(name.removesuffix(".npy") if name == "W1.npy" else name, b"text" if name == "W1.npy" else
                         z.read(name))
    with pytest.raises(MorphError, match="odd.npz holds arrays a morphlib net does not have \\(not numbers\\)"):
        load_net(tmp_path / "odd.npz")


@pytest.mark.parametrize("fps", [1e-300, 1e-5, 0.009, 5e3])
def test_fps_out_of_range_is_refused(tmp_path, fps):
    nets_dir(tmp_path, 4)
    with pytest.raises(MorphError, match="^fps .* is not allowed: give a finite number at least 0.01 and at most 1000"):
        write_transition("1>2:2", hidden=4, size=8, movies=("gif",), fps=fps, out=tmp_path / "r", root=tmp_path)
    with pytest.raises(MorphError, match="^fps"):
        movie.write_movie([np.zeros((4, 4, 3), np.uint8)], {"gif": tmp_path / "m.gif"}, fps=fps)


@pytest.mark.parametrize("name", ["²", "³4", "٣", "1²"])
def test_pictures_named_with_other_digits_are_names_not_numbers(workspace, name):
    save_image(workspace / "img" / f"{name}.png", gradient_picture(8, 8))
    result, path = learn(Job(picture=workspace / "img" / f"{name}.png", hidden=4, epochs=2, encoding="plain",
                             root=workspace))
    assert path == weights_file(name, 4, workspace)
    with pytest.raises(MorphError, match=f"picture {name} not found"):
        Job(picture=name, hidden=4, root=workspace).target()


@pytest.mark.parametrize("side", ["20000x2", "2x16386", "16385x8"])
def test_an_mp4_too_big_for_x264_is_refused_before_anything(tmp_path, side):
    nets_dir(tmp_path, 4)
    with pytest.raises(MorphError, match=f"at most 16384 pixels wide and high .* not {side}: give a smaller size"):
        write_transition("1>2:2", hidden=4, size=side, movies=("mp4",), out=tmp_path / "r", root=tmp_path)
    assert not (tmp_path / "r").exists()
    with pytest.raises(MorphError, match="at most 16384"):
        movie.write_movie([np.zeros((2, 20000, 3), np.uint8)], {"mp4": tmp_path / "m.mp4"}, fps=24)
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*"))


def test_an_mp4_ffmpeg_writes_nothing_into_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setitem(movie.FORMATS, "mp4", replace(movie.FORMATS["mp4"], max_side=10**6))  # x264 refuses it
    with pytest.raises(MorphError, match="ffmpeg wrote no video into"):
        movie.write_movie([np.zeros((2, 20000, 3), np.uint8)], {"mp4": tmp_path / "m.mp4"}, fps=24)
    assert not list(tmp_path.iterdir())


# The Python API given the wrong kind of value: a MorphError naming the argument, never a deep TypeError.
@pytest.mark.parametrize("call, argument", [
    (lambda root: Job(picture=None), "picture"), (lambda root: Job(picture=[1]), "picture"),
    (lambda root: Job(root=None), "root"), (lambda root: Job(resume="no"), "resume"),
    (lambda root: Job(encoding=["plain"]), "encoding"), (lambda root: Job(activation=5), "activation"),
    (lambda root: write_transition(3, hidden=4, size=8, root=root), "sequence"),
    (lambda root: write_transition([("1", "2")], hidden=4, size=8, root=root), "sequence"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, out=None, root=root), "out"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, root=None), "root"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, name=None, root=root), "name"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, movies="yes", root=root), "movies"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, gif=True, root=root), "gif"),  # before movies=
    (lambda root: write_transition("1>2:2", hidden=4, size=8, on_frame=5, root=root), "on_frame"),
    (lambda root: Blender("img/1.png", "img/2.png"), "near picture"),
    (lambda root: hybrid_fft(PIC, {}), "far picture"),
    (lambda root: parallel.learn_all(None), "items"), (lambda root: parallel.learn_all([1], job=3), "job"),
    (lambda root: parallel.learn_all([1], on_picture="print"), "on_picture"),
    (lambda root: parallel.client(2, scheduler=8786).__enter__(), "scheduler"),
    (lambda root: parallel.learn_all([1], client="tcp://HOST:8786"), "client"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, client=2, root=root), "client"),
    (lambda root: rendering.render(None, 8), "net"),
    (lambda root: rendering.render(init_net(4), 8, window=(0, 1)), "window"),
    (lambda root: train(init_net(4), "img/1.png"), "image"), (lambda root: train(init_net(4), PIC, stop=True), "stop"),
    (lambda root: save_net("net", root / "x.npz"), "net"), (lambda root: save_net(init_net(4), None), "path"),
    (lambda root: load_net(None), "path"), (lambda root: load_numbered(1, "x", root), "hidden"),
    (lambda root: load_image(3), "path"), (lambda root: save_image(root / "x.png", "pixels"), "rgb"),
    (lambda root: init_net(4, encoding="fourier"), "encoding"), (lambda root: init_net(4, seed="x"), "seed"),
    (lambda root: frame_plan([("1", "2", 3)], loop="yes"), "loop"),
])
def test_wrong_types_in_the_api_name_the_argument(tmp_path, call, argument):
    nets_dir(tmp_path, 4)
    with pytest.raises(MorphError) as e:
        call(tmp_path)
    assert argument in str(e.value).split(":")[0] or str(e.value).startswith(f"unknown {argument}"), e.value
    assert not (tmp_path / "result").exists()


def test_links_as_tuples_are_links():
    assert frame_plan([("1", "2", 3), (2, 3, 2)]) == frame_plan(parse_sequence("1>2:3, 2>3:2"))


# Options that contradict each other, or ask for nothing: refused rather than one silently winning.
@pytest.mark.parametrize("call, message", [
    (lambda root: Job(resume=True, init_from=2), "resume and init_from 2 both say where to start"),
    (lambda root: Job(seed_exact=True, batch=64), "seed_exact is the original project's net exactly .* cannot take "
                                                   "batch 64"),
    (lambda root: Job(seed_exact=True, encoding="plain", activation="relu"), "cannot take encoding 'plain', "
                                                                             "activation 'relu'"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, frames=False, root=root),
     r"frames=False \(--no-frames\) and no movie: nothing would be written"),
    (lambda root: Job(encoding="plain", features=64, sigma=3.0), "features, sigma only shape Fourier inputs, and "
                                                                  "encoding plain has none"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, fps=10, root=root), "fps 10 has no effect without a "
                                                                                  "movie"),
    (lambda root: write_transition("1>2:2", hidden=4, size=8, movies=("mp4",), gif_size=128, root=root),
     r"gif_size 128 has no effect without a GIF \(--gif\)"),
])
def test_contradictions_and_nothing_to_do_are_refused(tmp_path, call, message):
    nets_dir(tmp_path, 4)
    with pytest.raises(MorphError, match=message):
        call(tmp_path)
    assert Job(seed_exact=True, batch=1, encoding="seed").batch == 1  # what seed_exact sets anyway is fine


def test_contradictions_on_the_command_line(nets, monkeypatch, capsys):
    monkeypatch.chdir(nets)
    for argv, message in ((["learn", "1", "-H", "4", "--resume", "--init-from", "2"], "both say where to start"),
                          (["learn", "1", "--seed-exact", "--batch", "64"], "cannot take batch 64"),
                          (["transition", "1>2:2", "-H", "4", "--no-frames"], "nothing would be written"),
                          (["hybrid", "img/1.png", "img/2.png", "--method", "fft", "--steps", "5", "--lr", "0.1"],
                           "--steps, --lr have no effect with --method fft")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (nets / "result").exists()


def test_lock_files_holding_garbage_are_stale_and_an_empty_new_one_says_so(tmp_path):
    path = tmp_path / "W-4" / "7.npz"
    held = path.with_name(".7.npz.lock")
    held.parent.mkdir()
    for garbage in ("garbage", "²", "12ab", "99999999999999999999", "0", "-1"):
        held.write_text(garbage)
        with weights.lock(path):
            assert held.read_text() == str(os.getpid())
    held.write_text("")  # made this moment by another run, which has not written its pid yet
    with pytest.raises(MorphError, match=r"picture 7 is being learned by another run, starting this moment \(.*"
                                         r"\.7\.npz\.lock holds no pid yet\): try again"):
        with weights.lock(path):
            pass


def test_restoring_a_missing_history_entry_says_so_and_writes_nothing(tmp_path):
    for index in (0, 3, -1, "0"):
        with pytest.raises(MorphError, match=f"picture 4 has no history entry {index!r} .* lists them"):
            weights.restore(4, 7, index, tmp_path)
    assert not list(tmp_path.iterdir())  # no W-7/, no lock


@pytest.mark.parametrize("text, why, column", [
    ("1>2:1e9", "steps are a whole number of frames, like 40, not '1e9'", 4),
    ("1>>2:5", "one > per link", 2), ("1>2:3,,2>1:3", "two commas in a row", 6),
    ("1>2:3,", "a comma at the end", 5), (",1>2:3", "a comma at the start", 0),
    ("1>2", "a link needs its steps after a colon", 3), ("1>2:3 2>1:3", "(separate links with commas)", 4),
    ("1>:4", "a picture name is missing after >", 2), (">2:4", "a picture name is missing before >", 0),
    ("a b>2:3", "'a b' is not a picture name", 0), ("1=2:3", "'1=2' has no >", 0),
    ("1-2-3:4", "a chain is two numbers, like 1-30:48", 0), ("1>2:", "and none is given", 4),
    ("1>2:0", "at least 2 steps, not 0", 4), ("1>2:3, 4-4:5", "from one picture to another, not 4-4", 7),
])
def test_sequence_mistakes_are_named_and_pointed_at(text, why, column):
    with pytest.raises(MorphError) as e:
        parse_sequence(text)
    first, shown, caret = str(e.value).split("\n")
    assert first.startswith("bad sequence: ") and why in first and shown == f"  {text}"
    assert caret == "  " + " " * column + "^", str(e.value)


@pytest.mark.parametrize("code, hint", [(errno.ENOSPC, "free some disk space"), (errno.EACCES, "pick a folder you "
                                        "can write to"), (errno.ENOTDIR, "a file is where a folder should be"),
                                        (errno.ECONNREFUSED, None)])
def test_os_errors_say_what_to_do_about_what_happened(tmp_path, code, hint):
    with pytest.raises(MorphError) as e:
        with checks.disk_errors():
            raise OSError(code, os.strerror(code), "x")
    assert hint in str(e.value) if hint else str(e.value) == f"cannot write x ({os.strerror(code)})"
    (tmp_path / "result").write_text("a file where the folder should be")
    with pytest.raises(MorphError, match=r"cannot write into .*result \(.*\): a file is where a folder should be"):
        save_image(tmp_path / "result" / "x.png", PIC)
