"""Learning speed: how soon a picture is learned, with the defaults learn had before issue #22 beside the new ones.

1. For each picture (img/1-4, matplotlib's grace_hopper.jpg at 512x600, samples.lake() at 1024x1024) and each
   setting (before: Fourier nets, Adam 0.003 constant, every pixel once an epoch, 200 epochs; fourier: Fourier
   nets with their RECIPES (a warm-up and cosine, error sampling, 60 epochs); new: learn.Job's defaults, a hash
   grid with its RECIPES), one run in a fresh process, one after the other: the seconds to reach 30, 33 and 35 dB
   and the PSNR after 15, 60 and 180 s (training time: the clock stops while each epoch's net is measured on the
   whole picture), the run's training seconds, the epoch of the best net, how the run ended, and the process's
   peak memory. Rows "@256" learn grace_hopper shrunk to 256 px (learn's LEARN_SIDE before) and measure it at
   512x600: what a 256 px net shows in a bigger video. A row "--time" on lake: the new defaults told the cap, so
   that their rate decays within it (its clock counts the measuring too: it has less time to train). Then, on
   img/4.png, the new defaults with one choice changed at a time (what each brings), and coarse to fine (not kept).
2. Smoothness of 11-frame morphs (bench.quality's measure) between nets learned each way at 128 px.

Usage: python -m bench.learn [--quick | --only lake ...] [--scale 1]   (--quick: img/4.png and grace_hopper only,
no morphs; --scale: the time marks and each run's cap, 180 s, times this)
"""
import argparse
import concurrent.futures as cf
import multiprocessing as mp
import resource
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from morphlib.images import fit_side, load_image, resize
from morphlib.learn import Job, trained
from morphlib.render import fit_error, psnr, render
from morphlib.samples import lake
from morphlib.train import train

from .metrics import smoothness
from .quality import PAIRS, morph

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"before": dict(encoding="fourier", lr=0.003, lr_schedule="constant", sampling="uniform", epochs=200,
                           batch=1024), "fourier": dict(encoding="fourier"), "new": {}}
ABLATIONS = {"new, batch 1024": dict(batch=1024), "new, batch 4096": dict(batch=4096),
             "new, uniform": dict(sampling="uniform"), "new, constant": dict(lr_schedule="constant"),
             "new, 40 epochs": dict(epochs=40)}  # on img/4.png, and COARSE
COARSE = "new, coarse to fine"
TIMED = "new, --time (cap)"  # on lake: the cosine over the run's cap, as `learn --time` does
LEVELS, MARKS = (30, 33, 35), (15, 60, 180)
PICTURES = ("img/1.png", "img/2.png", "img/3.png", "img/4.png", "grace_hopper", "grace_hopper@256", "lake")
QUICK = ("img/4.png", "grace_hopper")


def picture(name) -> np.ndarray:
    """The picture a run is measured on (a name of PICTURES, without its @side)."""
    if name == "lake":
        return lake(1024)
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as im:
            return np.asarray(im.convert("RGB"), np.float32) / 255
    return load_image(REPO / name)


