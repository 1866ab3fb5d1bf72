"""CoOp-compatible entry point: ``python train.py --root ... --trainer ... [KEY VALUE ...]``."""
import argparse
import os
import sys


def select_runtime(argv: list) -> None:
    """``--runtime`` must act before ``import metaprompt``, which picks the runtime once."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--runtime", default=None)
    known, _ = pre.parse_known_args(argv)
    if known.runtime:
        os.environ["METAPROMPT_RUNTIME"] = known.runtime


if __name__ == "__main__":
    select_runtime(sys.argv[1:])
    try:
        from metaprompt.cli.train import main
    except ImportError as e:
        if type(e).__name__ not in ("RuntimeChoiceError", "ClipPackageError"):  # broken install: keep the traceback
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(main())
