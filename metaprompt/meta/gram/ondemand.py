"""GRAM in one command: the artefact a downstream run needs, reused when one exists, else meta-trained.

    python -m metaprompt.meta.gram.ondemand --corpus CORPUS --config-file configs/trainers/GRAM/<recipe>.yaml \
        --output-root OUTPUT/gram_meta --name CORPUS_NAME/RECIPE [--seed 1] [KEY VALUE ...]

The meta-training configuration (the recipe with the same KEY VALUE overrides as the downstream
run, the seed and the corpus's fingerprint) is hashed into a fingerprint (``identity_fingerprint``).
A finished artefact anywhere under ``--output-root`` with that fingerprint is reused, whoever
wrote it (scripts/gram_meta_train.sh or an earlier on-demand run); otherwise meta-training runs
into ``OUTPUT_ROOT/NAME/seed<S>-<fingerprint>`` (an interrupted one resumes there). Prints
``ARTEFACT=<path>`` and ``FINGERPRINT=<fingerprint>`` last; nothing when the run's ``USE_INIT``
and ``USE_REGULATOR`` are both False (no artefact is needed). scripts/base2new.sh calls this.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import Sequence

from .artefact import ArtefactError, artefact_fingerprint, identity_fingerprint, load_artefact


def reusable_artefact(output_root: str, fingerprint: str, steps: int) -> str | None:
    """The one rule for reuse: a finished artefact (all ``steps`` done) whose fingerprint matches."""
    for path in sorted(glob.glob(os.path.join(output_root, "**", "artefact.pt"), recursive=True)):
        try:
            art = load_artefact(path)
        except ArtefactError:
            continue  # not ours to judge here; a run naming it explicitly gets the error
        if art.meta.get("steps_done") == steps and artefact_fingerprint(art) == fingerprint:
            return path
    return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Find or meta-train the GRAM artefact of a trainer recipe.")
    p.add_argument("--corpus", required=True, help="CSV/TSV of image_path,caption, or a folder of .tar shards")
    p.add_argument("--config-file", required=True, help="the GRAM trainer YAML of the downstream run")
    p.add_argument("--output-root", required=True, help="where artefacts are looked for and written (OUTPUT/gram_meta)")
    p.add_argument("--name", required=True, help="sub-folder for a new artefact, e.g. CORPUS_NAME/RECIPE")
    p.add_argument("--seed", type=int, default=1, help="meta-training seed (one artefact serves every run seed)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="the downstream run's KEY VALUE overrides")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from metaprompt.clip import MissingWeightsError
    from metaprompt.config import build_cfg
    from metaprompt.errors import ConfigError

    from .config import MetaSettings
    from .corpus import CorpusError, read_corpus
    from .episodes import EpisodeError
    from .metatrain import MetaTrainer, meta_identity

    try:
        cfg = build_cfg(config_file=args.config_file, opts=args.opts or [], args_overrides={"SEED": args.seed})
        node = cfg.TRAINER.GRAM
        if not (node.USE_INIT or node.USE_REGULATOR):
            print("GRAM with USE_INIT and USE_REGULATOR False is the wrapped method: no artefact needed")
            return 0
        settings = MetaSettings.from_cfg(cfg)
        corpus = read_corpus(args.corpus)
        fingerprint = identity_fingerprint(meta_identity(cfg, args.seed, corpus.fingerprint(settings.fingerprint)))
        artefact_id = reusable_artefact(args.output_root, fingerprint, settings.steps)
        if artefact_id:
            print(f"GRAM: reusing the finished artefact {artefact_id} (same meta-training configuration, "
                  f"fingerprint {fingerprint})")
        else:
            out = os.path.join(args.output_root, args.name, f"seed{args.seed}-{fingerprint}")
            print(f"GRAM: no finished artefact with fingerprint {fingerprint} under {args.output_root}; "
                  f"meta-training one into {out} on {args.corpus}")
            artefact_id = MetaTrainer(cfg, corpus, out, seed=args.seed).run()
    except (ConfigError, CorpusError, EpisodeError, MissingWeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"ARTEFACT={artefact_id}")
    print(f"FINGERPRINT={fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
