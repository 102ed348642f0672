"""`python -m morphlib ...`: argparse front end over the same functions the notebooks call.

No math and no defaults here: each command's defaults are read from the function (or Job) it calls."""
import argparse
import dataclasses
import inspect
import sys
import time

from tqdm import tqdm

from . import checks, hybrid, parallel, transition, weights
from .backend import BATCH, DEVICES
from .encoding import ENCODINGS, FITS, NAMES
from .errors import MorphError
from .images import fit_side, load_image, save_image
from .learn import RECIPES, Job, learn, strangers
from .learn import nets as measured_nets
from .movie import FORMATS, format_options
from .net import ACTIVATIONS, BACKPROPS, INITS
from .optim import OPTIMIZERS, describe_rates
from .render import BLENDS
from .samples import write_samples
from .train import FLOOR, SAMPLINGS, SCHEDULES
from .warp import POINTS_DIR, WARPS


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line, like every other error (exit code 2)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def defaults(fn) -> dict:
    """Keyword defaults of a function or a dataclass."""
    if dataclasses.is_dataclass(fn):
        return {f.name: f.default for f in dataclasses.fields(fn) if f.default is not dataclasses.MISSING}
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def options(a, fn, **given) -> dict:
    """The parsed options that `fn` takes as keywords, with `given` ones over them."""
    names = defaults(fn)
    return {**{k: v for k, v in vars(a).items() if k in names}, **given}


def _learn(a):
    jobs = parallel.pictures(a.picture, Job(**options(a, Job, picture=a.picture[0])))
    if len(jobs) > 1 or a.jobs not in (None, 1) or a.scheduler is not None:
        return _learn_many(a, jobs)
    bar = tqdm(total=jobs[0].epochs, unit="epoch", disable=a.quiet, delay=0.5)

    def show(epoch, score, net):
        bar.set_postfix_str(f"PSNR {score:.2f} dB", refresh=False)
        bar.update(1)

    try:
        result, path = learn(jobs[0], on_epoch=show, time_limit=a.time)
    finally:
        bar.close()
    if result.message:
        print(f"{result.message}{_restore_hint(jobs[0].name(), jobs[0].hidden, jobs[0].root, path)}", file=sys.stderr)
    if path is None:
        print("nothing learned: no epoch finished, no weights written")
        return 1
    print(f"{path}: best PSNR {result.psnr:.2f} dB after {result.epochs} epochs ({result.stopped})")
    _strangers(jobs[0])
    return 0


def _strangers(job):
    """Say when the net just learned will not morph with those beside it (learn.strangers)."""
    if note := strangers(job):
        print(f"note: {note}", file=sys.stderr)


def _learn_many(a, jobs):
    """Many pictures at once (parallel.learn_all): a line per picture as it ends, the failed ones named at the end."""
    bar = tqdm(total=len(jobs), unit="picture", disable=a.quiet, delay=0.5)

    def show(o, done, total):
        bar.update(1)
        if not o.failed:
            r = o.result
            tqdm.write(f"{o.path}: best PSNR {r.psnr:.2f} dB after {r.epochs} epochs ({r.stopped}){_note(r.message)}"
                       f"{_restore_hint(o.name, jobs[0].hidden, jobs[0].root, o.path)}")

    try:
        with _client(a) as client:
            outcomes = parallel.learn_all(jobs, client=client, time_limit=a.time, on_picture=show)
    finally:
        bar.close()
    failed = [o for o in outcomes if o.failed]
    if len(failed) < len(outcomes):
        _strangers(jobs[0])
    for o in failed:
        print(f"picture {o.name} failed: {o.error}", file=sys.stderr)
    if failed:
        rest = "; the others are saved" if len(failed) < len(outcomes) else ""
        print(f"{len(failed)} of {len(outcomes)} pictures failed: {', '.join(o.name for o in failed)}{rest}",
              file=sys.stderr)
    return 1 if failed else 0


def _note(message) -> str:
    return f"; {message}" if message else ""


