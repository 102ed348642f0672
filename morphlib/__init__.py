"""morphlib: pictures from tiny neural networks - learn a picture, morph between nets, blend hybrids."""
# ruff: noqa: E402  (the libraries load after the Ctrl-C rule just below)
import signal
import sys

# `python -m morphlib` (argv[0] is "-m" until __main__ runs): a Ctrl-C while the libraries load is held, and
# __main__ then ends the run quietly (raised inside a library's import, it could surface as another error)
_ctrl_c = []
if sys.argv[:1] == ["-m"]:
    signal.signal(signal.SIGINT, lambda *_: _ctrl_c.append(True))

from .errors import MorphError
from .images import load_image, save_image
from .learn import Job, learn
from .net import Net, init_net
from .render import render
from .train import train
from .weights import load_net, load_numbered, save_net

__all__ = ["MorphError", "load_image", "save_image", "Job", "learn", "Net", "init_net", "render", "train",
           "load_net", "load_numbered", "save_net"]
