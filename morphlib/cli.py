"""`python -m morphlib ...`: argparse front end over the same functions the notebooks call.

No math and no defaults here: each command's defaults are read from the function (or Job) it calls."""
import argparse
import dataclasses
import inspect
import sys
import time

from tqdm import tqdm

from . import hybrid, transition
from .backend import BATCH, DEVICES
from .errors import MorphError
from .images import fit_side, load_image, save_image
from .learn import Job, learn
from .samples import write_samples


def defaults(fn) -> dict:
    """Keyword defaults of a function or a dataclass."""
    if dataclasses.is_dataclass(fn):
        return {f.name: f.default for f in dataclasses.fields(fn) if f.default is not dataclasses.MISSING}
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def _options(a, fn, **given) -> dict:
    """The parsed options that `fn` takes as keywords, with `given` ones over them."""
    names = defaults(fn)
    return {**{k: v for k, v in vars(a).items() if k in names}, **given}


def _learn(a):
    job = Job(**_options(a, Job))
    bar = tqdm(total=job.epochs, unit="epoch", disable=a.quiet, delay=0.5)

    def show(epoch, score, net):
        bar.set_postfix_str(f"PSNR {score:.2f} dB", refresh=False)
        bar.update(1)

    try:
        result, path = learn(job, on_epoch=show, time_limit=a.time)
    finally:
        bar.close()
    if result.message:
        print(result.message, file=sys.stderr)
    if path is None:
        print("nothing learned: no epoch finished, no weights written")
        return 1
    print(f"{path}: best PSNR {result.psnr:.2f} dB after {result.epochs} epochs ({result.stopped})")
    return 0


def _transition(a):
    bar = tqdm(unit="frame", disable=a.quiet, delay=0.5)

    def show(i, n):
        bar.total = n
        bar.update(1)

    try:
        out = transition.write_transition(a.sequence, **_options(a, transition.write_transition, on_frame=show))
    finally:
        bar.close()
    _report(out)
    return 0


def _report(out):
    if out["removed_old"]:
        print(f"removed {out['removed_old']} frames of an earlier run")
    print(f"{len(out['frames'])} frames: {out['frames'][0].parent}/")
    for kind in ("gif", "mp4"):
        if kind in out:
            print(f"{kind.upper()}: {out[kind]}")


def _demo(a):
    start = time.perf_counter()
    out = transition.demo(**_options(a, transition.demo))
    _report(out)
    print(f"done in {time.perf_counter() - start:.1f} s; open {out['gif']}")
    return 0


def _hybrid(a):
    near, far = load_image(a.near), load_image(a.far)
    if a.size:
        near = fit_side(near, a.size, grow=True)
    loss = {"kernel_size": a.kernel_size, "m_precise": a.m_precise, "m_blurred": a.m_blurred}
    if a.method == "fft":
        r = hybrid.hybrid_fft(near, far, a.sigma, **loss)
    else:
        r = hybrid.Blender(near, far, **_options(a, hybrid.Blender)).run(a.steps)
    if r.message:
        print(r.message)
    print(f"{save_image(a.output, r.image)}: loss {r.loss:.1f} (precise {r.loss_precise:.1f}, "
          f"blurred {r.loss_blurred:.1f}) after {r.steps} steps, {r.seconds:.1f} s")
    if a.pyramid:
        print(f"from afar: {save_image(a.pyramid, hybrid.pyramid(r.image))}")
    return 0


def _samples(a):
    for p in write_samples(a.img_dir):
        print(p)
    return 0


_DEVICE_HELP = "auto: the GPU when CuPy finds one, else the CPU; gpu: fail without one (default %(default)s)"


def _learn_parser(sub):
    lp = sub.add_parser("learn", help="teach a net one picture; weights go to W-<H>/<n>.npz")
    lp.add_argument("picture", help="a picture number in img/ (3) or a path (img/3.png)")
    lp.add_argument("--hidden", "-H", type=int, help="hidden layer size H (default %(default)s)")
    lp.add_argument("--epochs", type=int, help="at most this many epochs (default %(default)s)")
    lp.add_argument("--time", type=float, default=None, help="stop after this many seconds")
    lp.add_argument("--encoding", choices=["fourier", "plain"],
                    help="fourier (default): sharp pictures; plain: the seed article's net, inputs (x, y, 1)")
    lp.add_argument("--features", type=int, help="Fourier features (default %(default)s)")
    lp.add_argument("--sigma", type=float, help="Fourier frequency scale (default %(default)s)")
    lp.add_argument("--activation", choices=["relu", "sigmoid"],
                    help="hidden units (default: relu for fourier, sigmoid for plain)")
    lp.add_argument("--lr", type=float, help="learning rate (default: Adam 0.003 fourier, 0.01 plain; SGD 0.5)")
    lp.add_argument("--batch", type=int,
                    help=f"pixels per step (default: {BATCH['cpu']} on a CPU, {BATCH['gpu']} on a GPU)")
    lp.add_argument("--optimizer", choices=["adam", "sgd"])
    lp.add_argument("--backprop", choices=["exact", "book"])
    lp.add_argument("--seed", type=int, help="initial weights and shuffling (default %(default)s)")
    lp.add_argument("--resume", action="store_true", help="continue from the picture's saved weights")
    lp.add_argument("--init-from", help="start from picture N's weights (pre-learned morph)")
    lp.add_argument("--max-side", type=int, help="shrink bigger pictures to this for learning (default %(default)s)")
    lp.add_argument("--device", choices=DEVICES, help=_DEVICE_HELP)
    lp.add_argument("--img-dir")
    lp.add_argument("--quiet", action="store_true")
    lp.set_defaults(run=_learn, **defaults(Job))