def _restore_hint(name, hidden, root, path) -> str:
    """How to use a net that learn kept apart (path: where it saved it), else ''."""
    if path is None or path.resolve() == weights.weights_file(name, hidden, root).resolve():
        return ""
    return f": `python -m morphlib nets {name} -H {hidden} --restore 0` to use it (or learn with --replace)"


def _transition(a):
    bar, written = tqdm(unit="frame", disable=a.quiet, delay=0.5), 0

    def show(i, n):
        nonlocal written
        bar.total, written = n, i
        bar.update(1)

    try:
        with _client(a) as client:
            out = transition.write_transition(a.sequence, **options(a, transition.write_transition, on_frame=show,
                                                                      on_note=tqdm.write, client=client),
                                              **{k: getattr(a, k) for k in format_options()})
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted after {written} frames: no movie was written; PNG frames written are complete",
              file=sys.stderr)
        return 130
    finally:
        bar.close()
    _report(out)
    return 0


def _client(a):
    """The run's Dask client (parallel.client) for --jobs and --scheduler; a capped --jobs is said on stderr."""
    return parallel.client(a.jobs, a.scheduler, on_note=lambda text: print(f"note: {text}", file=sys.stderr))


def _report(out):
    if out["removed_old"]:
        print(f"removed {out['removed_old']} frames of an earlier run")
    for p in out.get("removed_movies", []):
        print(f"removed {p} of an earlier run")
    print("\n".join(transition.summary(out)))


def _demo(a):
    start = time.perf_counter()
    out = transition.demo(**options(a, transition.demo))
    print("\n".join(out["notes"]))
    _report(out)
    print(f"done in {time.perf_counter() - start:.1f} s; open {out['gif']}")
    return 0


def _hybrid(a):
    checks.output_file("output", a.output)
    steps = checks.whole("steps", a.steps, 0)
    near, far = load_image(a.near), load_image(a.far)
    if a.size is not None:
        near = fit_side(near, checks.whole("size", a.size, 1, checks.MAX_SIDE), grow=True)
    loss = {"kernel_size": a.kernel_size, "m_precise": a.m_precise, "m_blurred": a.m_blurred}
    if a.method == "fft":
        _unused(a, {**defaults(hybrid.Blender), "steps": defaults(hybrid.Blender.run)["steps"]},
                ("steps", "optimizer", "lr", "start"), "--method fft (they tune --method tape's optimization)")
        r = hybrid.hybrid_fft(near, far, a.sigma, **loss)
    else:
        blender = hybrid.Blender(near, far, **options(a, hybrid.Blender))
        with tqdm(total=steps, unit="step", delay=0.5) as bar:
            r = blender.run(steps, on_step=lambda i, n, h: bar.update(i - bar.n))
    if r.interrupted:
        print(f"{r.message}: the picture so far is in {save_image(a.output, r.image)}", file=sys.stderr)
        return 130
    if r.message:
        print(r.message)
    print(f"{save_image(a.output, r.image)}: loss {r.loss:.1f} (precise {r.loss_precise:.1f}, "
          f"blurred {r.loss_blurred:.1f}) after {r.steps} steps, {r.seconds:.1f} s")
    if a.pyramid:
        print(f"from afar: {save_image(a.pyramid, hybrid.pyramid(r.image))}")
    return 0


def _unused(a, default: dict, names, why):
    """Refuse options given away from their defaults that `why` does not use (rather than ignore them)."""
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(a, n) != default[n]]
    if given:
        raise MorphError(f"{', '.join(given)} {'has' if len(given) == 1 else 'have'} no effect with {why}: drop "
                         f"{'it' if len(given) == 1 else 'them'}")


def _samples(a):
    written, kept = write_samples(a.img_dir, force=a.force)
    for p in written:
        print(f"wrote {p}")
    if kept:
        print(f"kept {', '.join(map(str, kept))}: already there (--force redraws them as PNG)")
    return 0


