"""BLAS threads for morphlib's many small matrix products.

Rendering and training multiply blocks of at most a few thousand pixels by H x H weights: each product is too
small for BLAS threads to pay off, and on a busy machine they spin against the other processes. So these run with
one BLAS thread; bench.render and bench.fit measure both, idle and under load."""
import functools
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_BLAS = ThreadpoolController()  # found once: a fresh scan of the loaded libraries on every call costs more
BLAS_THREADS = 1  # what the decorated calls run with; None leaves numpy's own setting (the benches compare both)


def one_blas_thread(fn):
    """Decorator: `fn` runs with BLAS_THREADS BLAS threads (numpy's own setting is restored after)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with _BLAS.limit(limits=BLAS_THREADS, user_api="blas"):
            return fn(*args, **kwargs)
    return run


@contextmanager
def blas_threads(n):
    """In this block the decorated calls run with `n` BLAS threads (None: numpy's own setting)."""
    global BLAS_THREADS
    old, BLAS_THREADS = BLAS_THREADS, n
    try:
        yield
    finally:
        BLAS_THREADS = old
