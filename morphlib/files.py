"""The file-safety rules, once: atomic writes (a temp file beside the target, then os.replace), the temp files a
killed run left behind, and locks (a pid in a file beside what one run writes at a time)."""
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import MorphError


class atomic_path:
    """Context manager giving a temp path beside `path`; on success it is flushed to disk and replaces `path` in
    one step. A failed write (a full disk, Ctrl-C) leaves `path` as it was and removes the temp file; temp files
    that a killed run left in the folder are removed at the next write there."""

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self) -> str:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_orphans(self.path.parent)
            fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.{os.getpid()}.",
                                            suffix=f".tmp{self.path.suffix}")
        except OSError as e:
            raise MorphError(f"cannot write into {self.path.parent} ({e.strerror}): "
                             "pick a folder you can write to") from None
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


ORPHAN_AGE_S = 60  # a temp file of unknown owner this old is left over from a killed save
_TEMP = re.compile(r"\.(.+)\.(\d+)\.\w+\.tmp(\.\w+)?")  # .<name>.<pid>.<random>.tmp<suffix>
_OLD_TEMP = re.compile(r"\..+\.\w+\.tmp(\.\w+)?")  # without the pid


def remove_orphans(folder) -> int:
    """Remove the temp files of saves that were killed in `folder` (their pid is dead, or they are older than
    ORPHAN_AGE_S and carry no pid); returns how many."""
    gone = 0
    for p in Path(folder).glob(".*.tmp*"):
        m = _TEMP.fullmatch(p.name)
        try:
            if (m and not pid_alive(int(m.group(2)))) or (
                    not m and _OLD_TEMP.fullmatch(p.name) and time.time() - p.stat().st_mtime > ORPHAN_AGE_S):
                p.unlink()
                gone += 1
        except OSError:
            continue
    return gone


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    return True


STALE_LOCK_S = 10  # a lock file without a readable pid this old was left by a killed run


@contextmanager
def lock(path, busy=None):
    """Hold the right to write `path` (a weights file, a transition's outputs): a lock file beside it
    (`.<name>.lock`) holds this pid. Held by a live run: MorphError, `busy` saying what that run does (default:
    "picture <stem> is being learned"); left by a dead run: taken over."""
    path = Path(path)
    lock_file = path.with_name(f".{path.name}.lock")
    _take(lock_file, busy or f"picture {path.stem} is being learned")
    try:
        yield lock_file
    finally:
        lock_file.unlink(missing_ok=True)


def _take(lock_file: Path, busy):
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(lock_file.parent, e) from None
    for _ in range(3):
        try:
            fd = os.open(lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _holder(lock_file)
            if pid is not None:
                raise MorphError(f"{busy} by another run (pid {pid}): stop that run first, or wait for it") from None
            lock_file.unlink(missing_ok=True)  # stale: its run is gone
            continue
        except OSError as e:
            raise _unwritable(lock_file.parent, e) from None
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return
    raise MorphError(f"cannot take the lock {lock_file}: remove it if no other morphlib run is at work there")


def _unwritable(folder, error) -> MorphError:
    return MorphError(f"cannot write into {folder} ({error.strerror}): pick a folder you can write to")


def _holder(lock_file: Path):
    """The pid of the live run holding `lock_file`, or None when the lock is stale."""
    try:
        text = lock_file.read_text().strip()
        age = time.time() - lock_file.stat().st_mtime
    except OSError:
        return None
    if not text.isdigit():
        return "?" if age < STALE_LOCK_S else None  # being written now, or left half-written by a killed run
    return int(text) if pid_alive(int(text)) else None
