"""Morphs that move: the middle frame of each link, by every way of making it, in one run.

Known pairs: each picture (img/'s sunset and logo, matplotlib's Grace Hopper and gift) against itself turned 25
degrees, zoomed 1.25x and shifted 8% (similarity), and under a smooth non-rigid warp. Their ideal middle frame
draws each point of A halfway between its place in A and in B (from the picture itself); the score is the PSNR of
the central 60% of the middle frame against it. Unrelated pairs have no ideal: their score is the added detail
HF(mid - fade) / HF(fade), HF the mean squared Laplacian and fade the cross-fade of the two nets' pictures (0 for a
cross-fade; grain, and shapes that move, score high). Ways: today's weight morph (`--warp none`), a cross-fade of
the ends, `--warp auto` with each blend, exact points (a grid of true pairs) with each blend, and for unrelated
pairs `--warp shapes` (optimal transport).

Nets, learned at 160 px and cached in bench/.cache/, both kinds side by side: Fourier nets of `--epochs` (default
300, Adam 0.003: the nets before issue 22) and hash grid nets by learn's defaults (the default now).
Middle frames go to result/bench/morph-middles.png; the face pair (Grace Hopper and a second portrait: her
picture bent, mirrored and toned, with 20 points clicked on her face) to result/bench/face-morph.png; `--docs`
writes both (hash grid nets) into docs/. Usage: python -m bench.morph [--epochs 300] [--docs]
"""
import argparse
import time

import numpy as np
from scipy.ndimage import laplace

from morphlib.images import mark_points, save_image
from morphlib.render import render_morph, render_warped
from morphlib.warp import Warp, link_warp

from . import morph_data as data

OUT = data.REPO / "result" / "bench"
UNRELATED = [("hopper", "gift"), ("hopper", "sunset"), ("gift", "logo"), ("sunset", "logo")]
TODAY, FADE = "weights, no warp (today)", "cross-fade"
WAYS = [TODAY, FADE, "auto, colour", "auto, weights", "points, colour", "points, weights", "shapes, colour"]


def central(x) -> np.ndarray:
    n, m = x.shape[:2]
    return x[round(0.2 * n):round(0.8 * n), round(0.2 * m):round(0.8 * m)]


def psnr(x, ideal) -> float:
    return float(10 * np.log10(1.0 / np.mean((central(x) - central(ideal)) ** 2)))


def hf(x) -> float:
    return float(np.mean([np.mean(laplace(x[..., c].astype(np.float64)) ** 2) for c in range(3)]))


def added_detail(mid, fade) -> float:
    return hf(mid - fade) / hf(fade)


def middles(a, b, side, exact=None, ways=("auto",)) -> tuple:
    """({way: middle frame} of nets a -> b at `side` px, {warp: its line}, seconds to find each warp)."""
    ends = render_morph(a, b, [0.0, 1.0], side)
    out = {TODAY: render_morph(a, b, [0.5], side)[0], FADE: (ends[0] + ends[1]) / 2}
    lines, seconds = {}, {}
    for way in ways:
        start = time.perf_counter()
        warp, lines[way] = link_warp("A", "B", a, b, warp=way)
        seconds[way] = time.perf_counter() - start
        for blend in ("colour", "weights") if way == "auto" else ("colour",):
            out[f"{way}, {blend}"] = render_warped(a, b, [0.5], warp.maps, side, blend=blend)[0]
    if exact is not None:
        for blend in ("colour", "weights"):
            out[f"points, {blend}"] = render_warped(a, b, [0.5], Warp(exact).maps, side, blend=blend)[0]
    return out, lines, seconds


def known(how, side):
    rows, tiles = [], []
    for name in data.SOURCES:
        a_pic = data.picture(name)
        a = data.net_for(name, a_pic, how)
        for kind, f in data.WARPS.items():
            b = data.net_for(f"{name}-{kind}", data.warped(a_pic, f), how)
            ideal = data.ideal_middle(a_pic, f)
            mids, lines, seconds = middles(a, b, side, data.exact_points(f))
            rows.append((f"{name} {kind}", {k: psnr(v, ideal) for k, v in mids.items()}, lines, seconds))
            tiles.append((ideal, mids))
    return rows, tiles


def unrelated(how, side):
    rows, tiles = [], []
    for x, y in UNRELATED:
        a, b = (data.net_for(n, data.picture(n), how) for n in (x, y))
        mids, lines, seconds = middles(a, b, side, ways=("auto", "shapes"))
        rows.append((f"{x} / {y}", {k: added_detail(v, mids[FADE]) for k, v in mids.items()}, lines, seconds))
        tiles.append((np.zeros_like(mids[FADE]), mids))
    return rows, tiles


