"""Many pictures, long videos: learning pictures and rendering a transition's frames over Dask distributed.

One client per run (client()), passed to learn_all and to transition.write_transition: None (jobs=1) runs in
this process without importing Dask; otherwise an embedded LocalCluster of `jobs` worker processes (default: one
per core, one BLAS thread each), or the cluster at `scheduler` (tcp://HOST:8786). Workers train and render; this
process writes every file, atomically, under the pictures' locks."""
import dataclasses
import logging
import os
import re
import signal
import socket
import threading
import time
import warnings
from collections import deque
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from . import checks
from .errors import MorphError
from .files import lock
from .images import numbered_images
from .learn import Job, learn, save, trained
from .sequence import number_range
from .weights import weights_dir

# Set in a LocalCluster's worker processes before they start: one BLAS thread each (2 workers on 2 cores must not
# fight), and glibc's heap kept for numpy's temporaries: Dask's own MALLOC_TRIM_THRESHOLD_=65536 fixes the mmap
# threshold at 128 kB, and a worker then took 1.5x the CPU time of this process for the same frames (measured).
WORKER_ENV = {**{k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
              "MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
JOBS = {"learn": None, "transition": 1}  # the commands' default worker counts (None: one per core; 1: no Dask)
IN_FLIGHT = 1  # groups of frames submitted ahead of the one being written (all workers share a group)
SCHEDULER_TIMEOUT_S = 5  # a scheduler address that does not answer as one within this is refused
STOP_WAIT_S = 20  # after Ctrl-C, how long the workers have to send back their best nets
POLL_S = 0.5  # how often the wait for the workers looks at Ctrl-C's flag


@dataclasses.dataclass
class Outcome:
    """What became of one picture: its weights file and training result, or why it failed."""

    name: str
    path: Path = None
    result: object = None
    error: str = None

    @property
    def failed(self) -> bool:
        return self.error is not None or self.path is None


def pictures(items, job: Job = None) -> list:
    """Jobs for `items`: picture numbers ("3"), ranges ("5-9"), paths, and folders (their numbered pictures, by
    path), each a copy of `job` (default Job()) with its picture; Jobs as they are. Two that would be saved into
    one weights file are refused."""
    job = Job() if job is None else checks.instance("job", job, Job, "a Job (the settings of every picture)")
    items = [items] if isinstance(items, (str, Path, int, Job)) else checks.instance(
        "items", items, (list, tuple), "picture numbers, files or folders (a list of them)")
    jobs = [j for item in items for j in _jobs(item, job)]
    if not jobs:
        raise MorphError("no pictures given: name numbers (1 2 5-9), files or a folder")
    _one_each(jobs)
    return jobs


def _one_each(jobs):
    """Refuse two jobs that would save into one weights file (1 twice, or photos/1.png and photos/1.jpg)."""
    seen = {}
    for j in jobs:
        try:
            path = j.out_path()
        except MorphError:  # fails alone, saying why, when it is learned
            continue
        if path in seen:
            raise MorphError(f"pictures {seen[path].picture} and {j.picture} would both be learned into {path}: "
                             "name each picture once, and give pictures of one number (1.png, 1.jpg) different "
                             "numbers")
        seen[path] = j


def _jobs(item, job: Job) -> list:
    if isinstance(item, Job):
        return [item]
    checks.picture("items", item)
    text, folder = str(item), Path(job.root) / str(item)
    numbers = number_range(text)
    if numbers is not None:
        return [dataclasses.replace(job, picture=n) for n in numbers]
    if checks.number(text) is not None or not folder.is_dir():
        return [dataclasses.replace(job, picture=item)]
    found = numbered_images(folder)
    if not found:
        raise MorphError(f"{folder}/ holds no numbered pictures (1.png, 2.jpg, ...): name them by number")
    # each by its path: as picture n of img/, it would replace that picture's net (Job.name refuses a clash)
    return [dataclasses.replace(job, picture=str(path)) for path in found.values()]


def learn_all(items, job: Job = None, *, client=None, time_limit=None, on_picture=None) -> list:
    """Learn every picture of `items` (see pictures()) as `learn` learns one, with `job`'s settings (and
    `time_limit` seconds each), on the workers of `client` (see client(); None: one after the other in this
    process). on_picture(outcome, done, total) as each picture ends. Returns the Outcomes in the pictures' order;
    a picture that fails (a bad file, a diverged net, a dead worker) fails alone. Ctrl-C stops the run, with the
    best nets so far of the pictures under way saved as a single `learn` saves them."""
    todo, client = pictures(items, job), checked(client)
    time_limit = checks.optional(checks.real, "time_limit", time_limit, 0)
    on_picture = checks.function("on_picture", on_picture)
    names = [j.name() if _named(j) else str(j.picture) for j in todo]
    done = {}

    def finish(i, outcome):
        done[i] = outcome
        if on_picture:
            on_picture(outcome, len(done), len(todo))

    if client is None:
        for i, j in enumerate(todo):
            finish(i, _learn_here(names[i], j, time_limit))
            if done[i].result is not None and done[i].result.stopped == "interrupted":
                raise KeyboardInterrupt
    else:
        _learn_on_cluster(client, todo, names, finish, time_limit)
    return [done[i] for i in sorted(done)]


def _named(job) -> bool:
    try:
        job.name()
    except MorphError:
        return False
    return True


def _learn_here(name, job, time_limit) -> Outcome:
    try:
        result, path = learn(job, time_limit=time_limit)
    except MorphError as e:
        return Outcome(name, error=str(e))
    return _outcome(name, result, path)


def _outcome(name, result, path) -> Outcome:
    """A saved net is no failure, also after a diverged stop (its result says what happened)."""
    if path is None:
        return Outcome(name, path, result, result.message if result.stopped == "diverged" else "no epoch finished")
    return Outcome(name, path, result)


def _learn_on_cluster(client, todo, names, finish, time_limit):
    """Train on the workers, save here as each picture ends, under the locks taken before any work starts. Ctrl-C
    asks the workers to stop (a flag file they watch): their best nets so far come back and are saved, pictures
    not started yet are not learned, then KeyboardInterrupt; a worker that has not answered STOP_WAIT_S later is
    given up, and a second Ctrl-C stops at once."""
    flag = weights_dir(todo[0].hidden, Path(todo[0].root).resolve()) / f".stop-{os.getpid()}"
    with ExitStack() as locks, _stop_flag_on_interrupt(flag) as interrupted:
        futures = {}
        for i, job in enumerate(todo):
            try:
                job = dataclasses.replace(job, root=str(Path(job.root).resolve()),  # as the workers see them
                                          picture=job.picture if checks.number(str(job.picture)) is not None else
                                          str(Path(job.picture).resolve()))
                locks.enter_context(lock(job.out_path()))
            except MorphError as e:
                finish(i, Outcome(names[i], error=str(e)))
                continue
            futures[client.submit(_train, job, time_limit, str(flag), pure=False,
                                   key=f"learn-{i}-{names[i]}")] = i, job
        try:
            for future, answered in _as_completed(futures, interrupted):
                i, job = futures[future]
                finish(i, _saved(names[i], job, future) if answered else Outcome(names[i], error=(
                    f"interrupted: its worker sent no net back within {STOP_WAIT_S} s of Ctrl-C")))
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
        if interrupted():
            raise KeyboardInterrupt


def _as_completed(futures, interrupted):
    """(future, True) as each finishes; once interrupted(), those still running STOP_WAIT_S later are cancelled
    and come as (future, False)."""
    from dask.distributed import wait

    pending, deadline = set(futures), None
    while pending:
        try:
            done, pending = wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = ()
        yield from ((future, True) for future in done)
        if deadline is None and interrupted():
            deadline = time.monotonic() + STOP_WAIT_S
        if deadline is not None and pending and time.monotonic() > deadline:
            for future in pending:
                future.cancel()
                yield future, False
            return


class _Flag:
    """A stop event that workers anywhere share through the project's folder: set once the file exists."""

    def __init__(self, path):
        self.path = Path(path)

    def is_set(self) -> bool:
        return self.path.exists()


def _train(job, time_limit, flag):
    """trained(job) on a worker, stopping soon after `flag` appears; None if it was there before."""
    stop = _Flag(flag)
    return None if stop.is_set() else trained(job, time_limit=time_limit, stop=stop)


@contextmanager
def _stop_flag_on_interrupt(flag: Path):
    """While the block runs, the first Ctrl-C (SIGINT) creates `flag` instead of raising; the next one raises.
    Yields a function telling whether it came. Signals can only be caught in the main thread: elsewhere, as is."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def first(signum, frame):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.touch()
        except OSError:  # no flag for the workers to see: stop at once
            raise KeyboardInterrupt from None

    flag.unlink(missing_ok=True)
    old = signal.signal(signal.SIGINT, first)
    try:
        yield flag.exists
    finally:
        signal.signal(signal.SIGINT, old)
        flag.unlink(missing_ok=True)


def _saved(name, job, future) -> Outcome:
    """The Outcome of a finished training: its net saved here, or the error it met."""
    try:
        done = future.result()
        if done is None:
            return Outcome(name, error="not learned: the run was interrupted before it started")
        return _outcome(name, done[0], save(job, *done))
    except MorphError as e:
        return Outcome(name, error=str(e))
    except Exception as e:  # a worker that died, a bug met on one picture: that picture fails, the others go on
        return Outcome(name, error=f"{type(e).__name__}: {e}")


@contextmanager
def client(jobs=None, scheduler=None, *, on_note=None):
    """The Dask client of a run, to pass to learn_all and transition.write_transition: None for jobs=1 (the
    work runs in this process, Dask is not imported); the cluster's at `scheduler` (tcp://HOST:8786), refused
    within SCHEDULER_TIMEOUT_S if nothing there answers as a Dask scheduler; else an embedded LocalCluster of
    `jobs` worker processes (None: one per core), one thread and one BLAS thread each, at most one per core this
    process may use (more are capped, and on_note(text) says so; default: a warning)."""
    jobs = checks.optional(checks.whole, "jobs", jobs, 1)
    if scheduler is not None:
        with _connected(scheduler_address(scheduler)) as c:
            yield c
        return
    if jobs == 1:
        yield None
        return
    workers, note = worker_count(jobs)
    if note:
        (on_note or warnings.warn)(note)
    import dask
    from dask.distributed import Client, LocalCluster

    env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}
    with ExitStack() as stack:
        with dask.config.set(env), _deaf_workers():
            local = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0",  # any free port
                                                     silence_logs=logging.ERROR))  # not its shutdown's chatter
            c = stack.enter_context(Client(local))
        yield c


def cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(jobs=None) -> tuple:
    """(workers, note): `jobs` (None: one per core) capped at cores(); the note says when it was, else None."""
    have = cores()
    if jobs is None or jobs <= have:
        return jobs or have, None
    return have, f"jobs {jobs}: this machine gives this run {have} cores; starting {have} workers"


@contextmanager
def _deaf_workers():
    """While a LocalCluster starts: the worker processes it spawns (from threads started now) are born with SIGINT
    blocked, so a terminal's Ctrl-C, sent to the whole process group, cannot kill them with their nets (this
    process asks them to stop, through the stop flag); a Ctrl-C here waits until the cluster is up, then raises."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # starting it later would unblock SIGINT in the thread that does
    came, main = [], threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, lambda *_: came.append(True)) if main else None
    masks = hasattr(signal, "pthread_sigmask")  # not on Windows, where Ctrl-C goes to the console's processes
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masks else None
    try:
        yield
    finally:
        if masks:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if main:
            signal.signal(signal.SIGINT, old)
    if came:
        raise KeyboardInterrupt


