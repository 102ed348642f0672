"""Render speed: seconds per frame at 256 and 512 px for H=100 nets, the seed's plain net, a Fourier one and the
default hash grid one, and a whole transition frame (interpolation included); on the machine as it is ("idle") and
with a busy process on every core ("loaded", bench/load.py), for morphlib (one BLAS thread, morphlib/threads.py)
beside the same code with numpy's own BLAS threads. Then transition frames made one by one
(render(interpolate(...))) beside a link's frames made together (render_morph: the first layer once per group of
frames), at 512 px and 1920x1080, on one core; and the default frame as users get it on 2 cores: the shipped nets'
chain 1-4:48 streamed into an MP4 by 2 Dask workers. Usage: python -m bench.render [--sizes 256 512] [--links-only]
"""
import argparse
import time

from threadpoolctl import threadpool_limits

from bench.load import busy
from morphlib import parallel
from morphlib.encoding import make_encoding
from morphlib.net import init_net, interpolate
from morphlib.render import render, render_morph
from morphlib.threads import blas_threads
from morphlib.transition import group_size, write_transition

CHAIN = "1-4:48"  # the shipped nets (W-100/, hash grids), 142 frames


def numpy_threads(net, height, width=None):
    """render without morphlib's one-BLAS-thread rule."""
    with blas_threads(None):
        return render(net, height, width)


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
    for name, enc in ((name, make_encoding(name)) for name in ("plain", "fourier", "hashgrid")):
        a, b = init_net(100, enc, seed=0), init_net(100, enc, seed=1)
        for s in sizes:
            yield f"{name} H=100 {s} px", (lambda draw, a=a, s=s: draw(a, s))
            yield f"  {name} {s} px, morph frame", (lambda draw, a=a, b=b, s=s: frame(draw, a, b, s))


def per_link(sizes=((512, 512), (1920, 1080))):
    """Seconds per transition frame (bytes, as write_transition makes them), one by one and a link's group at once
    (transition.group_size: 64 at 512 px, 41 at 1920x1080)."""
    print(f"{'s/frame, idle':26s}{'one by one':>18s}{'per link':>18s}{'speed-up':>18s}")
    for name in ("plain", "fourier", "hashgrid"):
        enc = make_encoding(name)
        a, b = init_net(100, enc, seed=0), init_net(100, enc, seed=1)
        for w, h in sizes:
            alone = seconds(lambda net, h, w: render(net, h, w, uint8=True), interpolate(a, b, 0.3), h, w, repeat=2)
            ts = [i / (group_size((w, h)) - 1) for i in range(group_size((w, h)))]
            start = time.perf_counter()
            render_morph(a, b, ts, h, w, uint8=True)
            linked = (time.perf_counter() - start) / len(ts)
            print(f"{f'{name} {w}x{h}':26s}{alone:18.3f}{linked:18.3f}{alone / linked:17.1f}x")
    with parallel.client(2) as client:
        for w, h in sizes:
            print(f"{f'W-100/ {w}x{h}':26s}{chain((w, h), client):18.3f} on 2 workers: {CHAIN} of W-100/ into an "
                  "MP4")
    print("Targets (the default nets, 2 idle cores): 512 px <= 0.1 s/frame, 1920x1080 <= 0.5 s/frame")


def chain(size, client) -> float:
    """Seconds per frame of CHAIN at `size` streamed into an MP4 on the workers of `client` (already up)."""
    start = time.perf_counter()
    out = write_transition(CHAIN, client=client, size="{}x{}".format(*size), movies=("mp4",),
                           out="result/bench/render", name="chain", device="cpu")
    return (time.perf_counter() - start) / out["count"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--links-only", action="store_true", help="only the table of one by one against per link")
    args = ap.parse_args()
    per_link()
    if args.links_only:
        return
    sizes = args.sizes
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
