import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing was written
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