_ADDRESS = re.compile(r"(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[\w.-]+):(\d{1,5})")


def scheduler_address(value) -> str:
    """A Dask scheduler's address, tcp://HOST:PORT (or tls://; HOST:PORT means tcp), else a MorphError."""
    m = _ADDRESS.fullmatch(value.strip()) if isinstance(value, str) else None
    if not m or not 0 < int(m[3]) < 65536:
        raise MorphError(f"scheduler {value!r} is not a Dask scheduler's address: write tcp://HOST:PORT, "
                         "e.g. tcp://10.0.0.5:8786 (what `dask scheduler` prints)")
    return f"{m[1] or 'tcp'}://{m[2]}:{m[3]}"


@contextmanager
def _connected(address):
    """A Client of the scheduler at `address`, once it has answered as one (_check_answers)."""
    from dask.distributed import Client

    _check_answers(address)
    with Client(address, timeout=SCHEDULER_TIMEOUT_S) as c:
        yield c


def _check_answers(address):
    """Refuse, within SCHEDULER_TIMEOUT_S, an address where nothing listens, nothing answers, or another kind of
    server does (Dask's Client would wait for ever there, or read the other protocol's bytes as a length)."""
    import asyncio

    from distributed.comm import connect

    async def handshake():
        comm = await connect(address, timeout=SCHEDULER_TIMEOUT_S)
        await comm.close()

    host, port = address.split("://")[1].rsplit(":", 1)
    try:
        socket.create_connection((host.strip("[]"), int(port)), SCHEDULER_TIMEOUT_S).close()
        asyncio.run(asyncio.wait_for(handshake(), SCHEDULER_TIMEOUT_S))
    except Exception as e:  # MemoryError, ValueError, ...: another protocol's bytes read as Dask's
        raise MorphError(f"no Dask scheduler answers at {address} ({_why(e)}): check the address and port, that "
                         "`dask scheduler` runs there and that this machine can reach it") from None


