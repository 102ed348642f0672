"""Many pictures, long videos: learning pictures and rendering chunks of frames over Dask distributed.

jobs=1 runs in this process (Dask is not imported); otherwise an embedded LocalCluster of `jobs` worker processes
(default: one per core, one BLAS thread each), or the cluster at `scheduler` (tcp://HOST:8786). Workers train
and render; this process writes every file, atomically, under the pictures' locks."""
import dataclasses
import os
import signal
import threading
from collections import deque
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from . import checks, transition
from .errors import MorphError
from .images import numbered_images
from .learn import Job, learn, save, trained
from .sequence import number_range
from .weights import lock, weights_dir

# Set in a LocalCluster's worker processes before they start: one BLAS thread each (2 workers on 2 cores must not
# fight), and glibc's heap kept for numpy's temporaries: Dask's own MALLOC_TRIM_THRESHOLD_=65536 fixes the mmap
# threshold at 128 kB, and a worker then took 1.5x the CPU time of this process for the same frames (measured).
WORKER_ENV = {**{k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
              "MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
MAX_JOBS = 1024
IN_FLIGHT = 1  # groups of frames submitted ahead of the one being written (all workers share a group)


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


def learn_all(items, job: Job = None, *, jobs=None, scheduler=None, time_limit=None, on_picture=None) -> list:
    """Learn every picture of `items` (see pictures()) as `learn` learns one, with `job`'s settings (and
    `time_limit` seconds each), `jobs` at a time (None: one per core; 1: one after the other in this process) or
    on the cluster at `scheduler`. on_picture(outcome, done, total) as each picture ends. Returns the Outcomes in
    the pictures' order; a picture that fails (a bad file, a diverged net, a dead worker) fails alone. Ctrl-C
    stops the run, with the best nets so far of the pictures under way saved as a single `learn` saves them."""
    todo, jobs = pictures(items, job), checks.optional(checks.whole, "jobs", jobs, 1, MAX_JOBS)
    time_limit = checks.optional(checks.real, "time_limit", time_limit, 0)
    on_picture = checks.function("on_picture", on_picture)
    names = [j.name() if _named(j) else str(j.picture) for j in todo]
    done = {}

    def finish(i, outcome):
        done[i] = outcome
        if on_picture:
            on_picture(outcome, len(done), len(todo))

    if jobs == 1 and scheduler is None:
        for i, j in enumerate(todo):
            finish(i, _learn_here(names[i], j, time_limit))
            if done[i].result is not None and done[i].result.stopped == "interrupted":
                raise KeyboardInterrupt
    else:
        _learn_on_cluster(todo, names, finish, jobs, scheduler, time_limit)
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
    error = result.message if result.stopped == "diverged" else None if path else "no epoch finished"
    return Outcome(name, path, result, error)


def _learn_on_cluster(todo, names, finish, jobs, scheduler, time_limit):
    """Train on the workers, save here as each picture ends, under the locks taken before any work starts. Ctrl-C
    asks the workers to stop after their epoch: their best nets so far come back and are saved, pictures not
    started yet are not learned, then KeyboardInterrupt; a second Ctrl-C stops at once."""
    from dask.distributed import as_completed

    flag = weights_dir(todo[0].hidden, Path(todo[0].root).resolve()) / f".stop-{os.getpid()}"
    with ExitStack() as locks, cluster(jobs, scheduler) as client, _stop_flag_on_interrupt(flag) as interrupted:
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
            for future in as_completed(futures):
                i, job = futures[future]
                finish(i, _saved(names[i], job, future))
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
        if interrupted():
            raise KeyboardInterrupt


class _Flag:
    """A stop event that workers anywhere share through the project's folder: set once the file exists."""

    def __init__(self, path):
        self.path = Path(path)

    def is_set(self) -> bool:
        return self.path.exists()


def _train(job, time_limit, flag):
    """trained(job) on a worker, stopping after the epoch in which `flag` appears; None if it was there before."""
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
        flag.touch()
        signal.signal(signal.SIGINT, signal.default_int_handler)

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
def cluster(jobs=None, scheduler=None):
    """A Dask Client: of the cluster at `scheduler`, else of a LocalCluster of `jobs` worker processes (None:
    one per core) with one thread and one BLAS thread each."""
    checks.optional(checks.instance, "scheduler", scheduler, str, "a Dask scheduler's address, such as tcp://HOST:8786")
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    workers = jobs or os.cpu_count() or 1
    env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}
    with dask.config.set(env), LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=":0") as local, Client(local) as client:  # any free port
        yield client


def _worker_count(client) -> int:
    return max(1, len(client.scheduler_info()["workers"]))


def write_transition(sequence, *, jobs=1, scheduler=None, **options) -> dict:
    """transition.write_transition with its frames rendered in chunks on `jobs` Dask workers (or the cluster at
    `scheduler`) and written here, in order, as they come back; jobs=1: in this process."""
    jobs = checks.optional(checks.whole, "jobs", jobs, 1, MAX_JOBS)
    if jobs == 1 and scheduler is None:
        return transition.write_transition(sequence, **options)
    with cluster(jobs, scheduler) as client:
        return transition.write_transition(sequence, renderer=lambda *a, **kw: _frames(client, *a, **kw),
                                           **options)


def _frames(client, plan, nets, size, *, align=False, uint8=False, **options):
    """transition.frames over the workers: each group of a link's frames (transition.groups) cut into a band of
    rows per worker, so that no two workers make the same first layer (what a group shares); the bands put
    together here and the frames yielded in order, with at most IN_FLIGHT groups waiting."""
    w, h = transition.parse_size(size)
    bands = _bands(h, _worker_count(client))
    pairs, waiting = {}, deque()
    for src, dst, ts in transition.groups(plan, transition.group_size((w, h), uint8)):
        if (src, dst) not in pairs:
            pairs[src, dst] = transition.pair(nets[src], nets[dst], align)
        chunk = [(src, dst, t) for t in ts]
        sub = {src: pairs[src, dst][0], dst: pairs[src, dst][1]}
        warp = {k: v for k, v in (options.get("warps") or {}).items() if k == (src, dst)}  # the link's, if any
        waiting.append([client.submit(_chunk, chunk, sub, size, band=band, uint8=uint8, pure=False,
                                      **{**options, "warps": warp}) for band in bands])
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


def _chunk(plan, nets, size, **options) -> list:
    """A chunk's frames, rendered on a worker (a link's nets already paired)."""
    return list(transition.frames(plan, nets, size, **options))
