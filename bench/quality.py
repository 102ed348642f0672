"""Quality: sharp pictures and smooth morphs, measured in one run.

1. PSNR reached in a fixed time (default 60 s, one BLAS thread) on the 256x256 photo img/4.png, per encoding:
   the seed's plain sigmoid net, Fourier features and the hash grid (the default).
2. For 3 picture pairs of img/ (learned at 128 px, default 20 s a net, per encoding): the smoothness of an
   11-frame transition A -> B (max and mean over steps of the RMS change between consecutive frames, over the RMS
   difference of the end frames; an ideal cross-fade scores 0.10) for nets
   - raw: trained apart, from different random starts;
   - aligned: the same nets, B's hidden units permuted to match A's (no retraining);
   - shared start: trained apart from the same random start (morphlib's default seed);
   - pre-learned: B trained starting from A's weights (--init-from).
   Strips of every morph go to result/bench/quality-strips-<encoding>.png; with --docs, to docs/ (the README's
   pictures), together with docs/transition-strip.png (the shipped W-100 nets through 1>2>3>4).
   Usage: python -m bench.quality [--fit 60 --net 20] [--docs]
"""
import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from morphlib.align import align
from morphlib.images import save_image
from morphlib.learn import Job, learn
from morphlib.render import fit_error
from morphlib.transition import DEMO_SEQUENCE, Plan, frame_plan, load_nets, parse_sequence

from .metrics import smoothness, strip

PAIRS = [(1, 2), (2, 3), (3, 4)]
ENCODINGS = ("hashgrid", "fourier", "plain")
REPO = Path(__file__).resolve().parents[1]


def psnr_in(seconds, encoding, root):
    job = Job(picture=4, encoding=encoding, epochs=10**9, root=root)
    result, _ = learn(job, time_limit=seconds)
    return fit_error(result.net, job.target()), len(result.history)


def net(root, encoding, picture, seconds, seed=0, init_from=None):
    job = Job(picture=picture, encoding=encoding, epochs=10**9, seed=seed, init_from=init_from, max_side=128,
              root=root)
    return learn(job, time_limit=seconds)[0].net


def morph(a, b, steps=11):
    return list(Plan.of(frame_plan(parse_sequence(f"a>b:{steps}")), {"a": a, "b": b}, 128).render())


def morphs(root, encoding, seconds, out):
    rows, tiles = [], []
    for pa, pb in PAIRS:
        A = net(root, encoding, pa, seconds, seed=pa)
        B = net(root, encoding, pb, seconds, seed=pb)
        A0 = net(root, encoding, pa, seconds, seed=0)
        kinds = {"raw": (A, B), "aligned": (A, align(A, B)),
                 "shared start": (A0, net(root, encoding, pb, seconds, seed=0)),
                 "pre-learned": (A0, net(root, encoding, pb, seconds, init_from=pa))}
        for kind, (x, y) in kinds.items():
            fr = morph(x, y)
            rows.append((f"{pa}>{pb}", kind, *smoothness(fr)))
            tiles.append(strip(fr, 11, 64))
    print(f"\nsmoothness of 11-frame morphs, {encoding} nets of {seconds:g} s at 128 px (ideal cross-fade 0.10):")
    print(f"  {'pair':5s} {'kind':13s} {'max':>6s} {'mean':>6s}")
    for pair, kind, mx, mean in rows:
        print(f"  {pair:5s} {kind:13s} {mx:6.3f} {mean:6.3f}")
    for kind in ("raw", "aligned", "shared start", "pre-learned"):
        mine = [r for r in rows if r[1] == kind]
        print(f"  all   {kind:13s} {max(r[2] for r in mine):6.3f} {np.mean([r[3] for r in mine]):6.3f}")
    print("  target: aligned step-max <= 0.25")
    path = save_image(out / f"quality-strips-{encoding}.png", np.vstack(tiles))
    print(f"  strips (rows: raw, aligned, shared start, pre-learned for each pair): {path}")


def shipped_strip():
    """Ten frames of the demo's looping morph through the shipped W-100 nets, 96 px tall."""
    links = parse_sequence(DEMO_SEQUENCE)
    nets = load_nets([n for link in links for n in (link.src, link.dst)], 100, REPO)
    return strip(list(Plan.of(frame_plan(links, "ease", loop=True), nets, 96, align=True).render()), 10, 96)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", type=float, default=60.0, help="seconds per encoding for the PSNR figure")
    ap.add_argument("--net", type=float, default=20.0, help="seconds per net for the smoothness figures")
    ap.add_argument("--docs", action="store_true", help="write the strips into docs/ (the README's pictures)")
    a = ap.parse_args()
    out = REPO / "docs" if a.docs else REPO / "result" / "bench"
    print(f"the shipped nets' demo morph: {save_image(out / 'transition-strip.png', shipped_strip())}")
    roots = {enc: Path(tempfile.mkdtemp()) for enc in ENCODINGS}  # one each: their nets share names in W-100/
    for root in roots.values():
        shutil.copytree(REPO / "img", root / "img")
    with threadpool_limits(1):
        fits = {enc: psnr_in(a.fit, enc, root) for enc, root in roots.items()}
    print(f"\nPSNR on img/4.png (256x256 photo) after {a.fit:g} s on one core:")
    for enc, (db, epochs) in fits.items():
        print(f"  {enc:8s} {db:6.2f} dB ({epochs} epochs)")
    print("  target: fourier and hashgrid >= 30 dB")

    for encoding, root in roots.items():
        morphs(root, encoding, a.net, out)
        shutil.rmtree(root)

if __name__ == "__main__":
    main()
