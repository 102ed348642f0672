"""One Dask client per run, and the resources of a run: Ctrl-C from a terminal on a cluster, a scheduler address
that is not one, more jobs than cores, a second run writing the same transition, memory that would not do."""
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import dask.distributed
import numpy as np
import psutil
import pytest

from conftest import REPO, gradient_picture, nets_dir
from morphlib import checks, hybrid, parallel, transition
from morphlib.cli import main
from morphlib.encoding import make_encoding
from morphlib.errors import MorphError
from morphlib.images import save_image
from morphlib.learn import Job
from morphlib.net import init_net
from morphlib.transition import write_transition
from morphlib.weights import load_net

train_module = importlib.import_module("morphlib.train")  # morphlib.train is also the function
TINY = dict(hidden=6, epochs=3, max_side=16)
LEARN = [sys.executable, "-m", "morphlib", "learn", "img/", "--jobs", "2"]


@pytest.fixture
def clusters(monkeypatch):
    """Counts the LocalClusters built."""
    built = []

    class Counted(dask.distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(dask.distributed, "LocalCluster", Counted)
    return built


def test_a_run_builds_one_cluster_for_all_its_work(workspace, clusters, monkeypatch):
    with parallel.client(2) as client:
        outcomes = parallel.learn_all(["1-3"], Job(root=str(workspace), **TINY), client=client)
        out = write_transition("1>2:3, 2>3:3", hidden=6, size=8, out=workspace / "r", root=workspace, client=client)
    assert [o.failed for o in outcomes] == [False] * 3 and out["count"] == 5 and len(clusters) == 1
    monkeypatch.chdir(workspace)
    assert main(["transition", "1-3:3", "-H", "6", "--size", "8", "--gif", "--jobs", "2", "--quiet"]) == 0
    assert len(clusters) == 2  # the command's own, once


def test_more_jobs_than_cores_are_capped_and_said(workspace, clusters, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    args = ["learn", "1", "2", "-H", "6", "--epochs", "2", "--max-side", "16", "--quiet"]
    assert main([*args, "--jobs", "1000"]) == 0
    err = capsys.readouterr().err
    assert f"note: jobs 1000: this machine gives this run {parallel.cores()} cores" in err
    assert parallel.worker_count(1000) == (parallel.cores(), parallel.worker_count(1000)[1])
    assert parallel.worker_count(None) == (parallel.cores(), None) and parallel.worker_count(1) == (1, None)


def _server(reply):
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: `reply(conn)` for each connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=reply, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{listener.getsockname()[1]}"


def _closed_port():
    with socket.create_server(("127.0.0.1", 0)) as s:
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


SERVERS = {
    "silent": lambda conn: time.sleep(60),  # accepts and says nothing: Dask's Client waited for ever
    "ssh": lambda conn: (conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"), time.sleep(60)),  # read as a 3 EiB frame
    "http": lambda conn: (conn.recv(64), conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n"), time.sleep(60)),
    "hangs up": lambda conn: conn.close(),
}


@pytest.mark.parametrize("kind", [*SERVERS, "closed port"])
def test_an_address_where_no_scheduler_answers_is_refused_at_once(kind):
    address = _closed_port() if kind == "closed port" else _server(SERVERS[kind])
    start = time.monotonic()
    with pytest.raises(MorphError, match=f"no Dask scheduler answers at {address} .*: check the address and port"):
        with parallel.client(2, address):
            pass
    assert time.monotonic() - start < parallel.SCHEDULER_TIMEOUT_S + 3


@pytest.mark.parametrize("address", ["garbage", "http://127.0.0.1:8787", "tcp://host", "tcp://h:0", "", 8786])
def test_a_scheduler_that_is_not_an_address_is_refused_in_one_line(address, workspace, monkeypatch, capsys):
    with pytest.raises(MorphError, match=r"is not a Dask scheduler's address: write tcp://HOST:PORT"):
        parallel.scheduler_address(address)
    if isinstance(address, str) and address:
        monkeypatch.chdir(workspace)
        assert main(["learn", "1", "2", "--scheduler", address, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: scheduler {address!r} is not a Dask scheduler's")


def test_scheduler_addresses_that_are_fine():
    assert parallel.scheduler_address(" 10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert parallel.scheduler_address("tls://[::1]:8786") == "tls://[::1]:8786"


def _ctrl_c(workspace, *args, when, timeout=30):
    """`python -m morphlib learn img/ --jobs 2 ...` in a session of its own, Ctrl-C'd as a terminal does it (SIGINT
    to the whole process group) once when(process) is true; (exit code, stderr, seconds it took to exit)."""
    p = subprocess.Popen([*LEARN, *args], cwd=workspace, start_new_session=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        while p.poll() is None and not when(psutil.Process(p.pid)):
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGINT)
        start = time.monotonic()
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err, time.monotonic() - start
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()


def _workers(process) -> list:
    return [c for c in process.children() if "resource_tracker" not in " ".join(c.cmdline())]


def _training(folder, seconds):
    """True once both pictures' locks are taken in `folder` and each worker has spent `seconds` of CPU since."""
    spent = {}

    def check(process):
        if len(list(folder.glob(".*.lock"))) < 2:
            return False
        now = {w.pid: sum(w.cpu_times()[:2]) for w in _workers(process)}
        for pid, t in now.items():
            spent.setdefault(pid, t)
        return len(now) == 2 and all(t - spent[pid] >= seconds for pid, t in now.items())
    return check


def _left_behind(folder) -> list:
    return sorted(p.name for p in folder.glob(".*")) if folder.is_dir() else []


FOURIER = ["--encoding", "fourier", "--features"]  # a net of known speed: its epochs short, or long at H 512


@pytest.mark.parametrize(("epoch", "hidden", "args"), [("short", 6, ["--max-side", "16", *FOURIER, "8"]),
                                                       ("long", 512, [*FOURIER, "256"])])
def test_ctrl_c_from_a_terminal_keeps_the_nets_under_way(workspace, epoch, hidden, args):
    """Workers are in the terminal's process group too: they must not die with their nets. The run stops, saves
    the best net of each picture under way that has learned an epoch, removes its locks and flag, exits 130."""
    folder = workspace / f"W-{hidden}"
    code, err, took = _ctrl_c(workspace, "-H", str(hidden), "--epochs", "100000", *args,
                              when=_training(folder, 1.5))
    assert code == 130 and took < 30 and "Traceback" not in err, err
    saved = sorted(folder.glob("*.npz"))
    if epoch == "short":  # thousands of epochs done by then: both pictures under way are kept
        assert [p.name for p in saved] == ["1.npz", "2.npz"]
    for p in saved:
        assert load_net(p)[1]["epochs"] >= 1
    assert _left_behind(folder) == []


MOMENTS = {"loading": lambda process: any("numpy" in m.path for m in process.memory_maps()),
           "cluster starting": lambda process: bool(process.children())}


@pytest.mark.parametrize("moment", MOMENTS)
def test_ctrl_c_in_the_first_seconds_exits_quietly(workspace, moment):
    code, err, took = _ctrl_c(workspace, "-H", "6", "--epochs", "100000", "--max-side", "16", *FOURIER, "8",
                              when=MOMENTS[moment])
    assert code == 130 and took < 30 and "Traceback" not in err, err
    assert not list(workspace.glob("W-6/*.npz")) and _left_behind(workspace / "W-6") == []


def test_a_stop_within_a_long_epoch_is_answered_at_once(monkeypatch):
    """A stop looked at between batches (every STOP_LOOK_S) drops the epoch under way: the best net so far."""
    class Stop:
        looks = 0

        def is_set(self):
            self.looks += 1
            return self.looks == 3

    monkeypatch.setattr(train_module, "STOP_LOOK_S", 0.0)
    stop = Stop()
    result = train_module.train(init_net(4, seed=0), gradient_picture(32, 32), epochs=5, batch=64, stop=stop)
    assert (result.stopped, result.epochs, stop.looks) == ("stopped", 0, 3)  # 16 batches an epoch: mid-epoch 1


def test_two_transitions_with_one_name_do_not_mix_their_frames(workspace, monkeypatch, capsys):
    """The output name is locked as a picture's net is: a second run writing <out>/<name> is refused before it
    touches anything; a lock its dead run left is taken over."""
    nets_dir(workspace, 6)
    monkeypatch.chdir(workspace)
    run = ["transition", "1>2:3", "-H", "6", "--size", "8", "--name", "x", "--quiet"]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # another run, alive
    try:
        (workspace / "result").mkdir()
        (workspace / "result" / ".x.lock").write_text(str(other.pid))
        assert main(run) == 2
        assert capsys.readouterr().err == (f"error: result/x is being written by another run (pid {other.pid}): "
                                           "stop that run first, or wait for it\n")
        assert not (workspace / "result" / "x").exists()
    finally:
        other.kill()
        other.wait()
    assert main(run) == 0 and len(list((workspace / "result" / "x").glob("*.png"))) == 3
    assert not (workspace / "result" / ".x.lock").exists()


@pytest.fixture
def little_memory(monkeypatch):
    """A machine with 64 MB available."""
    monkeypatch.setattr(checks, "available_memory", lambda: 64 << 20)


def test_memory_available_is_read_from_the_machine():
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < checks.available_memory() <= total


def test_a_hybrid_that_would_not_fit_is_refused_before_it_starts(workspace, little_memory, monkeypatch, capsys):
    picture = np.random.default_rng(0).random((150, 200, 3), np.float32)  # L-BFGS: 1400 bytes a pixel, 40 MB
    hybrid.Blender(picture, picture, optimizer="adam")  # 12 MB: fits
    with pytest.raises(MorphError, match=r"a 200x300 hybrid \(lbfgs\) needs about 80 MB of memory, and 64 MB are "
                                         r"available: give smaller pictures \(about 268 px on the longer side fits: "
                                         r"--size 268\)"):
        hybrid.Blender(np.tile(picture, (2, 1, 1)), picture)
    save_image(workspace / "big.png", np.tile(picture, (2, 2, 1)))
    monkeypatch.chdir(workspace)
    assert main(["hybrid", "big.png", "big.png", "-o", "h.png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a 400x300 hybrid (lbfgs) needs about 160 MB of memory") and err.count("\n") == 1
    assert not (workspace / "h.png").exists()


def test_frames_that_would_not_fit_are_refused_before_any_file_is_touched(workspace, little_memory):
    nets_dir(workspace, 6)
    old = workspace / "r" / "transition" / "0001.png"
    write_transition("1>2:3", hidden=6, size=8, out=workspace / "r", root=workspace)  # 8x8: fits
    with pytest.raises(MorphError, match=r"frames of 3000x3000 needs about 438 MB of memory, and 64 MB are "
                                         r"available: give a smaller --size"):
        write_transition("1>2:3", hidden=6, size=3000, out=workspace / "r", root=workspace)
    assert old.is_file()
    assert transition.frame_memory((3000, 3000), movies=("mp4",), workers=True) > transition.frame_memory((3000, 3000))


def test_learning_a_picture_that_would_not_fit_is_refused_before_it_starts(little_memory):
    image = gradient_picture(64, 64)  # 4096 pixels of 512 Fourier inputs: 12.6 MB
    assert train_module.train(init_net(4, seed=0), image, epochs=1).epochs == 1
    with pytest.raises(MorphError, match=r"learning a 160x160 picture needs about 77 MB of memory, and 64 MB are "
                                         r"available: learn it smaller \(--max-side\)"):
        train_module.train(init_net(4, make_encoding("fourier"), seed=0), gradient_picture(160, 160), epochs=1)
