"""Learning one picture into W-<H>/<n>.npz: the step the notebook, the widget and the CLI share."""
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from . import checks
from .backend import DEVICE, DEVICES, NUMPY, kind, namespace
from .encoding import ENCODINGS, FEATURE_SEED, FEATURES, FOURIER_SIGMA, describe, make_encoding, same_encoding, typed
from .errors import MorphError
from .files import lock
from .images import fit_side, image_path, load_image, pictures_by_number
from .net import ACTIVATIONS, BACKPROPS, INITS, init_net
from .optim import OPTIMIZERS, default_lr
from .render import fit_error
from .train import SAMPLINGS, SCHEDULES, train
from .weights import entry, history, load_net, load_numbered, read_meta, store, store_apart, weights_file

# Bigger pictures are shrunk for learning: the net renders any size later. At learn's defaults a 512 px photo
# takes about as long as a 256 px one did before them, and shows more in a video (bench/learn.py, grace_hopper@256).
LEARN_SIDE = 512
# How nets of each encoding learn unless told otherwise (bench/learn.py measures them; README, "Learning fast"):
# epochs, the rate's schedule over them and which pixels an epoch shows
RECIPES = {
    "hashgrid": {"epochs": 20, "lr_schedule": "cosine", "sampling": "error"},
    "fourier": {"epochs": 60, "lr_schedule": "cosine", "sampling": "error"},
    "plain": {"epochs": 200, "lr_schedule": "constant", "sampling": "uniform"},
    "legacy": {"epochs": 200, "lr_schedule": "constant", "sampling": "uniform"},
}
# The original project's net exactly (and its targets, seed_targets())
SEED_EXACT = {"encoding": "seed", "activation": "sigmoid", "init": "uniform", "optimizer": "sgd", "batch": 1,
              "lr_schedule": "constant", "sampling": "uniform"}


def _listed(options: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items())


def seed_targets(image: np.ndarray) -> np.ndarray:
    """The original project's training targets: pixel / 256 + 0.001 for 8-bit pixel values."""
    return np.round(image * 255) / np.float32(256) + np.float32(0.001)


