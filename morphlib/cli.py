"""`python -m morphlib ...`: argparse front end over the same functions the notebooks call; no math here."""
import argparse
import sys

from .errors import MorphError


def _learn(a):
    from tqdm import tqdm

    from .learn import Job, learn

    job = Job(picture=a.picture, hidden=a.hidden, encoding=a.encoding, features=a.features, sigma=a.sigma,
              epochs=a.epochs, lr=a.lr, batch=a.batch, optimizer=a.optimizer, backprop=a.backprop, seed=a.seed,
              resume=a.resume, init_from=a.init_from, max_side=a.max_side, img_dir=a.img_dir)
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


def _samples(a):
    from .samples import write_samples

    for p in write_samples(a.img_dir):
        print(p)
    return 0


def _parser():
    p = argparse.ArgumentParser(prog="python -m morphlib", description=__doc__.split(":")[0])
    sub = p.add_subparsers(dest="command", required=True)

    lp = sub.add_parser("learn", help="teach a net one picture; weights go to W-<H>/<n>.npz")
    lp.add_argument("picture", help="a picture number in img/ (3) or a path (img/3.png)")
    lp.add_argument("--hidden", "-H", type=int, default=100, help="hidden layer size H (default 100)")
    lp.add_argument("--epochs", type=int, default=200)
    lp.add_argument("--time", type=float, default=None, help="stop after this many seconds")
    lp.add_argument("--encoding", choices=["plain", "fourier"], default="plain",
                    help="plain: the seed's (x, y, 1); fourier: sharp pictures")
    lp.add_argument("--features", type=int, default=256, help="Fourier features (default 256)")
    lp.add_argument("--sigma", type=float, default=10.0, help="Fourier frequency scale (default 10)")
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