def _nets(a):
    if a.restore is not None:
        path = weights.restore(a.name, a.hidden, a.restore, a.root)
        print(f"restored entry {a.restore} as {path}; the net it replaced is entry 0 of the history")
    current, *entries = measured_nets(Job(picture=a.name, hidden=a.hidden, root=a.root))
    if current is None and not entries:
        raise MorphError(f"picture {a.name} has no nets in {weights.weights_dir(a.hidden, a.root)}/: learn it "
                         f"first (`python -m morphlib learn {a.name} -H {a.hidden}`)")
    if current is not None:
        print(f"current  {_line(current)}")
    for i, e in enumerate(entries):
        print(f"{i:>7}  {_line(e)}")
    if entries:
        print(f"bring one back with `python -m morphlib nets {a.name} -H {a.hidden} --restore INDEX`")
    return 0


def _line(e) -> str:
    score = "?" if e.psnr is None else f"{e.psnr:.2f} dB"
    return f"{score:>9}  {e.epochs if e.epochs is not None else '?':>5} epochs  {e.date}  {e.path}"


_DEVICE_HELP = "auto: the GPU when CuPy finds one, else the CPU; gpu: fail without one (default %(default)s)"


def _by_encoding(option) -> str:
    """learn.RECIPES' defaults of `option` in words: "60 for fourier, 20 for hashgrid, ..." (by the typed names)."""
    return ", ".join(f"{RECIPES[kind][option]} for {name}" for name, kind in NAMES.items())


def _learn_parser(sub):
    lp = sub.add_parser("learn", help="teach a net one picture; weights go to W-<H>/<n>.npz")
    lp.add_argument("picture", nargs="+", help="picture numbers in img/ (3, or 1 2 5-9), paths (img/3.png), or a "
                    "folder (its numbered pictures)")
    lp.add_argument("--hidden", "-H", type=int, help="hidden layer size H (default %(default)s)")
    lp.add_argument("--epochs", type=int, help="at most this many epochs, over which the rate's schedule runs "
                    f"(default: {_by_encoding('epochs')})")
    lp.add_argument("--time", type=float, default=None,
                    help="stop after this many seconds (the rate's schedule ends by then)")
    lp.add_argument("--encoding", choices=list(NAMES),
                    help="hashgrid (default): sharp pictures, learned quickly (features in learned tables); fourier: "
                    "sharp, Fourier features; plain: soft, inputs (x, y, 1); seed: the original project's net and "
                    "inputs (row/h + 0.1, col/w + 0.1, 1), whole pixels. Nets morph with nets of their encoding")
    lp.add_argument("--seed-exact", action="store_true",
                    help="the original project exactly: --encoding seed --init uniform --optimizer sgd --batch 1, "
                    "targets pixel/256 + 0.001")
    lp.add_argument("--features", type=int, help="Fourier features (default %(default)s)")
    lp.add_argument("--fourier-sigma", "--sigma", dest="sigma", type=float,
                    help="Fourier frequency scale (default %(default)s)")
    lp.add_argument("--activation", choices=list(ACTIVATIONS), help="hidden units (default: "
                    + ", ".join(f"{ENCODINGS[k].activation} for {n}" for n, k in NAMES.items()) + ")")
    lp.add_argument("--lr", type=float, help=f"learning rate (default: {describe_rates()})")
    lp.add_argument("--lr-schedule", choices=SCHEDULES, help=f"the rate over the run: cosine, a warm-up then down "
                    f"to {FLOOR * 100:g}%% of --lr; or constant (default: {_by_encoding('lr_schedule')})")
    lp.add_argument("--sampling", choices=SAMPLINGS, help="an epoch's pixels: error, more of those the net gets "
                    f"worst; or uniform, each once (default: {_by_encoding('sampling')})")
    lp.add_argument("--batch", type=int,
                    help=f"pixels per step (default: {BATCH['cpu']} on a CPU, {BATCH['gpu']} on a GPU)")
    lp.add_argument("--optimizer", choices=list(OPTIMIZERS), help="(default %(default)s)")
    lp.add_argument("--backprop", choices=BACKPROPS, help="book: T. Rashid's original (default %(default)s)")
    lp.add_argument("--seed", type=int, help="initial weights and shuffling (default %(default)s)")
    lp.add_argument("--init", choices=INITS,
                    help="initial weights: normal or uniform, the original's +-0.05 (default %(default)s)")
    lp.add_argument("--resume", action="store_true",
                    help="continue from the picture's saved weights (<n>.npz or the original's w<n>_1..3.npy)")
    lp.add_argument("--replace", action="store_true",
                    help="save over the current net even if it is better (it still goes into the history)")
    lp.add_argument("--init-from", help="start from picture N's weights (pre-learned morph; .npz or .npy nets)")
    lp.add_argument("--max-side", type=int, help="shrink bigger pictures to this for learning (default %(default)s)")
    lp.add_argument("--device", choices=DEVICES, help=_DEVICE_HELP)
    lp.add_argument("--img-dir")
    _cluster_options(lp, "pictures at a time, each in a worker process (default: one per core for many "
                     "pictures; 1: in this process, without Dask; more than the machine's cores: capped)")
    lp.add_argument("--quiet", action="store_true")
    lp.set_defaults(run=_learn, **defaults(Job), jobs=parallel.JOBS["learn"], scheduler=None)


