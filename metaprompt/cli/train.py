"""CoOp's ``train.py`` command line: same arguments, same config precedence, same outputs.

    python train.py --root DATA --seed 1 --trainer CoOp \
        --dataset-config-file configs/datasets/oxford_pets.yaml \
        --config-file configs/trainers/CoOp/vit_b16_ep50.yaml \
        --output-dir output/run DATASET.NUM_SHOTS 16

Errors a user can fix (missing data, weights, unknown names or keys, corrupt checkpoints) end
the run with one message on stderr and exit status 2; nothing already in the output folder is
changed (a new run may have added its own log file there), and a folder that holds a finished
run is refused before anything is written.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import traceback

import metaprompt

# The command line registers every trainer, dataset and backbone when it is imported: a runtime or
# CLIP install that cannot work fails here, before any argument is parsed (train.py prints it as
# one line).
metaprompt.register_all()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train or evaluate a CLIP prompt learner (CoOp-compatible CLI).")
    p.add_argument("--root", type=str, default="", help="path to dataset")
    p.add_argument("--output-dir", type=str, default="", help="output directory")
    p.add_argument("--resume", type=str, default="", help="checkpoint directory (from which the training resumes)")
    p.add_argument("--seed", type=int, default=-1, help="only positive value enables a fixed seed")
    p.add_argument("--source-domains", type=str, nargs="+", help="source domains for DA/DG")
    p.add_argument("--target-domains", type=str, nargs="+", help="target domains for DA/DG")
    p.add_argument("--transforms", type=str, nargs="+", help="data augmentation methods")
    p.add_argument("--config-file", type=str, default="", help="path to config file")
    p.add_argument("--dataset-config-file", type=str, default="", help="path to config file for dataset setup")
    p.add_argument("--trainer", type=str, default="", help="name of trainer")
    p.add_argument("--backbone", type=str, default="", help="name of CNN backbone")
    p.add_argument("--head", type=str, default="", help="name of head")
    p.add_argument("--eval-only", action="store_true", help="evaluation only")
    p.add_argument("--model-dir", type=str, default="", help="load model from this directory for eval-only mode")
    p.add_argument("--load-epoch", type=int, help="load model weights at this epoch for evaluation")
    p.add_argument("--no-train", action="store_true", help="do not call trainer.train()")
    p.add_argument("--runtime", choices=("auto", "builtin", "dassl"), default=None,
                   help="force the built-in runtime or real Dassl (default: env METAPROMPT_RUNTIME, else auto)")
    p.add_argument("opts", default=None, nargs=argparse.REMAINDER, help="modify config options using the command-line")
    return p


def args_to_overrides(args) -> dict:
    """CoOp's ``reset_cfg``: arguments that set config keys (applied after the YAML files)."""
    out: dict = {}
    if args.root:
        out["DATASET.ROOT"] = args.root
    if args.output_dir:
        out["OUTPUT_DIR"] = args.output_dir
    if args.resume:
        out["RESUME"] = args.resume
    if args.seed is not None:
        out["SEED"] = args.seed
    if args.source_domains:
        out["DATASET.SOURCE_DOMAINS"] = tuple(args.source_domains)
    if args.target_domains:
        out["DATASET.TARGET_DOMAINS"] = tuple(args.target_domains)
    if args.transforms:
        out["INPUT.TRANSFORMS"] = tuple(args.transforms)
    if args.trainer:
        out["TRAINER.NAME"] = args.trainer
    if args.backbone:
        out["MODEL.BACKBONE.NAME"] = args.backbone
    if args.head:
        out["MODEL.HEAD.NAME"] = args.head
    return out


def finished_run(output_dir: str) -> bool:
    """A folder holds a finished run when one of its logs (``log.txt`` or a re-run's time-stamped
    sibling) reports a test result; one rule, shared with the sweep scripts and the tables."""
    from metaprompt.results.logparse import read_run

    return read_run(output_dir).finished


def _restore_stdout(original) -> None:
    """Undo ``setup_logger``'s stdout tee, so in-process callers (tests, notebooks) get their
    stdout back and the log file is closed. Dassl's logger closes its console when collected,
    so it is handed a throwaway one first."""
    tee = sys.stdout
    if tee is original:
        return
    sys.stdout = original
    log_file = getattr(tee, "file", None)
    if log_file is not None:
        log_file.flush()
        log_file.close()
    if hasattr(tee, "console"):
        tee.console = io.StringIO()


def main(argv: list[str] | None = None) -> int:
    original_stdout = sys.stdout
    try:
        return _main(argv)
    finally:
        _restore_stdout(original_stdout)


