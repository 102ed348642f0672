"""Bad input the robustness table in docs/robustness.md promises a clear answer for (the rest is tested beside
the code it concerns)."""
import errno
import importlib
import struct
import subprocess
import sys
import zlib
from math import inf, nan

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, gradient_picture, nets_dir
from morphlib import hybrid, movie, threads, transition, weights
from morphlib.cli import main
from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.hybrid import Blender, hybrid_fft
from morphlib.images import load_image, save_image
from morphlib.learn import Job
from morphlib.net import LAYERS, init_net
from morphlib.train import train
from morphlib.transition import frame_plan, parse_sequence, parse_size, write_transition
from morphlib.weights import load_legacy, load_net, load_numbered, save_net, weights_dir

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
    first = write_transition("1>2:3", hidden=4, size=8, out=out, gif=True, root=nets)
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
