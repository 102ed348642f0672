"""Many pictures and chunks of frames over Dask: the same nets and frames as one at a time, failures named."""
import os
import signal
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from morphlib import parallel
from morphlib.cli import main
from morphlib.learn import Job, trained
from morphlib.transition import write_transition
from morphlib.warp import points_file, write_points
from morphlib.weights import load_net, weights_file

TINY = dict(hidden=6, epochs=3, max_side=16)


def test_two_workers_learn_what_one_after_the_other_learns(workspace, tmp_path_factory):
    alone = tmp_path_factory.mktemp("alone")
    (alone / "img").symlink_to(workspace / "img")
    runs = {}
    for root, jobs in ((alone, 1), (workspace, 2)):
        with parallel.client(jobs) as client:
            runs[root] = parallel.learn_all(["1-2"], Job(root=str(root), **TINY), client=client)
    for (a, b) in zip(*runs.values()):
        assert not a.failed and not b.failed and a.name == b.name and a.result.psnr == pytest.approx(b.result.psnr)
    for n in (1, 2):
        (x, _), (y, meta) = (load_net(weights_file(n, 6, root)) for root in runs)
        assert meta["epochs"] == 3 and meta["image_size"] == [16, 16]
        for k, v in x.params.items():
            np.testing.assert_allclose(y.params[k], v, rtol=0, atol=1e-6)


def test_a_failing_picture_is_named_and_the_others_are_saved(workspace, capsys, monkeypatch):
    (workspace / "img" / "5.png").write_bytes(b"not a picture")
    monkeypatch.chdir(workspace)
    args = ["learn", "1", "5", "2", "-H", "6", "--epochs", "2", "--max-side", "16", "--quiet"]
    assert main([*args, "--jobs", "2"]) == 1
    err = capsys.readouterr().err
    assert "picture 5 failed: " in err and "img/5.png is not a readable picture" in err
    assert err.endswith("1 of 3 pictures failed: 5; the others are saved\n")
    assert [weights_file(n, 6, workspace).is_file() for n in (1, 2, 5)] == [True, True, False]
    assert not list((workspace / "W-6").glob(".*.lock"))  # the locks were let go


def test_chunks_rendered_on_workers_are_the_frames_made_here(workspace, monkeypatch, capsys):
    parallel.learn_all(["1-3"], Job(root=str(workspace), **TINY))
    write_points(points_file("1", "2", workspace / "W-6"), [[0.2, 0.3, 0.4, 0.35], [0.7, 0.6, 0.6, 0.8],
                                                           [0.5, 0.8, 0.3, 0.7]])  # link 1>2 moves
    options = dict(hidden=6, size="20x12", fit="pad", movies=("mp4",), frames=True, align=True, root=workspace)
    here = write_transition("1>2:5, 2>3:4", out=workspace / "here", **options)
    with parallel.client(2) as client:
        there = write_transition("1>2:5, 2>3:4", client=client, out=workspace / "there", **options)
    assert there["count"] == here["count"] == 8
    assert here["notes"][0] == f"warp 1>2: 3 points saved in {workspace / 'W-6' / 'points'}/"
    assert imageio_ffmpeg.count_frames_and_secs(str(there["mp4"]))[0] == 8
    for a, b in zip(here["frames"], there["frames"], strict=True):
        np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    monkeypatch.chdir(workspace)
    assert main(["transition", "1-3:3", "-H", "6", "--size", "8", "--gif", "--jobs", "2", "--quiet"]) == 0
    assert "5 frames" in capsys.readouterr().out and (workspace / "result" / "transition.gif").is_file()


