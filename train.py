"""CoOp-compatible entry point: ``python train.py --root ... --trainer ... [KEY VALUE ...]``."""
import sys

from metaprompt.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
