"""Render speed: seconds per frame at 256, 512 and 1024 px for H=100 nets, the seed's plain net and the
default Fourier one, and a whole transition frame (interpolation included).  Usage: python -m bench.render
"""
import time

from morphlib.encoding import make_encoding
from morphlib.mlp import init_net, render
from morphlib.transition import interpolate

SIZES = (256, 512, 1024)


def seconds(f, *args, repeat=5):
    """Best of `repeat` timed calls after a warm-up: the least disturbed by the rest of a shared machine."""
    f(*args)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        best = min(best, time.perf_counter() - start)
    return best


def frame(a, b, size):
    return render(interpolate(a, b, 0.3), size)


def main():
    nets = {"plain (seed), H=100": init_net(100, seed=0),
            "fourier 256, H=100": init_net(100, make_encoding("fourier"), seed=0)}
    print(f"{'s/frame (best of 5)':24s}" + "".join(f"{s:>10d}" for s in SIZES))
    for name, net in nets.items():
        other = init_net(100, net.encoding, seed=1)
        print(f"{name:24s}" + "".join(f"{seconds(render, net, s):10.3f}" for s in SIZES))
        print(f"{'  as a transition frame':24s}"
              + "".join(f"{seconds(frame, net, other, s):10.3f}" for s in SIZES))
    print("targets (plain, H=100): 512 px <= 0.1 s/frame, 1024 px <= 0.4 s/frame")


if __name__ == "__main__":
    main()