@dataclass
class Job:
    """What to learn and how; `setup()` turns it into (net, target picture, weights path)."""

    picture: object = 1  # a number in img/ or a path
    hidden: int = 100
    encoding: str = "hashgrid"  # hashgrid (sharp, quick: the default) | fourier | plain (soft) | seed (the original's)
    features: int = FEATURES
    sigma: float = FOURIER_SIGMA
    feature_seed: int = FEATURE_SEED  # draws the Fourier frequencies: nets that morph together must share it
    activation: str = None  # default: the encoding's (encoding.ENCODINGS: sigmoid for plain, else relu)
    epochs: int = None  # default: the encoding's RECIPES
    lr: float = None  # default: optim.default_lr for the optimizer, encoding and device; a cosine schedule's peak
    lr_schedule: str = None  # train.SCHEDULES: the rate over the run (default: the encoding's RECIPES)
    sampling: str = None  # train.SAMPLINGS: which pixels an epoch shows (default: the encoding's RECIPES)
    batch: int = None  # default: backend.BATCH of the device (512 pixels on a CPU, 65536 on a GPU)
    optimizer: str = "adam"
    backprop: str = "exact"
    seed: int = 0  # initial weights and shuffling; the same seed for all pictures gives smoother morphs
    init: str = "normal"  # initial weights: normal, or uniform (the original's +-0.05)
    seed_exact: bool = False  # the original project's net exactly: sets SEED_EXACT and its targets
    resume: bool = False  # continue from the picture's saved weights
    replace: bool = False  # save over the current net even when it is better than this run's
    init_from: object = None  # start from another picture's weights ("pre-learned")
    max_side: int = LEARN_SIDE
    device: str = DEVICE  # cpu | gpu | auto: the GPU when CuPy finds one
    root: str = "."
    img_dir: str = "img"

    def __post_init__(self):
        for option in ("seed_exact", "resume", "replace"):
            setattr(self, option, checks.flag(option, getattr(self, option)))
        if self.resume and self.init_from is not None:
            raise MorphError(f"resume and init_from {self.init_from!r} both say where to start: give one of them "
                             "(resume: this picture's saved net; init_from: another picture's)")
        self.picture = checks.picture("picture", self.picture)
        self.init_from = checks.optional(checks.picture, "init_from", self.init_from)
        checks.path("root", self.root), checks.path("img_dir", self.img_dir)
        self.hidden = checks.whole("hidden size", self.hidden, 1, checks.MAX_HIDDEN)
        make_encoding(self.encoding, features=self.features, sigma=self.sigma, seed=self.feature_seed)
        for option, names in (("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS), ("backprop", BACKPROPS),
                              ("init", INITS), ("lr_schedule", SCHEDULES), ("sampling", SAMPLINGS)):
            if getattr(self, option) is not None:
                checks.choice(option, getattr(self, option), names)
        if isinstance(self.device, str):
            checks.choice("device", self.device, DEVICES)
        else:
            namespace(self.device)  # an array namespace (array_api_strict in the tests), else refused
        self.max_side = checks.whole("max_side", self.max_side, 1, checks.MAX_SIDE)
        if self.seed_exact:
            self._exactly_the_seed()
        self._fourier_only()
        recipe = RECIPES[make_encoding(self.encoding)["kind"]]
        for option in ("epochs", "lr_schedule", "sampling"):
            setattr(self, option, recipe[option] if getattr(self, option) is None else getattr(self, option))
        self.epochs, self.batch, self.lr, self.seed, _ = checks.training(self.epochs, self.batch, self.lr, self.seed)

    def _fourier_only(self):
        """features, sigma and feature_seed shape Fourier inputs: given for another encoding, they are refused."""
        fields = Job.__dataclass_fields__
        given = [k for k in ("features", "sigma", "feature_seed") if getattr(self, k) != fields[k].default]
        if given and make_encoding(self.encoding)["kind"] != "fourier":
            raise MorphError(f"{', '.join(given)} only shape{'s' if len(given) == 1 else ''} Fourier inputs, and "
                             f"encoding {self.encoding} has none: drop {', '.join(given)}, or use encoding fourier")

    def _exactly_the_seed(self):
        """Set SEED_EXACT; an option given otherwise (encoding plain, a batch) is refused, not silently replaced."""
        fields = Job.__dataclass_fields__
        clash = [k for k, v in SEED_EXACT.items() if getattr(self, k) not in (v, fields[k].default)]
        if clash:
            given = ", ".join(f"{k} {getattr(self, k)!r}" for k in clash)
            raise MorphError(f"seed_exact is the original project's net exactly ({_listed(SEED_EXACT)}): it cannot "
                             f"take {given}; drop seed_exact or those options")
        for k, v in SEED_EXACT.items():
            setattr(self, k, v)

    def name(self) -> str:
        """The weights' name: the picture's number, or a path's file name; a numbered file from elsewhere may not
        take the name of img/'s picture of that number."""
        if checks.number(str(self.picture)) is not None:
            return str(int(self.picture))
        path = Path(self.picture)
        number = checks.number(path.stem)
        mine = pictures_by_number(Path(self.root) / self.img_dir).get(number, []) if number is not None else []
        mine = [p for p in mine if p.resolve() != path.resolve()]
        if mine:
            raise MorphError(f"{path} would be saved as the net of {mine[0]}: copy it into {mine[0].parent}/ under a "
                             "free number, or rename it")
        return path.stem

    def out_path(self) -> Path:
        return weights_file(self.name(), self.hidden, self.root)

    def learning_rate(self, xp=NUMPY):
        """The chosen rate, else Adam's default for the encoding on namespace `xp` (None: the optimizer's own)."""
        if self.lr is None:
            return default_lr(self.optimizer, make_encoding(self.encoding)["kind"], kind(xp))
        return self.lr

    def source(self) -> Path:
        return image_path(self.picture, Path(self.root) / self.img_dir)

    def target(self) -> np.ndarray:
        image = fit_side(load_image(self.source()), self.max_side)
        return seed_targets(image) if self.seed_exact else image

    def epochs_before(self) -> int:
        """Epochs the starting net was trained already: the saved net's own count when resuming, else 0."""
        return (checks.number(str(read_meta(self.out_path()).get("epochs"))) or 0) if self.resume else 0

    def start_net(self):
        """A fresh net, or the saved one to resume or start from: W-<H>/<n>.npz or the original's w<n>_1..3.npy."""
        enc = make_encoding(self.encoding, features=self.features, sigma=self.sigma, seed=self.feature_seed)
        fresh = init_net(self.hidden, enc, activation=self.activation, seed=self.seed, init=self.init)
        start = self.name() if self.resume else self.init_from
        if start is None:
            return fresh
        path = weights_file(start, self.hidden, self.root)
        if not path.is_file() and not path.with_name(f"w{start}_1.npy").is_file():
            raise MorphError(f"cannot start from {path} (nor the original's w{start}_1..3.npy beside it): it does "
                             "not exist; train that picture first")
        net = load_numbered(start, self.hidden, self.root)
        if not same_encoding(net.encoding, enc) or net.activation != fresh.activation:
            raise MorphError(f"the net of {start} in W-{self.hidden}/ is a {describe(net.encoding)} {net.activation} "
                             f"net, not {describe(enc)} {fresh.activation}: start fresh or use the same encoding "
                             f"(--encoding {typed(net.encoding)})")
        return net


def learn(job: Job, *, stop=None, on_epoch=None, time_limit=None, target=None):
    """Train `job`'s picture (`target`, if already loaded) and save the best weights, also when stopped or
    interrupted, holding the picture's lock throughout. A net better than this run's stays unless
    `job.replace`; this run's then goes into its history. Returns (result, path of the file holding the new net)."""
    checks.instance("job", job, Job, "a Job (the picture and how to learn it)")
    checks.stop_event("stop", stop), checks.function("on_epoch", on_epoch), checks.optional(checks.pixels, "target",
                                                                                             target)
    with lock(job.out_path()):
        result, target = trained(job, stop=stop, on_epoch=on_epoch, time_limit=time_limit, target=target)
        return result, save(job, result, target)


def trained(job: Job, *, stop=None, on_epoch=None, time_limit=None, target=None) -> tuple:
    """(result, target picture) of training `job` (`target`, if already loaded): the part of `learn` that writes
    nothing, so that it can run anywhere (parallel.learn_all runs it on Dask workers)."""
    target = job.target() if target is None else target
    net, xp, before = job.start_net(), namespace(job.device), job.epochs_before()
    counted = on_epoch and (lambda epoch, *rest: on_epoch(before + epoch, *rest))  # a resumed net counts on
    result = train(net, target, epochs=job.epochs, batch=job.batch, lr=job.learning_rate(xp),
                   optimizer=job.optimizer, backprop=job.backprop, seed=job.seed, schedule=job.lr_schedule,
                   sampling=job.sampling, time_limit=time_limit, stop=stop, on_epoch=counted, device=xp)
    result.epochs += before if result.epochs else 0
    return result, target


def save(job: Job, result, target):
    """The path that holds `result`'s net once saved for `job` (None when no epoch finished: nothing written).
    The caller holds the picture's lock (weights.lock(job.out_path()))."""
    return None if result.epochs == 0 else _save(job, result, job.out_path(), target)


def _save(job: Job, result, path: Path, target) -> Path:
    """Save over `path` unless the net there is better on `target` (and replacing was not asked for). Both are
    measured on the whole picture, and `result.psnr` becomes the new net's measure (training only estimates it).
    Kept apart, result.message says so (the front end adds how to bring it back)."""
    old = _score(path, job.hidden, target)
    new = result.psnr = fit_error(result.net, target)
    meta = dict(backprop=job.backprop, optimizer=job.optimizer, epochs=result.epochs, psnr=round(new, 3),
                source=str(job.source()), image_size=list(target.shape[:2]), init_from=job.init_from,
                resumed=job.resume, trained=f"{datetime.now():%Y-%m-%d %H:%M:%S}")
    if job.replace or old is None or new >= old:
        return store(result.net, path, **meta)
    kept = store_apart(result.net, path, **meta)
    result.message = (f"{result.message} kept {path} ({old:.2f} dB, better); this run's net ({new:.2f} dB) is "
                      "entry 0 of its history").lstrip()
    return kept


def strangers(job: Job) -> str:
    """A note when W-<H>/ holds a net of another encoding than `job` learns (the two would not morph together),
    else ""."""
    mine = make_encoding(job.encoding)
    for path in sorted(set(job.out_path().parent.glob("*.npz")) - {job.out_path()}):
        theirs = read_meta(path).get("encoding")
        kind = theirs.get("kind") if isinstance(theirs, dict) else None
        if kind in ENCODINGS and kind != mine["kind"]:
            name = typed({"kind": kind})
            return (f"{path} is a {name} net and this run learns a {typed(mine)} one: they will not morph together "
                    f"(learn with --encoding {name} to match it)")
    return ""


def on_disk(job: Job, target=None):
    """PSNR of the net saved for `job` now, measured as the keep rule measures it (None: there is none)."""
    return _score(job.out_path(), job.hidden, job.target() if target is None else target)


def nets(job: Job) -> list:
    """[current net or None, history newest first...] of `job`'s picture as weights.Entry, their PSNR measured
    on the picture as the keep rule measures it (the stored figure where the picture cannot be read)."""
    path = job.out_path()
    entries = [entry(path) if path.is_file() else None, *history(job.name(), job.hidden, job.root)]
    try:
        target = job.target()
    except MorphError:
        return entries
    for e in entries:
        if e is not None:
            e.psnr = _score(e.path, job.hidden, target)
    return entries


def _score(path: Path, hidden: int, target):
    """PSNR of the net saved at `path` on `target`, None when there is none (or it cannot be read)."""
    if not path.is_file():
        return None
    try:
        return fit_error(load_net(path, hidden)[0], target)
    except MorphError:
        return None
