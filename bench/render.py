"""Render speed: seconds per frame at 256 and 512 px for H=100 nets, the seed's plain net and the default Fourier
one, and a whole transition frame (interpolation included); on the machine as it is ("idle") and with a busy
process on every core ("loaded", bench/load.py), for morphlib (one BLAS thread, morphlib/threads.py) beside the
same code with numpy's own BLAS threads.  Usage: python -m bench.render [--sizes 256 512]
"""
import argparse
import time

from threadpoolctl import threadpool_limits

from bench.load import busy
from morphlib.encoding import make_encoding
from morphlib.mlp import init_net, render
from morphlib.transition import interpolate

numpy_threads = render.__wrapped__  # render without morphlib's one-BLAS-thread rule


def seconds(f, *args, repeat=3):
    """Best of `repeat` timed calls after a warm-up: the least disturbed by the rest of a shared machine."""
    f(*args)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        best = min(best, time.perf_counter() - start)
    return best


def frame(draw, a, b, size):
    return draw(interpolate(a, b, 0.3), size)


def one_thread(f, *args):
    with threadpool_limits(1):
        return f(*args)


def cases(sizes):
    """(label, function, args) per net, size and task."""
    for name, enc in (("plain", make_encoding("plain")), ("fourier", make_encoding("fourier"))):
        a, b = init_net(100, enc, seed=0), init_net(100, enc, seed=1)
        for s in sizes:
            yield f"{name} H=100 {s} px", (lambda draw, a=a, s=s: draw(a, s))
            yield f"  {name} {s} px, morph frame", (lambda draw, a=a, b=b, s=s: frame(draw, a, b, s))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    sizes = ap.parse_args().sizes
    columns = {"morphlib": render, "numpy thr.": numpy_threads}
    idle = {label: [seconds(task, draw) for draw in columns.values()] for label, task in cases(sizes)}
    with busy():
        loaded = {label: [seconds(task, draw) for draw in columns.values()]
                  + [seconds(one_thread, task, numpy_threads)] for label, task in cases(sizes)}
    heads = ["idle: morphlib", "numpy thr.", "loaded: morphlib", "numpy thr.", "1 BLAS thr."]
    print(f"{'s/frame (best of 3)':26s}" + "".join(f"{h:>18s}" for h in heads))
    for label in idle:
        print(f"{label:26s}" + "".join(f"{t:18.3f}" for t in idle[label] + loaded[label]))
    print("'numpy thr.': numpy's own BLAS threads; 'loaded': a spinning process on every core. "
          "Targets (plain, H=100, idle): 512 px <= 0.1 s/frame; loaded morphlib <= loaded 1 BLAS thread")


if __name__ == "__main__":
    main()
