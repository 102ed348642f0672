import importlib
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import REPO, nets_dir
from morphlib.cli import main, parser
from morphlib.errors import MorphError
from morphlib.learn import Job, learn
from morphlib.weights import load_net


def test_learn_saves_best_and_resumes(workspace):
    job = Job(picture=2, hidden=12, epochs=4, root=workspace)
    result, path = learn(job)
    assert path == workspace / "W-12" / "2.npz"
    net, meta = load_net(path, 12)
    assert meta["epochs"] == 4 and meta["psnr"] == pytest.approx(result.psnr, abs=1e-3)
    seen = []
    again, _ = learn(Job(picture=2, hidden=12, epochs=3, resume=True, root=workspace),
                     on_epoch=lambda epoch, *_: seen.append(epoch))
    assert again.psnr >= result.psnr - 1e-6 and not (workspace / "W-12" / "2.npz.bak").exists()
    assert seen == [5, 6, 7] and again.epochs in (0, 5, 6, 7)  # the resumed net counts on from its own 4 epochs
    assert load_net(path, 12)[1]["epochs"] in (4, again.epochs)
    before = path.read_bytes()
    fresh, kept = learn(Job(picture=2, hidden=12, epochs=1, root=workspace))  # worse: the better net stays
    assert path.read_bytes() == before and kept.parent == workspace / "W-12" / ".history" / "2"
    assert "kept" in fresh.message and "entry 0 of its history" in fresh.message


def test_init_from_needs_matching_weights(workspace):
    with pytest.raises(MorphError, match="train that picture first"):
        Job(picture=2, hidden=12, init_from=1, root=workspace).start_net()
    learn(Job(picture=1, hidden=12, epochs=1, root=workspace))
    with pytest.raises(MorphError, match=r"same encoding \(--encoding hashgrid\)"):
        Job(picture=2, hidden=12, init_from=1, encoding="plain", root=workspace).start_net()
    start = Job(picture=2, hidden=12, init_from=1, root=workspace).start_net()
    net, _ = load_net(workspace / "W-12" / "1.npz")
    np.testing.assert_array_equal(start.params["W2"], net.params["W2"])


def test_big_pictures_are_shrunk_for_learning(workspace):
    assert Job(picture=4, max_side=64, root=workspace).target().shape == (64, 64, 3)


def test_learning_schedule_and_sampling_reach_the_trainer(workspace, monkeypatch):
    learning = importlib.import_module("morphlib.learn")  # the module: the package's `learn` is the function
    seen = []
    monkeypatch.setattr(learning, "train", lambda net, img, **kw: seen.append((kw["schedule"], kw["sampling"])) or
                        SimpleNamespace(epochs=0))  # a result with no epoch, as a run stopped at once
    options = vars(parser().parse_args(["learn", "1", "--lr-schedule", "constant", "--sampling", "uniform"]))
    for job in (Job(root=workspace), Job(encoding="plain", root=workspace), Job(seed_exact=True, root=workspace),
                Job(lr_schedule=options["lr_schedule"], sampling=options["sampling"], root=workspace)):
        learning.trained(job)
    assert seen == [("cosine", "error")] + [("constant", "uniform")] * 3


def test_cli_learn_and_errors(workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    assert main(["learn", "3", "--hidden", "10", "--epochs", "2", "--quiet"]) == 0
    assert (workspace / "W-10" / "3.npz").is_file()
    assert "best PSNR" in capsys.readouterr().out
    assert main(["learn", "3", "--hidden", "10", "--epochs", "1", "--quiet"]) == 0  # worse: kept apart
    assert "entry 0 of its history: `python -m morphlib nets 3 -H 10 --restore 0` to use it" in capsys.readouterr().err
    assert main(["learn", "9", "--hidden", "10"]) == 2
    assert "no picture 9" in capsys.readouterr().err
    assert main(["learn", "missing.png"]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_transition_and_errors(tmp_path, monkeypatch, capsys):

    monkeypatch.chdir(tmp_path)
    nets_dir(tmp_path, 5)
    assert main(["transition", "1>2:3", "-H", "5", "--size", "12x8", "--gif", "--loop", "--align", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4 frames" in out and (tmp_path / "result" / "transition.gif").is_file()
    assert main(["transition", "1>3:3", "-H", "5"]) == 2
    assert "picture 3 has no weights" in capsys.readouterr().err
    assert main(["transition", "1>2:3", "-H", "5", "--size", "0"]) == 2
    assert "positive" in capsys.readouterr().err
    assert main(["transition", "1>2;3", "-H", "5"]) == 2
    assert "^" in capsys.readouterr().err


def test_demo_uses_shipped_weights(tmp_path, monkeypatch, capsys):

    monkeypatch.chdir(REPO)
    assert main(["demo", "--size", "24", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "demo.gif").is_file() and "done in" in capsys.readouterr().out


def test_cli_hybrid(tmp_path, capsys):

    out = tmp_path / "h.png"
    args = ["hybrid", str(REPO / "img/4.png"), str(REPO / "img/3.png"), "-o", str(out), "--size", "32",
            "--steps", "4", "--pyramid", str(tmp_path / "p.png")]
    assert main(args) == 0
    assert out.is_file() and (tmp_path / "p.png").is_file() and "after 4 steps" in capsys.readouterr().out
    assert main(args[:5] + ["--method", "fft", "--size", "32"]) == 0
    assert main(["hybrid", "nope.png", str(REPO / "img/3.png")]) == 2
    assert "not found" in capsys.readouterr().err


def test_learning_and_rendering_never_import_tensorflow(workspace):
    import subprocess
    import sys


    code = ("import sys; from morphlib.cli import main; from morphlib.widgets import TrainingMonitor; "
            "assert main(['learn', '1', '-H', '6', '--epochs', '1', '--quiet']) == 0; "
            "assert main(['transition', '1>1:2', '-H', '6', '--size', '8', '--quiet']) == 0; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], cwd=workspace, env=env, check=True)


def test_learning_a_net_that_would_not_morph_with_the_others_says_so(workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    nets_dir(workspace, 6, {1: "fourier", 2: "fourier"})
    args = ["learn", "3", "-H", "6", "--epochs", "1", "--max-side", "16", "--quiet"]
    assert main(args) == 0
    assert "W-6/1.npz is a fourier net and this run learns a hashgrid one: they will not morph together (learn " \
           "with --encoding fourier to match it)" in capsys.readouterr().err
    assert main([*args, "--encoding", "fourier", "--features", "4"]) == 0
    assert "will not morph" not in capsys.readouterr().err
