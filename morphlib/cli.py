"""`python -m morphlib ...`: argparse front end over the same functions the notebooks call; no math here."""
import argparse
import sys

from .errors import MorphError

DEMO_SEQUENCE = "1>2:24, 2>3:24, 3>4:24"


def _learn(a):
    from tqdm import tqdm

    from .learn import Job, learn

    job = Job(picture=a.picture, hidden=a.hidden, encoding=a.encoding, features=a.features, sigma=a.sigma,
              activation=a.activation, epochs=a.epochs, lr=a.lr, batch=a.batch, optimizer=a.optimizer,
              backprop=a.backprop, seed=a.seed, resume=a.resume, init_from=a.init_from, max_side=a.max_side,
              img_dir=a.img_dir)
    bar = tqdm(total=a.epochs, unit="epoch", disable=a.quiet, delay=0.5)

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
    from tqdm import tqdm

    from .transition import write_transition

    bar = tqdm(unit="frame", disable=a.quiet, delay=0.5)

    def show(i, n):
        bar.total = n
        bar.update(1)

    try:
        out = write_transition(a.sequence, a.hidden, a.size, a.out, a.name, a.schedule, a.fps, a.gif, a.mp4,
                               a.loop, a.pingpong, a.beyond, align=a.align, on_frame=show)
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
    import time

    from .transition import write_transition

    start = time.perf_counter()
    out = write_transition(DEMO_SEQUENCE, 100, a.size, a.out, "demo", "ease", a.fps, gif=True, mp4=a.mp4,
                           loop=True, align=True)
    _report(out)
    print(f"done in {time.perf_counter() - start:.1f} s; open {out['gif']}")
    return 0


def _hybrid(a):
    from .hybrid import Blender, hybrid_fft, kernel_size_for, pyramid
    from .images import fit_side, load_image, save_image

    near, far = load_image(a.near), load_image(a.far)
    if a.size:
        near = fit_side(near, a.size, grow=True)
    kernel = a.kernel or kernel_size_for(a.sigma)
    if a.method == "fft":
        r = hybrid_fft(near, far, a.sigma, kernel_size=kernel, m_precise=a.m_precise, m_blurred=a.m_blurred)
    else:
        r = Blender(near, far, kernel, a.sigma, a.m_precise, a.m_blurred, a.optimizer, a.lr, a.start).run(a.steps)
    if r.message:
        print(r.message)
    print(f"{save_image(a.output, r.image)}: loss {r.loss:.1f} (precise {r.loss_precise:.1f}, "
          f"blurred {r.loss_blurred:.1f}) after {r.steps} steps, {r.seconds:.1f} s")
    if a.pyramid:
        print(f"from afar: {save_image(a.pyramid, pyramid(r.image))}")
    return 0


def _samples(a):
    from .samples import write_samples

    for p in write_samples(a.img_dir):
        print(p)
    return 0


