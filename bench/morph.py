"""Morphs that move: the middle frame of each link, by every way of making it, in one run.

Known pairs: each picture (img/'s sunset and logo, matplotlib's Grace Hopper and gift) against itself turned 25
degrees, zoomed 1.25x and shifted 8% (similarity), and under a smooth non-rigid warp. Their ideal middle frame
draws each point of A halfway between its place in A and in B (from the picture itself); the score is the PSNR of
the central 60% of the middle frame against it. Unrelated pairs have no ideal: their score is the added detail
HF(mid - fade) / HF(fade), HF the mean squared Laplacian and fade the cross-fade of the two nets' pictures (0 for a
cross-fade; grain and ghosts score high). Ways: today's weight morph (`--warp none`), a cross-fade of the ends,
`--warp auto` with each blend, and exact points (a grid of true pairs) with each blend.

Nets: morphlib's default Fourier nets, learned at 160 px (`--epochs`, default 300) and cached in bench/.cache/.
Middle frames go to result/bench/morph-middles.png (ideal, then each way); `--docs` writes the face pair's strips
to docs/. Usage: python -m bench.morph [--epochs 300] [--docs]
"""
import argparse
import time

import numpy as np
from scipy.ndimage import laplace

from morphlib.images import save_image
from morphlib.render import render, render_morph, render_warped
from morphlib.warp import Warp, link_warp

from . import morph_data as data

OUT = data.REPO / "result" / "bench"
UNRELATED = [("hopper", "gift"), ("hopper", "sunset"), ("gift", "logo"), ("sunset", "logo")]


def central(x) -> np.ndarray:
    n, m = x.shape[:2]
    return x[round(0.2 * n):round(0.8 * n), round(0.2 * m):round(0.8 * m)]


def psnr(x, ideal) -> float:
    return float(10 * np.log10(1.0 / np.mean((central(x) - central(ideal)) ** 2)))


def hf(x) -> float:
    return float(np.mean([np.mean(laplace(x[..., c].astype(np.float64)) ** 2) for c in range(3)]))


def added_detail(mid, fade) -> float:
    return hf(mid - fade) / hf(fade)


def middles(a, b, side, exact=None) -> dict:
    """{way: middle frame} of nets a -> b at `side` px; (warp notes) for auto."""
    ends = [render(n, side) for n in (a, b)]
    out = {"weights, no warp (today)": render_morph(a, b, [0.5], side)[0], "cross-fade": (ends[0] + ends[1]) / 2}
    auto, note = link_warp("a", "b", a, b)
    ways = {"auto": auto, "exact points": Warp(exact) if exact is not None else None}
    for name, warp in ways.items():
        for blend in ("colour", "weights"):
            if warp is None:
                continue
            out[f"{name}, {blend}"] = render_warped(a, b, [0.5], warp.maps, side, blend=blend)[0]
    return out, note


def known(epochs, side):
    rows, tiles = [], []
    for name in data.SOURCES:
        a_pic = data.picture(name)
        a = data.net_for(name, a_pic, epochs)
        for kind, f in data.WARPS.items():
            b = data.net_for(f"{name}-{kind}", data.warped(a_pic, f), epochs)
            ideal = data.ideal_middle(a_pic, f)
            start = time.perf_counter()
            mids, note = middles(a, b, side, data.exact_points(f))
            rows.append((f"{name} {kind}", {k: psnr(v, ideal) for k, v in mids.items()}, note,
                         time.perf_counter() - start))
            tiles.append(np.hstack([ideal, *mids.values()]))
    return rows, tiles


def unrelated(epochs, side):
    rows, tiles = [], []
    for x, y in UNRELATED:
        a, b = (data.net_for(n, data.picture(n), epochs) for n in (x, y))
        mids, note = middles(a, b, side)
        fade = mids["cross-fade"]
        rows.append((f"{x} / {y}", {k: added_detail(v, fade) for k, v in mids.items()}, note, 0.0))
        tiles.append(np.hstack([fade, *mids.values()]))
    return rows, tiles


def table(title, rows, unit):
    ways = list(dict.fromkeys(k for _, scores, _, _ in rows for k in scores))
    print(f"\n{title}")
    print(f"  {'pair':22s}" + "".join(f"{w:>26s}" for w in ways))
    for pair, scores, note, _ in rows:
        print(f"  {pair:22s}" + "".join(f"{scores[w]:>24.2f}{unit}" if w in scores else f"{'-':>26s}"
                                         for w in ways))
        print(f"  {'':22s}auto: {note}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=300, help="epochs per net (cached by picture and epochs)")
    ap.add_argument("--side", type=int, default=data.SIDE, help="frame size of the middle frames")
    ap.add_argument("--docs", action="store_true", help="write the face pair's strips into docs/")
    a = ap.parse_args()
    rows, tiles = known(a.epochs, a.side)
    table("known pairs: middle frame's PSNR (central 60%) against the ideal middle; targets: auto >= 32 dB "
          "(similarity), >= 28 dB (non-rigid); exact points >= 34 dB", rows, "dB")
    more, more_tiles = unrelated(a.epochs, a.side)
    table("unrelated pairs: added detail HF(mid - fade) / HF(fade) (cross-fade 0); target: the default blend "
          "<= 0.3", more, "  ")
    path = save_image(OUT / "morph-middles.png", np.vstack(tiles + more_tiles))
    print(f"\nmiddle frames (known pairs: ideal, then each way; unrelated: cross-fade, then each way): {path}")


if __name__ == "__main__":
    main()
