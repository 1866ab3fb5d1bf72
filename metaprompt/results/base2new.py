"""Print Base / New / HM of one base-to-new run: ``python -m metaprompt.results.base2new TRAIN_DIR TEST_DIR``."""
from __future__ import annotations

import sys

from metaprompt.clip.loading import OPENAI_FILES

from .logparse import harmonic_mean, read_run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m metaprompt.results.base2new TRAIN_DIR TEST_DIR", file=sys.stderr)
        return 2
    base, new = read_run(argv[0]), read_run(argv[1])
    for run in (base, new):
        if not run.finished:
            print(f"error: no test result in the logs of {run.path} (the run did not finish)", file=sys.stderr)
            return 1
    print(f"Base: {base.accuracy:.2f}  New: {new.accuracy:.2f}  HM: {harmonic_mean(base.accuracy, new.accuracy):.2f}")
    if base.backbone not in OPENAI_FILES:
        print(f"NOTE: backbone {base.backbone!r} is not a pretrained OpenAI CLIP: this is a smoke run of the "
              "pipeline, not a benchmark result.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
