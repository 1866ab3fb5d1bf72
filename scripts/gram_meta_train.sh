#!/usr/bin/env bash
# GRAM meta-training: one artefact (prompt initialization + gradient regulator) per trainer config.
#
#   [CFG=smoke] [CORPUS=/path/to/captions.csv | /path/to/shards/] [OUTPUT=output] [SEED=1] \
#       bash scripts/gram_meta_train.sh [KEY VALUE ...]
#
# CFG is a recipe in configs/trainers/GRAM/; the downstream run must use the same one (the artefact
# is checked against its backbone and prompt configuration). Without CORPUS it meta-trains on the
# embedded synthetic corpus (written once to the data cache; CORPUS_PAIRS pairs, default 600) with a
# tiny CLIP on CPU: a smoke run, not a benchmark. A finished artefact is reused; an interrupted run
# resumes. The last line printed is ARTEFACT=<path>, for TRAINER.GRAM.ARTEFACT downstream.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
source "$REPO/scripts/_gram.sh"

CFG="${CFG:-smoke}"
SEED="${SEED:-1}"
TRAINER_CFG="$REPO/configs/trainers/GRAM/$CFG.yaml"
[[ -f "$TRAINER_CFG" ]] || die "no config '$CFG' for GRAM; available: $(ls "$REPO/configs/trainers/GRAM" | sed 's/\.yaml$//' | tr '\n' ' ')"

if [[ -z "${CORPUS:-}" ]]; then use_synthetic_corpus; else use_given_corpus; fi

OUT_DIR="$OUTPUT/gram_meta/$CORPUS_NAME/$CFG/seed$SEED"
"$PYTHON" -m metaprompt.meta.gram.metatrain --corpus "$CORPUS" --config-file "$TRAINER_CFG" \
  --output-dir "$OUT_DIR" --seed "$SEED" "$@"
