"""The file-safety rules, once: atomic writes (a temp file beside the target, then os.replace), the temp files a
killed run left behind, and locks (a pid in a file beside what one run writes at a time)."""
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .checks import DISK_HINTS
from .errors import MorphError


class atomic_path:
    """Context manager giving a temp path beside `path`; on success it is flushed to disk and replaces `path` in
    one step. A failed write (a full disk, Ctrl-C) leaves `path` as it was and removes the temp file; temp files
    that a killed run left in the folder are removed at the next write there (see remove_orphans)."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self) -> str:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_orphans(self.path.parent)
            fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.{TAG}-{os.getpid()}-",
                                            suffix=f".tmp{self.path.suffix}")
        except OSError as e:
            raise MorphError(f"cannot write into {self.path.parent} ({e.strerror}): "
                             f"{DISK_HINTS.get(e.errno, 'pick a folder you can write to')}") from None
        os.close(fd)
        os.chmod(self.tmp, 0o644)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                _fsync(self.tmp)
                os.replace(self.tmp, self.path)
                return False
        except OSError as e:
            exc = e
        if os.path.exists(self.tmp):
            os.remove(self.tmp)
        if isinstance(exc, OSError):
            raise MorphError(f"cannot write {self.path} ({exc.strerror or exc}): it is left as it was; "
                             "free some disk space or pick another folder") from None
        return False


def _fsync(name):
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TAG = "morphlib"  # in every temp file's name: .<name>.morphlib-<pid>-<8 random letters>.tmp<name's suffix>
_TEMP = re.compile(rf"\.(?P<name>.+)\.{TAG}-(?P<pid>[0-9]{{1,9}})-[a-z0-9_]{{8}}\.tmp(?P<suffix>(\.[^.]*)?)")


def remove_orphans(folder) -> int:
    """Remove the temp files that saves killed in `folder` left: only files named exactly as atomic_path names
    them, whose process is gone (a user's .notes.tmp or .photo.2019.tmp.jpg never match); returns how many."""
    gone = 0
    for p in Path(folder).glob(f".*.{TAG}-*.tmp*"):
        m = _TEMP.fullmatch(p.name)
        try:
            if (m and m["suffix"] == Path(m["name"]).suffix and p.is_file() and not p.is_symlink()
                    and not pid_alive(int(m["pid"]))):
                p.unlink()
                gone += 1
        except OSError:
            continue
    return gone


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (0 and ids past any pid_max name none)."""
    if not 0 < pid < 2**31:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    return True


STALE_LOCK_S = 10  # a lock file without a readable pid this old was left by a killed run


@contextmanager
def lock(path, what=None, doing="learned"):
    """Hold the right to write `path` (a weights file, a transition's outputs): a lock file beside it
    (`.<name>.lock`) holds this pid. Held by a live run: MorphError, "<what> is being <doing> by another run"
    (`what` by default: picture <stem>); left by a dead run: taken over."""
    path = Path(path)
    lock_file = path.with_name(f".{path.name}.lock")
    _take(lock_file, what or f"picture {path.stem}", doing)
    try:
        yield lock_file
    finally:
        lock_file.unlink(missing_ok=True)


def _take(lock_file: Path, what, doing):
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(lock_file.parent, e) from None
    for _ in range(3):
        try:
            fd = os.open(lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _holder(lock_file)
            if pid == "":
                raise MorphError(f"{what} is being {doing} by another run, starting this moment ({lock_file} holds "
                                 f"no pid yet): try again in {STALE_LOCK_S} s") from None
            if pid is not None:
                raise MorphError(f"{what} is being {doing} by another run (pid {pid}): stop that run first, or "
                                 "wait for it") from None
            lock_file.unlink(missing_ok=True)  # stale: its run is gone
            continue
        except OSError as e:
            raise _unwritable(lock_file.parent, e) from None
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return
    raise MorphError(f"cannot take the lock {lock_file}: remove it if no other run is at work on {what}")


def _unwritable(folder, error) -> MorphError:
    return MorphError(f"cannot write into {folder} ({error.strerror}): "
                      f"{DISK_HINTS.get(error.errno, 'pick a folder you can write to')}")


def _holder(lock_file: Path):
    """The pid of the live run holding `lock_file`; "" while the run that has just made it is writing its pid; None
    when the lock is stale (its run is dead, or it holds anything but a pid: no run wrote that)."""
    try:
        text = lock_file.read_text(errors="replace").strip()
        age = time.time() - lock_file.stat().st_mtime
    except OSError:
        return None
    if not text:
        return "" if age < STALE_LOCK_S else None
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) and pid_alive(int(text)) else None