def _why(error) -> str:
    """What went wrong connecting, in a few words: an OSError's reason (Dask's comm errors end with it)."""
    if not isinstance(error, OSError):
        return "something else listens there"
    text = error.strerror or str(error).split(">: ")[-1].strip()
    return text.splitlines()[0] if text else f"no answer within {SCHEDULER_TIMEOUT_S} s"


def checked(client):
    """`client` if it is None or a Dask client (what client() yields), else a MorphError."""
    if client is not None and not callable(getattr(client, "submit", None)):
        raise MorphError(f"client {client!r} is not a Dask client: give the one parallel.client() yields, or None")
    return client


def _workers_of(client) -> int:
    return max(1, len(client.scheduler_info()["workers"]))


def frames(client, plan, *, device="cpu"):
    """The frames of a transition.Plan (uint8) rendered on `client`'s workers: each of its groups (what a link's
    frames share is made once per group) cut into a band of rows per worker, so that no two workers make the
    same first layer; the bands put together here and the frames yielded in order, with at most IN_FLIGHT
    groups waiting."""
    bands = _bands(plan.size[1], _workers_of(client))
    waiting = deque()
    for part in plan.groups(uint8=True):
        waiting.append([client.submit(_band, part, band, device, pure=False) for band in bands])
        while len(waiting) > IN_FLIGHT:
            yield from _joined(waiting.popleft())
    while waiting:
        yield from _joined(waiting.popleft())


def _bands(height: int, count: int) -> list:
    """Up to `count` bands of rows (r0, r1), as even as can be, covering rows 0 to height."""
    edges = [round(k * height / count) for k in range(count + 1)]
    return [(r0, r1) for r0, r1 in zip(edges, edges[1:]) if r1 > r0]


def _joined(bands):
    """The frames of a group from the futures of its bands, top to bottom."""
    parts = [future.result() for future in bands]
    for pieces in zip(*parts):
        yield np.concatenate(pieces, axis=0)


def _band(part, band, device) -> list:
    """A part of a plan, rows band[0] to band[1] of its frames, rendered on a worker."""
    return list(part.render(band=band, uint8=True, device=device))
