"""The file-safety rules, once: atomic writes (a temp file beside the target, then os.replace), the temp files a
killed run left behind, and whether a process is alive (for locks)."""
import os
import re
import tempfile
import time
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