def _transition_parser(sub):
    tp = sub.add_parser("transition", help="morph through a sequence of learned pictures into result/")
    tp.add_argument("sequence", help='links from>to:steps, e.g. "1>2:40, 2>3:40, 3>1:40"')
    tp.add_argument("--hidden", "-H", type=int, help="hidden size: weights come from W-<H>/ (default %(default)s)")
    tp.add_argument("--size", help="frame size: 512 or 640x360 (any size, bigger than learned; default %(default)s)")
    tp.add_argument("--schedule", choices=list(transition.SCHEDULES))
    tp.add_argument("--fps", type=float)
    tp.add_argument("--gif", action="store_true", help="also write <out>/<name>.gif (loops)")
    tp.add_argument("--mp4", action="store_true", help="also write <out>/<name>.mp4 (H.264)")
    tp.add_argument("--loop", action="store_true", help="close the chain back to its first picture")
    tp.add_argument("--pingpong", action="store_true", help="play forward, then backward")
    tp.add_argument("--beyond", type=float, help="carry on past the last net by this fraction")
    tp.add_argument("--align", action="store_true", help="match hidden units first: smoother morphs")
    tp.add_argument("--device", choices=DEVICES, help=_DEVICE_HELP)
    tp.add_argument("--out")
    tp.add_argument("--name", help="frames go to <out>/<name>/, movies to <out>/<name>.*")
    tp.add_argument("--quiet", action="store_true")
    tp.set_defaults(run=_transition, **defaults(transition.write_transition))


def _hybrid_parser(sub):
    hp = sub.add_parser("hybrid", help="one picture: NEAR up close, FAR from afar (TensorFlow)")
    hp.add_argument("near", help="picture seen up close")
    hp.add_argument("far", help="picture seen from afar (cropped and resized to NEAR's size)")
    hp.add_argument("-o", "--output", default="result/hybrid.png")
    hp.add_argument("--m-precise", type=float, help="weight of 'equals NEAR' (default %(default)s)")
    hp.add_argument("--m-blurred", type=float, help="weight of 'blurred equals blurred FAR' (default %(default)s)")
    hp.add_argument("--sigma", type=float, help="blur radius in pixels (default %(default)s)")
    hp.add_argument("--kernel", dest="kernel_size", type=int, help="blur taps (default: 2*floor(2.5*sigma)+1)")
    hp.add_argument("--steps", type=int, default=200)
    hp.add_argument("--size", type=int, default=None, help="resize NEAR's longer side to this first")
    hp.add_argument("--method", choices=["tape", "fft"], default="tape",
                    help="tape: optimize with GradientTape; fft: the quick Fourier baseline")
    hp.add_argument("--optimizer", choices=list(hybrid.DEFAULT_LR), help="gd: the article's (lr 0.3)")
    hp.add_argument("--lr", type=float)
    hp.add_argument("--start", choices=["fft", "grey", "near", "far"])
    hp.add_argument("--pyramid", default=None, metavar="PNG", help="also save the picture at 1, 1/2, 1/4, 1/8")
    hp.set_defaults(run=_hybrid, **defaults(hybrid.Blender))


def _parser():
    p = argparse.ArgumentParser(prog="python -m morphlib", description="Pictures from tiny neural networks: learn "
                                "pictures into nets, morph between the nets, blend two pictures into one.")
    sub = p.add_subparsers(dest="command", required=True)
    _learn_parser(sub)
    _transition_parser(sub)

    dp = sub.add_parser("demo", help="a looping transition GIF of the sample pictures from W-100/")
    dp.add_argument("--size")
    dp.add_argument("--fps", type=float)
    dp.add_argument("--mp4", action="store_true")
    dp.add_argument("--out")
    dp.set_defaults(run=_demo, **defaults(transition.demo))

    _hybrid_parser(sub)

    sp = sub.add_parser("samples", help="draw the sample pictures into img/")
    sp.add_argument("--img-dir", default="img")
    sp.set_defaults(run=_samples)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except MorphError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
