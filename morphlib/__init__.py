"""morphlib: pictures from tiny neural networks - learn a picture, morph between nets, blend hybrids."""
import sys

try:
    from .errors import MorphError
    from .images import load_image, save_image
    from .learn import Job, learn
    from .net import Net, init_net
    from .render import render
    from .train import train
    from .weights import load_net, load_numbered, save_net
except KeyboardInterrupt:  # Ctrl-C while `python -m morphlib` (argv[0] is "-m" until it runs) loads the libraries
    if sys.argv[:1] != ["-m"]:
        raise
    print("interrupted", file=sys.stderr)
    sys.exit(130)

__all__ = ["MorphError", "load_image", "save_image", "Job", "learn", "Net", "init_net", "render", "train",
           "load_net", "load_numbered", "save_net"]