def _transition_parser(sub):
    tp = sub.add_parser("transition", help="morph through a sequence of learned pictures into result/")
    tp.add_argument("sequence", help='links from>to:steps, e.g. "1>2:40, 2>3:40, 3>1:40"')
    tp.add_argument("--hidden", "-H", type=int, help="hidden size: weights come from W-<H>/ (default %(default)s)")
    tp.add_argument("--size", help="frame size: 512 or 640x360 (any size, bigger than learned; default %(default)s)")
    tp.add_argument("--schedule", choices=list(transition.SCHEDULES))
    tp.add_argument("--fps", type=float)
    _movie_switches(tp)
    tp.add_argument("--frames", action=argparse.BooleanOptionalAction,
                    help="write numbered PNGs into <out>/<name>/ (default: only when no movie is asked for)")
    for name, (_, option) in format_options().items():
        tp.add_argument(f"--{name.replace('_', '-')}", type=type(option.default), default=option.default,
                        help=option.help)
    tp.add_argument("--fit", choices=FITS, help="pictures of another shape than --size: crop (default) fills the "
                    "frame with their middle, pad shows them whole between black bars, stretch stretches them")
    tp.add_argument("--loop", action="store_true", help="close the chain back to its first picture")
    tp.add_argument("--pingpong", action="store_true", help="play forward, then backward")
    tp.add_argument("--beyond", type=float, help="carry on past the last net by this fraction")
    tp.add_argument("--align", action="store_true", help="match hidden units first: smoother morphs")
    tp.add_argument("--warp", choices=list(WARPS), help="where each link's correspondences come from: "
                    + "; ".join(f"{k}: {v}" for k, v in WARPS.items()) + " (default %(default)s)")
    tp.add_argument("--blend", choices=list(BLENDS), help="how the two nets make a frame unless --warp is none: "
                    + "; ".join(f"{k}: {v}" for k, v in BLENDS.items()) + " (default %(default)s)")
    tp.add_argument("--points", metavar="FILE", help="a one-link sequence's pairs, JSON [[xa, ya, xb, yb], ...] in "
                    f"[0, 1] picture coordinates (x right, y down); saved ones are in W-<H>/{POINTS_DIR}/<a>-<b>.json")
    tp.add_argument("--device", choices=DEVICES, help=_DEVICE_HELP)
    tp.add_argument("--out")
    tp.add_argument("--name", help="frames go to <out>/<name>/, movies to <out>/<name>.*")
    _cluster_options(tp, "worker processes rendering bands of frames (default %(default)s: in this process; more "
                     "than the machine's cores: capped)")
    tp.add_argument("--quiet", action="store_true")
    tp.set_defaults(run=_transition, **defaults(transition.write_transition), jobs=parallel.JOBS["transition"],
                    scheduler=None)


class _AddMovie(argparse.Action):
    """--gif, --mp4, ...: a switch adding its format to the movies (a new tuple: the default stays as it is)."""

    def __init__(self, option_strings, dest, const, help):
        super().__init__(option_strings, dest, nargs=0, const=const, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (*getattr(namespace, self.dest), self.const))


