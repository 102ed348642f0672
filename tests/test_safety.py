"""Never lose a user's net or picture: locks, the history of nets, full disks, frames folders, samples."""
import errno
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, gradient_picture, nets_dir
from morphlib.cli import main
from morphlib.errors import MorphError
from morphlib.images import save_image
from morphlib.learn import Job, learn
from morphlib.net import init_net
from morphlib.parallel import learn_all, pictures
from morphlib.samples import write_samples
from morphlib.transition import MANIFEST, MOVIES, write_transition
from morphlib.weights import HISTORY, entry, history, lock, read_meta, restore, save_net, store, weights_file

DEAD_PID = 999_999_999  # above any pid_max: no such process


def nets_on_disk(folder):
    """Bytes of every net kept for a picture: the current file and its history."""
    return {p.read_bytes() for p in folder.rglob("*.npz")}


# A learner in its own process that trains until the file `go` appears, then stops and saves.
LEARNER = """
import sys, threading
from pathlib import Path
from morphlib.learn import Job, learn
from morphlib.parallel import learn_all, pictures
stop, go = threading.Event(), Path(sys.argv[1])
result, path = learn(Job(picture=2, hidden=6, epochs=100000, root="."),
                     on_epoch=lambda *a: go.exists() and stop.set(), stop=stop)
print(path, result.message)
"""


