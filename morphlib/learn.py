"""Learning one picture into W-<H>/<n>.npz: the step the notebook, the widget and the CLI share."""
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backend import NUMPY, kind, namespace
from .encoding import FEATURE_SEED, FEATURES, SIGMA, describe, make_encoding, same_encoding
from .errors import MorphError
from .images import fit_side, image_path, load_image, numbered_images
from .mlp import init_net, train
from .weights import load_net, save_net, weights_file

FOURIER_LR = 0.003  # Adam's rate for Fourier nets, by measurement (bench/quality.py); plain nets use 0.01
GPU_FOURIER_LR = 0.003  # the same at a GPU's batch (backend.BATCH); see README, "On a GPU"
MAX_SIDE = 256  # bigger pictures are shrunk for learning: the net renders any size later


@dataclass
class Job:
    """What to learn and how; `setup()` turns it into (net, target picture, weights path)."""

    picture: object = 1  # a number in img/ or a path
    hidden: int = 100
    encoding: str = "fourier"  # fourier (sharp, the default) | plain (the seed article's net)
    features: int = FEATURES
    sigma: float = SIGMA
    feature_seed: int = FEATURE_SEED  # draws the Fourier frequencies: nets that morph together must share it
    activation: str = None  # default: sigmoid for plain, relu for fourier
    epochs: int = 200
    lr: float = None  # default: Adam 0.01 (plain) or 0.003 (fourier); SGD 0.5
    batch: int = None  # default: backend.BATCH of the device (1024 pixels on a CPU, 65536 on a GPU)
    optimizer: str = "adam"
    backprop: str = "exact"
    seed: int = 0  # initial weights and shuffling; the same seed for all pictures gives smoother morphs
    resume: bool = False  # continue from the picture's saved weights
    init_from: object = None  # start from another picture's weights ("pre-learned")
    max_side: int = MAX_SIDE
    device: str = "auto"  # cpu | gpu | auto: the GPU when CuPy finds one
    root: str = "."
    img_dir: str = "img"

    def name(self) -> str:
        """The weights' name: the picture's number, or a path's file name; a numbered file from elsewhere may not
        take the name of img/'s picture of that number."""
        if str(self.picture).isdigit():
            return str(int(self.picture))
        path = Path(self.picture)
        mine = numbered_images(Path(self.root) / self.img_dir).get(int(path.stem)) if path.stem.isdigit() else None
        if mine is not None and mine.resolve() != path.resolve():
            raise MorphError(f"{path} would be saved as the net of {mine}: copy it into {mine.parent}/ under a "
                             "free number, or rename it")
        return path.stem

    def out_path(self) -> Path:
        return weights_file(self.name(), self.hidden, self.root)

    def learning_rate(self, xp=NUMPY):
        """The chosen rate, else Adam's default for the encoding on namespace `xp` (None: the optimizer's own)."""
        if self.lr is None and self.optimizer == "adam" and self.encoding == "fourier":
            return GPU_FOURIER_LR if kind(xp) == "gpu" else FOURIER_LR
        return self.lr

    def source(self) -> Path:
        return image_path(self.picture, Path(self.root) / self.img_dir)

    def target(self) -> np.ndarray:
        return fit_side(load_image(self.source()), self.max_side)

    def start_net(self):
        enc = make_encoding(self.encoding, features=self.features, sigma=self.sigma, seed=self.feature_seed)
        fresh = init_net(self.hidden, enc, activation=self.activation, seed=self.seed)
        start = self.out_path() if self.resume else (
            weights_file(self.init_from, self.hidden, self.root) if self.init_from is not None else None)
        if start is None:
            return fresh
        if not start.is_file():
            raise MorphError(f"cannot start from {start}: it does not exist; train that picture first")
        net = load_net(start, self.hidden)[0]
        if not same_encoding(net.encoding, enc) or net.activation != fresh.activation:
            raise MorphError(f"{start} is a {describe(net.encoding)} {net.activation} net, not "
                             f"{describe(enc)} {fresh.activation}: start fresh or use the same encoding")
        return net


def learn(job: Job, *, stop=None, on_epoch=None, time_limit=None, target=None):
    """Train `job`'s picture (`target`, if already loaded) and save the best weights, also when stopped or
    interrupted. Returns (result, path)."""
    target = job.target() if target is None else target
    net, xp = job.start_net(), namespace(job.device)
    result = train(net, target, epochs=job.epochs, batch=job.batch, lr=job.learning_rate(xp), optimizer=job.optimizer,
                   backprop=job.backprop, seed=job.seed, time_limit=time_limit, stop=stop, on_epoch=on_epoch,
                   device=xp)
    path = job.out_path()
    if result.epochs == 0:
        return result, None
    if path.is_file() and not job.resume:  # never lose a trained net: keep the one this replaces
        shutil.copy2(path, path.with_name(path.name + ".bak"))
        result.message = f"{result.message} The previous weights are kept in {path.name}.bak.".lstrip()
    save_net(result.net, path, backprop=job.backprop, optimizer=job.optimizer, epochs=result.epochs,
             psnr=round(result.psnr, 3), source=str(job.source()),
             image_size=list(target.shape[:2]), init_from=job.init_from, resumed=job.resume)
    return result, path
