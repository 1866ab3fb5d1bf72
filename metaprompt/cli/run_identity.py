"""Should a sweep run ``train.py`` into this output folder? The identity check for scripts.

    python -m metaprompt.cli.run_identity [--replace] <train.py arguments>

Takes the exact arguments the script would pass to ``train.py``, resolves the config the same
way, and applies :func:`metaprompt.runtime.identity.check_run_folder` to ``--output-dir``:

* exit 0: it holds a finished run of this config: skip it (a note on stderr when the run's
  config was not recorded, by an older version);
* exit 1: run ``train.py`` (nothing there, or an interrupted run of this config, which resumes);
* exit 2: it holds a finished or interrupted run of another config: one ``error:`` line naming
  the keys that differ. With ``--replace`` (the scripts' ``FORCE=1``) that folder is renamed to
  ``<folder>.replaced-<time>`` (kept, and no longer collected into tables) and the exit is 1.
"""
from __future__ import annotations

import sys

from .train import args_to_overrides, build_parser, finished_run


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    replace = "--replace" in argv[:1]
    if replace:
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    from metaprompt.config import build_cfg
    from metaprompt.errors import UserInputError
    from metaprompt.runtime.identity import check_run_folder, flatten, move_aside, run_identity

    try:
        cfg = build_cfg(args.dataset_config_file, args.config_file, args.opts or [], args_to_overrides(args))
        identity = run_identity(cfg, args.model_dir if args.eval_only else "", args.load_epoch)
        verdict = check_run_folder(cfg.OUTPUT_DIR, identity, finished_run(cfg.OUTPUT_DIR), flatten(build_cfg()))
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if verdict.action == "skip":
        if verdict.message:
            print(verdict.message, file=sys.stderr)
        return 0
    if verdict.action == "run":
        return 1
    if replace:
        print(f"{verdict.message} FORCE=1: moved it to {move_aside(cfg.OUTPUT_DIR)}; running again.", file=sys.stderr)
        return 1
    print(f"error: {verdict.message} Nothing was changed. Re-run with FORCE=1 to move it aside and run again, or "
          "use another OUTPUT folder.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
