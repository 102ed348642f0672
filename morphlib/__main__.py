import signal
import sys

from . import _ctrl_c

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing was written
    _ctrl_c.append(True)
signal.signal(signal.SIGINT, signal.default_int_handler)  # from here, Ctrl-C is KeyboardInterrupt
if _ctrl_c:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
sys.exit(main())