def table(title, rows, unit):
    print(f"\n{title}")
    print(f"  {'pair':20s}" + "".join(f"{w:>26s}" for w in WAYS))
    for pair, scores, lines, seconds in rows:
        print(f"  {pair:20s}" + "".join(f"{scores[w]:>{26 - len(unit)}.2f}{unit}" if w in scores else f"{'-':>26s}"
                                         for w in WAYS))
        for way, line in lines.items():
            print(f"  {'':20s}{way} ({seconds[way]:.1f} s): {line}")


def mosaic(tiles, ways=WAYS) -> np.ndarray:
    """A row per pair: the ideal middle (black for unrelated pairs), then each way's middle in `ways`' order."""
    return np.vstack([np.hstack([first] + [mids.get(w, np.zeros_like(first)) for w in ways]) for first, mids in tiles])


README_ROWS = ["hopper similarity", "gift similarity", "sunset non-rigid", "logo non-rigid", "hopper / gift",
               "sunset / logo"]  # the README's middle frames: a row each, ideal (or black), today, fade, default


def face_strip(how, side, count=9):
    """Rows of the face pair's morph, `count` frames each: today's weight morph, a cross-fade, --warp auto and the
    user's points (drawn on its two ends), all with the colour blend."""
    hopper = data.picture("hopper")
    a, b = data.net_for("hopper", hopper, how), data.net_for("hopper-second", data.second_portrait(hopper), how)
    ts, pts = np.linspace(0, 1, count), data.face_points()
    auto, line = link_warp("A", "B", a, b)
    rows = {"weights, no warp (today)": render_morph(a, b, ts, side),
            "cross-fade": render_warped(a, b, ts, None, side),
            "auto": render_warped(a, b, ts, auto.maps, side),
            "points": render_warped(a, b, ts, Warp(pts).maps, side)}
    rows["points"][0], rows["points"][-1] = mark_points(rows["points"][0], pts[:, :2]), \
        mark_points(rows["points"][-1], pts[:, 2:])
    print(f"\nface pair: auto: {line}")
    return np.vstack([np.hstack(list(frames)) for frames in rows.values()])


def cost(how, side=512, count=9):
    """CPU seconds per frame (one core) of a 9-frame link at `side` px: sliding weights, a cross-fade, moving."""
    name = "hopper"
    a, b = (data.net_for(k, data.warped(data.picture(name), data.similarity) if k != name else data.picture(name),
                         how) for k in (name, f"{name}-similarity"))
    warp, _ = link_warp("A", "B", a, b)
    ts, times = list(np.linspace(0, 1, count)), {}
    for way, run in ((TODAY, lambda: render_morph(a, b, ts, side, uint8=True)),
                     (FADE, lambda: render_warped(a, b, ts, None, side, uint8=True)),
                     ("auto, colour", lambda: render_warped(a, b, ts, warp.maps, side, uint8=True))):
        start = time.process_time()
        run()
        times[way] = (time.process_time() - start) / count
    print(f"\nCPU time per frame at {side} px, one core, a {count}-frame link (hopper similarity, {how[0]} nets): "
          + ", ".join(f"{k} {v:.3f} s" for k, v in times.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=300, help="epochs per Fourier net (cached by picture and epochs)")
    ap.add_argument("--side", type=int, default=data.SIDE, help="frame size of the middle frames")
    ap.add_argument("--docs", action="store_true", help="write the hash grid nets' middle frames and face pair into "
                    "docs/")
    a = ap.parse_args()
    out = data.REPO / "docs" if a.docs else OUT
    for how in (("fourier", a.epochs), ("hashgrid", None)):
        rows, tiles = known(how, a.side)
        table(f"{how[0]} nets, known pairs: middle frame's PSNR (central 60%) against the ideal middle; targets: auto "
              ">= 32 dB (similarity), >= 28 dB (non-rigid); exact points >= 34 dB", rows, " dB")
        more, more_tiles = unrelated(how, a.side)
        table(f"{how[0]} nets, unrelated pairs: added detail HF(mid - fade) / HF(fade) (a cross-fade 0); target: the "
              "default (auto, colour) <= 0.3", more, "")
        cost(how)
    print(f"\nmiddle frames, hash grid nets (a row per pair: the ideal middle or black, then {', '.join(WAYS)}): "
          f"{save_image(OUT / 'morph-middles.png', mosaic(tiles + more_tiles))}")
    if a.docs:
        picked = [tile for row, tile in zip(rows + more, tiles + more_tiles) if row[0] in README_ROWS]
        print(f"the README's middle frames (ideal or black, {TODAY}, {FADE}, auto, colour): "
              f"{save_image(out / 'morph-middles.png', mosaic(picked, [TODAY, FADE, 'auto, colour']))}")
    print(f"face pair (rows: {TODAY}, {FADE}, auto, points; colour blend): "
          f"{save_image(out / 'face-morph.png', face_strip(how, a.side))}")


if __name__ == "__main__":
    main()
