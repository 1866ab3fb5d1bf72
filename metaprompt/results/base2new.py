"""Print Base / New / HM of one base-to-new run: ``python -m metaprompt.results.base2new TRAIN_DIR TEST_DIR``.

The scripts call ``logparse.py base2new`` directly (no torch import); this is the module spelling.
"""
from __future__ import annotations

import sys

from .logparse import print_base2new


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m metaprompt.results.base2new TRAIN_DIR TEST_DIR", file=sys.stderr)
        return 2
    return print_base2new(*argv)


if __name__ == "__main__":
    sys.exit(main())