def test_one_job_runs_here_without_dask(workspace):
    code = ("import sys; from morphlib import parallel; from morphlib.learn import Job\n"
            "from morphlib.transition import write_transition\n"
            "with parallel.client(1) as c:\n"
            f"  o = parallel.learn_all(['1', '2'], Job(root={str(workspace)!r}, **{TINY!r}), client=c)\n"
            f"  write_transition('1>2:3', client=c, hidden=6, size=8, out={str(workspace / 'r')!r}, "
            f"root={str(workspace)!r})\n"
            "assert not any(o.failed for o in o) and 'dask' not in sys.modules and 'distributed' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_pictures_from_numbers_ranges_files_and_folders(workspace, capsys, monkeypatch):
    job = Job(root=str(workspace), **TINY)
    assert [j.picture for j in parallel.pictures(["3", "5-6", "img/2.png"], job)] == ["3", 5, 6, "img/2.png"]
    assert [(j.picture, j.img_dir, j.name()) for j in parallel.pictures("img/", job)] == [  # by path, as learned
        (str(workspace / "img" / f"{n}.png"), "img", str(n)) for n in (1, 2, 3, 4)]
    (workspace / "empty").mkdir()
    with pytest.raises(Exception, match="no numbered pictures"):
        parallel.pictures("empty", job)
    monkeypatch.chdir(workspace)
    assert main(["learn", "img", "-H", "6", "--epochs", "3", "--max-side", "16", "-j", "1",
                 "--quiet"]) == 0
    assert capsys.readouterr().out.count("best PSNR") == 4


def test_the_notebooks_learn_all_shows_a_bar_and_a_line_per_picture(workspace, monkeypatch):
    from morphlib import widgets

    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)
    (workspace / "img" / "7.png").write_bytes(b"not a picture")
    out = widgets.learn_all(["1", "7"], Job(root=str(workspace), **TINY))
    bar, lines = shown[0].children
    assert (bar.value, bar.max) == (2, 2) and [o.failed for o in out] == [False, True]
    assert "1: " in lines.children[0].value and "dB" in lines.children[0].value
    assert "not a readable picture" in lines.children[1].value


def test_the_notebooks_learn_all_says_an_interrupt_kept_what_was_learned(workspace, monkeypatch):
    from morphlib import widgets

    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)

    def interrupted(items, job, *, on_picture, **options):  # one picture saved, then the kernel interrupt
        on_picture(parallel._learn_here("1", Job(picture=1, root=str(workspace), **TINY), None), 1, 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel, "learn_all", interrupted)
    assert widgets.learn_all(["1", "2"], Job(root=str(workspace), **TINY)) is None
    bar, lines = shown[0].children
    assert "dB" in lines.children[0].value and "interrupted" in lines.children[1].value


class DyingJob(Job):
    """A job whose picture 2 kills the worker process that loads it."""

    def target(self):
        if str(self.picture) == "2":
            os._exit(3)
        return super().target()


def test_a_worker_that_dies_fails_its_picture_alone(workspace):
    jobs = [DyingJob(picture=n, root=str(workspace), **TINY) for n in (1, 2, 3)]
    with parallel.client(2) as client:
        outcomes = parallel.learn_all(jobs, client=client)
    assert [o.failed for o in outcomes] == [False, True, False]
    assert "KilledWorker" in outcomes[1].error and weights_file(3, 6, workspace).is_file()


def test_ctrl_c_on_a_cluster_run_asks_workers_for_their_best_so_far(workspace):
    """The workers stop after the epoch in which the stop flag appears and return their best net (saved then, as a
    single learn saves it on Ctrl-C); a picture whose training had not started is not learned."""
    flag = workspace / ".stop"
    job = Job(picture=1, root=workspace, **{**TINY, "epochs": 100000})
    result, target = trained(job, stop=parallel._Flag(flag), on_epoch=lambda e, s, n: e == 3 and flag.touch())
    assert result.stopped == "stopped" and 1 <= result.epochs <= 3 and target.shape == (16, 16, 3)
    assert parallel._train(job, None, str(flag)) is None


def test_the_first_ctrl_c_sets_the_stop_flag_and_the_second_raises(tmp_path):
    flag = tmp_path / ".stop"
    with pytest.raises(KeyboardInterrupt), parallel._stop_flag_on_interrupt(flag) as interrupted:
        assert not interrupted()
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends: no exception yet
        assert interrupted() and flag.exists()
        os.kill(os.getpid(), signal.SIGINT)
    assert not flag.exists() and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bands_share_out_every_row_once():
    assert parallel._bands(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert parallel._bands(2, 4) == [(0, 1), (1, 2)]  # fewer rows than workers: a row each
    for h, count in ((1080, 8), (7, 2), (1, 1)):
        bands = parallel._bands(h, count)
        assert bands[0][0] == 0 and bands[-1][1] == h and all(p[1] == q[0] for p, q in zip(bands, bands[1:]))


def test_a_net_saved_after_a_diverged_stop_is_no_failure(workspace, monkeypatch):
    from morphlib.net import init_net
    from morphlib.train import TrainResult

    diverged = TrainResult(init_net(6), 20.0, 2, stopped="diverged", message="the loss exploded at epoch 3")
    monkeypatch.setattr(parallel, "learn", lambda job, **_: (diverged, job.out_path()))
    done, = parallel.learn_all(["2"], Job(hidden=6, root=workspace))  # no client: here, one at a time
    assert not done.failed and done.result.message == "the loss exploded at epoch 3"