def _parser():
    p = argparse.ArgumentParser(prog="python -m morphlib", description="Pictures from tiny neural networks: learn "
                                "pictures into nets, morph between the nets, blend two pictures into one.")
    sub = p.add_subparsers(dest="command", required=True)

    lp = sub.add_parser("learn", help="teach a net one picture; weights go to W-<H>/<n>.npz")
    lp.add_argument("picture", help="a picture number in img/ (3) or a path (img/3.png)")
    lp.add_argument("--hidden", "-H", type=int, default=100, help="hidden layer size H (default 100)")
    lp.add_argument("--epochs", type=int, default=200)
    lp.add_argument("--time", type=float, default=None, help="stop after this many seconds")
    lp.add_argument("--encoding", choices=["fourier", "plain"], default="fourier",
                    help="fourier (default): sharp pictures; plain: the seed article's net, inputs (x, y, 1)")
    lp.add_argument("--features", type=int, default=256, help="Fourier features (default 256)")
    lp.add_argument("--sigma", type=float, default=10.0, help="Fourier frequency scale (default 10)")
    lp.add_argument("--activation", choices=["relu", "sigmoid"], default=None,
                    help="hidden units (default: relu for fourier, sigmoid for plain)")
    lp.add_argument("--lr", type=float, default=None)
    lp.add_argument("--batch", type=int, default=1024)
    lp.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    lp.add_argument("--backprop", choices=["exact", "book"], default="exact")
    lp.add_argument("--seed", type=int, default=0)
    lp.add_argument("--resume", action="store_true", help="continue from the picture's saved weights")
    lp.add_argument("--init-from", default=None, help="start from picture N's weights (pre-learned morph)")
    lp.add_argument("--max-side", type=int, default=256, help="shrink bigger pictures to this for learning")
    lp.add_argument("--img-dir", default="img")
    lp.add_argument("--quiet", action="store_true")
    lp.set_defaults(run=_learn)

    tp = sub.add_parser("transition", help="morph through a sequence of learned pictures into result/")
    tp.add_argument("sequence", help='links from>to:steps, e.g. "1>2:40, 2>3:40, 3>1:40"')
    tp.add_argument("--hidden", "-H", type=int, default=100, help="hidden size: weights come from W-<H>/")
    tp.add_argument("--size", default="512", help="frame size: 512 or 640x360 (any size, bigger than learned)")
    tp.add_argument("--schedule", choices=["linear", "smoothstep", "ease"], default="linear")
    tp.add_argument("--fps", type=float, default=24)
    tp.add_argument("--gif", action="store_true", help="also write <out>/<name>.gif (loops)")
    tp.add_argument("--mp4", action="store_true", help="also write <out>/<name>.mp4 (H.264)")
    tp.add_argument("--loop", action="store_true", help="close the chain back to its first picture")
    tp.add_argument("--pingpong", action="store_true", help="play forward, then backward")
    tp.add_argument("--beyond", type=float, default=0.0, help="carry on past the last net by this fraction")
    tp.add_argument("--align", action="store_true", help="match hidden units first: smoother morphs")
    tp.add_argument("--out", default="result")
    tp.add_argument("--name", default="transition", help="frames go to <out>/<name>/, movies to <out>/<name>.*")
    tp.add_argument("--quiet", action="store_true")
    tp.set_defaults(run=_transition)

    dp = sub.add_parser("demo", help="a looping transition GIF of the sample pictures from W-100/")
    dp.add_argument("--size", default="256")
    dp.add_argument("--fps", type=float, default=20)
    dp.add_argument("--mp4", action="store_true")
    dp.add_argument("--out", default="result")
    dp.set_defaults(run=_demo)

    hp = sub.add_parser("hybrid", help="one picture: NEAR up close, FAR from afar (TensorFlow)")
    hp.add_argument("near", help="picture seen up close")
    hp.add_argument("far", help="picture seen from afar (cropped and resized to NEAR's size)")
    hp.add_argument("-o", "--output", default="result/hybrid.png")
    hp.add_argument("--m-precise", type=float, default=0.1, help="weight of 'equals NEAR' (default 0.1)")
    hp.add_argument("--m-blurred", type=float, default=1.0, help="weight of 'blurred equals blurred FAR'")
    hp.add_argument("--sigma", type=float, default=3.0, help="blur radius in pixels (default 3)")
    hp.add_argument("--kernel", type=int, default=None, help="blur taps (default: 2*round(2.5*sigma)+1)")
    hp.add_argument("--steps", type=int, default=200)
    hp.add_argument("--size", type=int, default=None, help="resize NEAR's longer side to this first")
    hp.add_argument("--method", choices=["tape", "fft"], default="tape",
                    help="tape: optimize with GradientTape; fft: the quick Fourier baseline")
    hp.add_argument("--optimizer", choices=["adam", "gd"], default="adam", help="gd: the article's (lr 0.3)")
    hp.add_argument("--lr", type=float, default=None)
    hp.add_argument("--start", choices=["fft", "grey", "near", "far"], default="fft")
    hp.add_argument("--pyramid", default=None, metavar="PNG", help="also save the picture at 1, 1/2, 1/4, 1/8")
    hp.set_defaults(run=_hybrid)

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
