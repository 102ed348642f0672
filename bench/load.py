"""A busy machine for the benches: one spinning process per core, as a second kernel or a browser would be."""
import multiprocessing as mp
import os
from contextlib import contextmanager


def _spin(stop):
    while not stop.is_set():
        sum(range(10_000))


@contextmanager
def busy(processes=None):
    """Keep every core (or `processes` of them) busy while the block runs; the processes are stopped after."""
    ctx = mp.get_context("spawn")  # a clean child: no copy of the parent's BLAS threads
    stop = ctx.Event()
    workers = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(processes or os.cpu_count())]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        stop.set()
        for w in workers:
            w.join(5)
            if w.is_alive():
                w.terminate()