def _movie_switches(parser):
    """A switch per movie format (movie.FORMATS)."""
    for kind, row in FORMATS.items():
        parser.add_argument(f"--{kind}", dest="movies", action=_AddMovie, const=kind, help=row.help)


def _cluster_options(parser, jobs_help):
    parser.add_argument("--jobs", "-j", type=int, help=jobs_help)
    parser.add_argument("--scheduler", metavar="tcp://HOST:8786",
                        help="use this Dask cluster (its workers must see the same folders) instead of starting one")


def _hybrid_parser(sub):
    hp = sub.add_parser("hybrid", help="one picture: NEAR up close, FAR from afar (TensorFlow)")
    hp.add_argument("near", help="picture seen up close")
    hp.add_argument("far", help="picture seen from afar (cropped and resized to NEAR's size)")
    hp.add_argument("-o", "--output", default=hybrid.OUTPUT)
    hp.add_argument("--m-precise", type=float, help="weight of 'equals NEAR' (default %(default)s)")
    hp.add_argument("--m-blurred", type=float, help="weight of 'blurred equals blurred FAR' (default %(default)s)")
    hp.add_argument("--blur-sigma", "--sigma", dest="sigma", type=float,
                    help="blur radius in pixels (default %(default)s)")
    hp.add_argument("--kernel", dest="kernel_size", type=int, help="blur taps (default: 2*floor(2.5*sigma)+1)")
    hp.add_argument("--steps", type=int, default=defaults(hybrid.Blender.run)["steps"])
    hp.add_argument("--size", type=int, default=None, help="resize NEAR's longer side to this first")
    hp.add_argument("--method", choices=["tape", "fft"], default="tape",
                    help="tape: optimize with GradientTape; fft: the quick Fourier baseline")
    hp.add_argument("--optimizer", choices=list(hybrid.OPTIMIZERS), help="gd: the article's (default %(default)s)")
    hp.add_argument("--lr", type=float)
    hp.add_argument("--start", choices=["fft", "grey", "near", "far"])
    hp.add_argument("--pyramid", default=None, metavar="PNG", help="also save the picture at 1, 1/2, 1/4, 1/8")
    hp.set_defaults(run=_hybrid, **defaults(hybrid.Blender))


def parser():
    p = _Parser(prog="python -m morphlib", description="Pictures from tiny neural networks: learn "
                                "pictures into nets, morph between the nets, blend two pictures into one.")
    sub = p.add_subparsers(dest="command", required=True)
    _learn_parser(sub)
    _transition_parser(sub)

    dp = sub.add_parser("demo", help="a looping transition GIF of the sample pictures from W-100/")
    dp.add_argument("--size")
    dp.add_argument("--fps", type=float)
    _movie_switches(dp)
    dp.add_argument("--out")
    dp.set_defaults(run=_demo, **defaults(transition.demo))

    _hybrid_parser(sub)

    sp = sub.add_parser("samples", help="draw the sample pictures into img/")
    sp.add_argument("--img-dir", default=defaults(write_samples)["folder"])
    sp.add_argument("--force", action="store_true", help="redraw pictures that are already there")
    sp.set_defaults(run=_samples)
    _nets_parser(sub)
    return p


def _nets_parser(sub):
    nets_p = sub.add_parser("nets", help="list a picture's net and the history of nets it replaced; bring one back")
    nets_p.add_argument("name", help="the picture's number (or a learned file's name)")
    nets_p.add_argument("--hidden", "-H", type=int, help="hidden size: nets in W-<H>/ (default %(default)s)")
    nets_p.add_argument("--restore", type=int, metavar="INDEX", help="make history entry INDEX the current net")
    nets_p.set_defaults(run=_nets, hidden=defaults(Job)["hidden"], root=defaults(Job)["root"])


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        with checks.disk_errors("read or write"):
            return args.run(args)
    except MorphError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: what was written so far is complete", file=sys.stderr)
        return 130
