"""BLAS threads for morphlib's many small matrix products.

Rendering and training multiply blocks of at most a few thousand pixels by H x H weights: each product is too
small for BLAS threads to pay off, and on a busy machine they spin against the other processes (a 2-core machine
with one other busy process ran `demo` 4x slower than with one thread). So these run with one BLAS thread;
bench.render and bench.fit measure both, idle and under load."""
import functools

from threadpoolctl import ThreadpoolController

_BLAS = ThreadpoolController()  # found once: a fresh scan of the loaded libraries on every call costs more


def one_blas_thread(fn):
    """Decorator: `fn` runs with one BLAS thread (numpy's own setting is restored after)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with _BLAS.limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return run