def test_two_learners_on_one_picture_lose_no_net(workspace):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    original, _ = learn(Job(picture=2, hidden=6, epochs=3, root=workspace))
    first = weights_file(2, 6, workspace).read_bytes()
    go = workspace / "go"
    a = subprocess.Popen([sys.executable, "-c", LEARNER, str(go)], cwd=workspace, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock_file = workspace / "W-6" / ".2.npz.lock"
        while not lock_file.exists() and a.poll() is None:
            time.sleep(0.05)
        assert lock_file.read_text() == str(a.pid)
        b = subprocess.run([sys.executable, "-m", "morphlib", "learn", "2", "-H", "6", "--epochs", "2", "--quiet"],
                           cwd=workspace, env=env, capture_output=True, text=True)
        assert b.returncode == 2
        assert f"picture 2 is being learned by another run (pid {a.pid})" in b.stderr
        assert b.stderr.count("\n") == 1 and "Traceback" not in b.stderr
    finally:
        go.touch()
        out, err = a.communicate(timeout=300)
    assert a.returncode == 0, err
    kept = nets_on_disk(workspace / "W-6")
    assert first in kept and len(kept) == 2  # the first net and the second run's, one current, one in history
    assert not lock_file.exists() and not list((workspace / "W-6").glob(".*.tmp*"))


def test_learners_started_together_lose_no_net(workspace):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    learn(Job(picture=2, hidden=6, epochs=3, root=workspace))
    first = weights_file(2, 6, workspace).read_bytes()
    cmd = [sys.executable, "-m", "morphlib", "learn", "2", "-H", "6", "--epochs", "2", "--quiet", "--seed"]
    runs = [subprocess.Popen([*cmd, str(seed)], cwd=workspace, env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for seed in (1, 2)]  # two different nets, if both save
    done = [(r.wait(timeout=300), r.stderr.read()) for r in runs]
    for code, err in done:
        assert code == 0 or (code == 2 and "being learned by another run" in err), err
    saved = sum(code == 0 for code, _ in done)
    kept = nets_on_disk(workspace / "W-6")
    assert first in kept and len(kept) == 1 + saved


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    path = tmp_path / "W-4" / "7.npz"
    with lock(path) as held:
        assert held.read_text() == str(os.getpid())
        with pytest.raises(MorphError, match=f"picture 7 is being learned by another run \\(pid {os.getpid()}\\)"):
            with lock(path):
                pass
    assert not held.exists()
    held.write_text(str(DEAD_PID))  # left by a killed run
    with lock(path):
        assert held.read_text() == str(os.getpid())


def test_history_keeps_the_newest_and_restores(tmp_path):
    path = weights_file(3, 4, tmp_path)
    saved = [store(init_net(4, seed=k), path, psnr=10.0 + k, epochs=k).read_bytes() for k in range(HISTORY + 3)]
    entries = history(3, 4, tmp_path)
    assert len(entries) == HISTORY
    assert [e.psnr for e in entries] == [16.0, 15.0, 14.0, 13.0, 12.0]  # newest first, the oldest dropped
    assert [e.path.read_bytes() for e in entries] == saved[-2:-HISTORY - 2:-1]
    assert "16.00dB" in entries[0].path.name and entries[0].epochs == 6 and entries[0].date.startswith("file dated 20")
    restore(3, 4, 2, tmp_path)
    assert path.read_bytes() == saved[4]
    assert history(3, 4, tmp_path)[0].path.read_bytes() == saved[-1]  # the net it replaced
    assert len(history(3, 4, tmp_path)) == HISTORY
    with pytest.raises(MorphError, match="no history entry 9 .* `python -m morphlib nets 3 -H 4` lists them"):
        restore(3, 4, 9, tmp_path)


def test_a_worse_net_is_not_saved_over_a_better_one(workspace):
    good, path = learn(Job(picture=2, hidden=8, epochs=8, root=workspace))
    best = path.read_bytes()
    worse, kept = learn(Job(picture=2, hidden=8, epochs=1, seed=3, root=workspace))
    assert path.read_bytes() == best and kept == history(2, 8, workspace)[0].path
    assert f"kept {path}" in worse.message and "entry 0 of its history" in worse.message
    assert entry(kept).date == f"trained {read_meta(kept)['trained']}"  # when it was trained, not when it was moved
    _, replaced = learn(Job(picture=2, hidden=8, epochs=1, seed=3, replace=True, root=workspace))
    assert replaced == path and path.read_bytes() != best
    assert best in {e.path.read_bytes() for e in history(2, 8, workspace)}


def test_nets_command_lists_and_restores(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = weights_file(5, 4, tmp_path)
    first = store(init_net(4, seed=1), path, psnr=21.5, epochs=40).read_bytes()
    store(init_net(4, seed=2), path, psnr=18.25, epochs=3)
    assert main(["nets", "5", "-H", "4"]) == 0
    out = capsys.readouterr().out
    assert "current" in out and "18.25 dB" in out and "21.50 dB" in out and "--restore INDEX" in out
    assert main(["nets", "5", "-H", "4", "--restore", "0"]) == 0
    assert path.read_bytes() == first and "restored entry 0" in capsys.readouterr().out
    assert main(["nets", "6", "-H", "4"]) == 2
    assert "picture 6 has no nets" in capsys.readouterr().err


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["write", "replace", "history"])
def test_a_full_disk_keeps_the_old_net(tmp_path, monkeypatch, where):
    path = store(init_net(4, seed=1), weights_file(1, 4, tmp_path), psnr=20.0)
    store(init_net(4, seed=2), path, psnr=21.0)
    before, entries = path.read_bytes(), nets_on_disk(tmp_path)
    target = {"write": (np, "savez"), "replace": (os, "replace"), "history": (os, "link")}[where]
    monkeypatch.setattr(*target, enospc)
    with pytest.raises(MorphError, match="No space left on device") as e:
        store(init_net(4, seed=3), path, psnr=22.0)
    assert "free some disk space" in str(e.value) and "\n" not in str(e.value)
    assert path.read_bytes() == before and nets_on_disk(tmp_path) == entries
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temp file left


def test_a_full_disk_during_learn_says_so_and_releases_the_lock(workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    assert main(["learn", "1", "-H", "6", "--epochs", "2", "--quiet"]) == 0
    before = weights_file(1, 6, workspace).read_bytes()
    monkeypatch.setattr(os, "link", enospc)
    capsys.readouterr()
    assert main(["learn", "1", "-H", "6", "--epochs", "1", "--replace", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot keep") and "No space left" in err and err.count("\n") == 1
    assert weights_file(1, 6, workspace).read_bytes() == before
    assert not (workspace / "W-6" / ".1.npz.lock").exists()


# Files a user (or an older morphlib) may keep beside the nets and frames: never removed, however they look.
LOOK_ALIKES = [".notes.draft.tmp", ".holiday.2019.edit.tmp.jpg", f".1.npz.{DEAD_PID}.abcd1234.tmp.npz",
               ".1.npz.abcd1234.tmp.npz", "notes.tmp", ".tmp", "..tmp", f".1.npz.morphlib-{DEAD_PID}-abcd1234.tmp.png",
               f".1.npz.morphlib-{DEAD_PID}-abcd123.tmp.npz", f".1.npz.morphlib-{DEAD_PID}-ABCD1234.tmp.npz",
               ".1.npz.morphlib-12ab-abcd1234.tmp.npz", f"1.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz",
               f".1.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz.bak", f".x.morphlib-{DEAD_PID}-abcd1234.tmpx",
               f".1.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz~", f".1.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz.tmp",
               f".1.npz.Morphlib-{DEAD_PID}-abcd1234.tmp.npz", f".1.npz.morphlib-{DEAD_PID}0000-abcd1234.tmp.npz"]


def test_saves_are_flushed_and_only_their_own_orphans_are_removed(tmp_path, monkeypatch):
    folder = tmp_path / "W-4"
    folder.mkdir()
    dead = folder / f".1.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz"  # a save that was killed
    live = folder / f".2.npz.morphlib-{os.getpid()}-abcd1234.tmp.npz"  # a save in progress
    kept = [folder / n for n in LOOK_ALIKES] + [live]
    for p in [dead, *kept]:
        p.write_bytes(b"half")
    (folder / f".3.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz").mkdir()  # a folder, and a link, named like one
    (folder / f".4.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz").symlink_to(folder / "notes.tmp")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    save_net(init_net(4), folder / "1.npz")
    assert synced and not dead.exists() and all(p.read_bytes() == b"half" for p in kept)
    assert {p.name for p in folder.iterdir()} == {"1.npz", *LOOK_ALIKES, live.name, f".3.npz.morphlib-{DEAD_PID}-"
                                                  "abcd1234.tmp.npz", f".4.npz.morphlib-{DEAD_PID}-abcd1234.tmp.npz"}


def test_a_transition_into_a_users_folder_keeps_their_hidden_files(tmp_path):
    nets_dir(tmp_path, 4)
    mine = tmp_path / "mine"
    mine.mkdir()
    for n in LOOK_ALIKES:
        (mine / n).write_bytes(b"the user's")
    for _ in range(2):
        write_transition("1>2:2", hidden=4, size=8, out=mine, name="t", movies=("gif",), frames=True, root=tmp_path)
    assert all((mine / n).read_bytes() == b"the user's" for n in LOOK_ALIKES)
    assert {p.name for p in mine.iterdir()} == {*LOOK_ALIKES, "t", "t.gif", MOVIES}


def test_movies_only_replace_or_remove_what_morphlib_wrote(tmp_path, capsys):
    nets_dir(tmp_path, 4)
    mine = tmp_path / "mine"
    mine.mkdir()
    for kind in ("gif", "mp4"):
        (mine / f"holiday.{kind}").write_bytes(b"the user's")
    for movie in ("gif", "mp4"):
        with pytest.raises(MorphError, match="holiday.(gif|mp4) is not a movie morphlib wrote .* move it away"):
            write_transition("1>2:2", hidden=4, size=8, out=mine, name="holiday", root=tmp_path, movies=(movie,))
    r = write_transition("1>2:2", hidden=4, size=8, out=mine, name="holiday", root=tmp_path)  # frames only
    assert r["removed_movies"] == [] and all((mine / f"holiday.{k}").read_bytes() == b"the user's"
                                             for k in ("gif", "mp4"))
    first = write_transition("1>2:2", hidden=4, size=8, out=mine, name="t", movies=("gif", "mp4"), root=tmp_path)
    again = write_transition("1>2:2", hidden=4, size=8, out=mine, name="t", movies=("gif",), root=tmp_path)
    assert again["removed_movies"] == [first["mp4"]] and again["gif"].read_bytes()[:3] == b"GIF"
    assert (mine / MOVIES).read_text().split() == ["t.gif"]


def test_a_folder_of_pictures_never_replaces_the_nets_of_img(workspace):
    """learn photos/ learns photos/1.png by its path, as learn photos/1.png does: img/1.png's net stays."""
    path = store(init_net(6, seed=1), weights_file(1, 6, workspace), psnr=30.0, source="img/1.png")
    before = path.read_bytes()
    photos = workspace / "photos"
    photos.mkdir()
    save_image(photos / "1.png", np.zeros((8, 8, 3), np.float32))
    save_image(photos / "7.png", gradient_picture(8, 8))
    job = Job(hidden=6, epochs=3, encoding="plain", root=workspace)
    outcomes = learn_all(["photos"], job)
    assert outcomes[0].name.endswith("photos/1.png") and outcomes[1].name == "7"
    assert outcomes[0].failed and not outcomes[1].failed
    assert "photos/1.png would be saved as the net of" in outcomes[0].error and path.read_bytes() == before
    with pytest.raises(MorphError, match="would be saved as the net of"):
        learn(Job(picture=photos / "1.png", hidden=6, epochs=1, root=workspace))


def test_two_pictures_of_one_number_are_refused(workspace):
    photos = workspace / "photos"
    for ext in ("png", "jpg"):
        save_image(photos / f"8.{ext}", np.zeros((8, 8, 3), np.float32))
    job = Job(hidden=6, epochs=1, encoding="plain", root=workspace)
    with pytest.raises(MorphError, match=r"8.jpg and .*8.png are all picture 8 in .*photos/: rename all but one"):
        learn_all(["photos"], job)
    with pytest.raises(MorphError, match="are all picture 8"):
        learn(Job(picture=8, hidden=6, img_dir="photos", root=workspace))
    with pytest.raises(MorphError, match="would both be learned into .*W-6/8.npz"):
        pictures([str(photos / "8.png"), str(photos / "8.jpg")], job)
    with pytest.raises(MorphError, match="would both be learned into"):
        pictures(["3", "1-4"], job)
    save_image(workspace / "img" / "8.jpg", np.zeros((8, 8, 3), np.float32))  # img/ has an 8 too
    with pytest.raises(MorphError, match="would be saved as the net of .*img/8.jpg"):
        learn(Job(picture=photos / "8.png", hidden=6, root=workspace))
    assert Job(picture=3, root=workspace).source().name == "3.png"
    assert not list(workspace.glob("W-6/*"))  # nothing learned, no lock left


def test_frames_only_remove_what_morphlib_wrote(tmp_path):
    nets_dir(tmp_path, 5)
    img = tmp_path / "img"
    for n in range(1, 5):
        save_image(img / f"{n}.png", np.full((4, 4, 3), n / 5, np.float32))
    pictures = {p.name: p.read_bytes() for p in img.iterdir()}
    r = write_transition("1>2:3", hidden=5, size=8, out=tmp_path, name="img", root=tmp_path)
    assert r["removed_old"] == 0 and (img / MANIFEST).read_text().split() == ["0001.png", "0002.png", "0003.png"]
    r = write_transition("1>2:2", hidden=5, size=8, out=tmp_path, name="img", root=tmp_path)
    assert r["removed_old"] == 3 and not (img / "0003.png").exists()
    assert all((img / n).read_bytes() == b for n, b in pictures.items())  # the user's 1.png ... 4.png
    (img / MANIFEST).unlink()  # 0001.png, 0002.png are no longer known to be morphlib's
    with pytest.raises(MorphError, match="holds 0001.png, 0002.png that morphlib did not write"):
        write_transition("1>2:2", hidden=5, size=8, out=tmp_path, name="img", root=tmp_path)


def test_a_huge_size_fails_before_any_frame_is_removed(tmp_path):
    nets_dir(tmp_path, 5)
    write_transition("1>2:3", hidden=5, size=8, out=tmp_path, root=tmp_path)
    frames = sorted((tmp_path / "transition").iterdir())
    with pytest.raises(MorphError, match="size 100000x100000 is too big"):
        write_transition("1>2:3", hidden=5, size=100000, out=tmp_path, root=tmp_path)
    assert sorted((tmp_path / "transition").iterdir()) == frames


def test_samples_keep_the_users_pictures(tmp_path, capsys):
    mine = save_image(tmp_path / "1.png", np.zeros((4, 4, 3), np.float32)).read_bytes()
    (tmp_path / "3.jpg").write_bytes(b"a user's photo")
    written, kept = write_samples(tmp_path)
    assert [p.name for p in written] == ["2.png", "4.png"] and [p.name for p in kept] == ["1.png", "3.jpg"]
    assert (tmp_path / "1.png").read_bytes() == mine and not (tmp_path / "3.png").exists()
    assert main(["samples", "--img-dir", str(tmp_path)]) == 0
    assert "kept" in capsys.readouterr().out and (tmp_path / "1.png").read_bytes() == mine
    assert main(["samples", "--img-dir", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "1.png").read_bytes() != mine and "wrote" in capsys.readouterr().out