def runtime_problem(choice: str) -> str | None:
    """Why the requested runtime cannot be used in this process, whose runtime is already chosen."""
    if choice not in ("auto", "builtin", "dassl"):
        return f"METAPROMPT_RUNTIME={choice!r}: use 'auto', 'builtin' or 'dassl'."
    if choice == "dassl" and importlib.util.find_spec("dassl") is None:
        return ("The Dassl runtime was requested (--runtime / METAPROMPT_RUNTIME) but Dassl is not installed. "
                "Install it (see docs/dassl.md) or use --runtime builtin.")
    from metaprompt.runtime import BACKEND

    if choice != "auto" and BACKEND != choice:
        return (f"This process already uses the {BACKEND} runtime: it is chosen when metaprompt is first imported. "
                f"Use train.py --runtime {choice} (it sets the runtime before that import), or set "
                f"METAPROMPT_RUNTIME={choice}.")
    return None


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.runtime:
        os.environ["METAPROMPT_RUNTIME"] = args.runtime
    problem = runtime_problem(os.environ.get("METAPROMPT_RUNTIME", "auto").strip().lower())
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from metaprompt.config import build_cfg
    from metaprompt.errors import UserInputError
    from metaprompt.runtime import BACKEND, DATASET_REGISTRY, TRAINER_REGISTRY
    from metaprompt.runtime.identity import check_run_folder, flatten, run_identity, write_record
    from metaprompt.runtime.lock import OutputLock
    from metaprompt.runtime.builtin.utils import setup_logger  # same appending log.txt on both runtimes

    try:
        cfg = build_cfg(args.dataset_config_file, args.config_file, args.opts or [], args_to_overrides(args))
        for kind, name, registry in (("trainer", cfg.TRAINER.NAME, TRAINER_REGISTRY),
                                     ("dataset", cfg.DATASET.NAME, DATASET_REGISTRY)):
            if name not in registry.registered_names():
                known = ", ".join(sorted(registry.registered_names()))
                raise UserInputError(f"Unknown {kind} {name!r}. Registered: {known}")
        check_run_arguments(args, cfg, TRAINER_REGISTRY.get(cfg.TRAINER.NAME))
        if finished_run(cfg.OUTPUT_DIR):
            raise UserInputError(f"{cfg.OUTPUT_DIR} already holds a finished run (its log reports a test result). "
                            "Nothing was changed. Use another --output-dir, or delete that folder to run it again.")
        identity = run_identity(cfg, args.model_dir if args.eval_only else "", args.load_epoch)
        for folder in dict.fromkeys(d for d in (cfg.OUTPUT_DIR, cfg.RESUME) if d):
            verdict = check_run_folder(folder, identity, finished=False, defaults=flatten(build_cfg()))
            if verdict.action == "refuse":
                raise UserInputError(f"{verdict.message} Nothing was changed. Use another --output-dir, or delete "
                                     "that folder to start over (the sweep scripts: FORCE=1 moves it aside).")
        lock = OutputLock(cfg.OUTPUT_DIR)
        try:
            lock.acquire()
            write_record(cfg.OUTPUT_DIR, identity)
            setup_logger(cfg.OUTPUT_DIR)
        except OSError as e:
            lock.release()
            raise UserInputError(f'Cannot write to the output folder "{cfg.OUTPUT_DIR}" ({e.strerror or e}). '
                                 "Choose a writable --output-dir.") from None
        try:
            return _run(args, cfg, BACKEND)
        finally:
            lock.release()
    except UserInputError as e:
        print(f"error: {e}", file=sys.stderr)
        _log_only(f"error: {e}")
        return 2
    except BaseException:  # a bug or an interrupt: the log still ends with what ended the run
        _log_only(traceback.format_exc().rstrip())
        raise


def _log_only(text: str) -> None:
    """Append ``text`` to the run's log (not the console), when the log is open."""
    from metaprompt.runtime.builtin.utils import _Tee

    if isinstance(sys.stdout, _Tee) and not sys.stdout.file.closed:
        sys.stdout.file.write(text + "\n")
        sys.stdout.file.flush()


def check_run_arguments(args, cfg, trainer_cls) -> None:
    """Arguments Dassl accepts silently but that would produce a misleading run."""
    from metaprompt.errors import UserInputError

    if args.eval_only and not args.model_dir and getattr(trainer_cls, "TRAINS_PROMPTS", False):
        raise UserInputError(f"--eval-only needs --model-dir (the output folder of the {cfg.TRAINER.NAME} training run "
                             "to score); without it the untrained initial prompts would be scored. To score CLIP "
                             "without prompts, use --trainer ZeroshotCLIP.")
    if _resumes_elsewhere(cfg) and not os.path.isdir(cfg.RESUME):
        raise UserInputError(f'--resume "{cfg.RESUME}": no such folder. Pass the output folder of the run to '
                             "continue (re-running a command into its own --output-dir resumes it without --resume).")


def _resumes_elsewhere(cfg) -> bool:
    """``--resume DIR`` naming another folder than the output folder (which is resumed anyway, if it
    holds checkpoints; the same command is re-run after an interruption, with or without --resume)."""
    return bool(cfg.RESUME) and os.path.realpath(cfg.RESUME) != os.path.realpath(cfg.OUTPUT_DIR)


def _run(args, cfg, backend: str) -> int:
    from metaprompt.errors import UserInputError
    from metaprompt.runtime import build_trainer, collect_env_info, set_random_seed
    from metaprompt.runtime.checkpoint import resume_epoch

    if cfg.SEED >= 0:
        print(f"Setting fixed seed: {cfg.SEED}")
        set_random_seed(cfg.SEED)
    print(f"Runtime: {backend}")
    print("***************\n** Arguments **\n***************")
    for key in sorted(vars(args)):
        print(f"{key}: {getattr(args, key)}")
    print("************\n** Config **\n************")
    print(cfg)
    print("Collecting env info ...")
    print(f"** System info **\n{collect_env_info()}\n")
    trainer = build_trainer(cfg)
    if args.eval_only:
        trainer.load_model(args.model_dir, epoch=args.load_epoch)
        trainer.test()
        return 0
    if _resumes_elsewhere(cfg) and not args.no_train and resume_epoch(cfg.RESUME, trainer.get_model_names())[0] is None:
        raise UserInputError(f'--resume "{cfg.RESUME}" holds no checkpoint of {trainer.get_model_names()} '
                             "(model.pth.tar-<N> in those subfolders), so nothing would be resumed. Pass the "
                             "output folder of the run to continue, or drop --resume to train from scratch.")
    if not args.no_train:
        trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