def run(name, setting, cap):
    """One run in this process: [(training seconds, PSNR on the whole picture)] per epoch, how it ended, epochs,
    peak memory (GiB)."""
    base, _, side = name.partition("@")
    img = picture(base)
    target = fit_side(img, int(side)) if side else img
    stop, clock, log = threading.Event(), [0.0, time.perf_counter()], []

    def measure(epoch, score, net):
        clock[0] += time.perf_counter() - clock[1]
        log.append((clock[0], psnr(float(np.mean((render(net, *img.shape[:2]) - img) ** 2)))))
        if clock[0] >= cap:
            stop.set()
        clock[1] = time.perf_counter()

    if setting == COARSE:
        result = coarse_to_fine(target, on_epoch=measure, stop=stop)
    else:
        result, _ = trained(Job(**{**SETTINGS, **ABLATIONS, TIMED: {}}[setting]), target=target, on_epoch=measure,
                            stop=stop, time_limit=cap if setting == TIMED else None)
    return log, result.stopped, result.epochs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def coarse_to_fine(img, share=0.4, **kw):
    """The new defaults' pixels, `share` of them shown at half the side first (4x the epochs there), then the
    rest at full size: the net is a function of (x, y), so the smaller picture teaches it the same picture."""
    job = Job()
    net, (h, w) = job.start_net(), img.shape[:2]
    small = resize(img, (max(1, w // 2), max(1, h // 2)))
    options = dict(lr=job.learning_rate(), schedule=job.lr_schedule, sampling=job.sampling, device=job.device)
    first = train(net, small, epochs=round(4 * share * job.epochs), **options, **kw)
    if first.stopped != "done":
        return first
    return train(net, img, epochs=round((1 - share) * job.epochs), **options, **kw)


def row(name, setting, scale, out):
    """Run (name, setting) in a fresh process and print its row."""
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        log, stopped, epochs, peak = pool.submit(run, name, setting, max(MARKS) * scale).result()
    reach = [next((f"{t:8.1f}" for t, db in log if db >= level), f"{'-':>8s}") for level in LEVELS]
    at = [max((db for t, db in log if t <= mark * scale), default=None) for mark in MARKS]
    size = "x".join(map(str, picture(name.partition("@")[0]).shape[1::-1]))
    at = "".join(f"{'-':>8s}" if db is None else f"{db:8.2f}" for db in at)
    print(f"{name:17s} {size:9s} {setting:19s}" + "".join(reach) + at + f"{log[-1][0]:7.1f}{epochs:8d} "
          f"{stopped:9s} {peak:5.2f}", flush=True)
    out.append(stopped)


def speed(names, scale):
    marks = "".join(f"{f'@{m * scale:g}s':>8s}" for m in MARKS)
    print(f"\n{'picture':17s} {'size':9s} {'setting':19s}" + "".join(f"{f'to {v}dB':>8s}" for v in LEVELS) + marks
          + f"{'run s':>7s}{'best ep':>8s} {'ended':9s} {'GiB':>5s}")
    ended = []
    for name in names:
        for setting in (*SETTINGS, TIMED) if name == "lake" else SETTINGS:
            row(name, setting, scale, ended)
    print(f"runs that diverged: {ended.count('diverged')} (target 0); seconds of training, '-': not reached")
    for setting in (*ABLATIONS, COARSE) if "img/4.png" in names else ():
        row("img/4.png", setting, scale, [])


def morphs():
    """bench.quality's smoothness of the morphs between img/'s pictures, nets learned each way at 128 px."""
    print("\nsmoothness of 11-frame morphs between nets learned at 128 px from the same start (max, mean; an "
          "ideal cross-fade 0.100):")
    names = sorted({n for pair in PAIRS for n in pair})
    nets = {s: {n: trained(Job(picture=n, max_side=128, root=REPO, **kw)) for n in names} for s, kw in
            SETTINGS.items()}
    for s, got in nets.items():
        print(f"  {s:7s} nets: " + ", ".join(f"{n}: {fit_error(r.net, img):.2f} dB" for n, (r, img) in got.items()))
    for a, b in PAIRS:
        cells = [smoothness(morph(nets[s][a][0].net, nets[s][b][0].net)) for s in SETTINGS]
        print(f"  {a}>{b}  " + "   ".join(f"{s} {mx:.3f} {mean:.3f}" for s, (mx, mean) in zip(SETTINGS, cells)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="img/4.png and grace_hopper only, no morphs")
    ap.add_argument("--scale", type=float, default=1.0, help="time marks and caps times this (default %(default)s)")
    ap.add_argument("--only", nargs="+", choices=PICTURES, help="these pictures only, no morphs")
    a = ap.parse_args()
    start = time.perf_counter()
    speed(a.only or (QUICK if a.quick else PICTURES), a.scale)
    if not (a.quick or a.only):
        morphs()
    print(f"\nbench.learn took {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
