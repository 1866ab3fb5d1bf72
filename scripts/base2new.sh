#!/usr/bin/env bash
# Base-to-new generalization, CoOp-family protocol: train on the base classes (16 shots), evaluate
# the last-epoch checkpoint on the new classes, print Base / New / HM.
#
#   [TRAINER=CoOp] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] [SHOTS=16] \
#       bash scripts/base2new.sh DATASET SEED [KEY VALUE ...]
#
# With DATASET=synthetic and no DATA it runs on the embedded dataset and a tiny CLIP on CPU: a
# smoke run of the pipeline, not a benchmark. Finished runs are skipped, so a sweep can be re-run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

[[ $# -ge 2 ]] || die "usage: [TRAINER=..] [CFG=..] [DATA=..] bash $0 DATASET SEED [KEY VALUE ...]"
DATASET=$1; SEED=$2; shift 2
TRAINER="${TRAINER:-CoOp}"
SHOTS="${SHOTS:-16}"
resolve_common

COMMON="$DATASET/shots_$SHOTS/$TRAINER/$CFG/seed$SEED"
TRAIN_DIR="$OUTPUT/base2new/train_base/$COMMON"
TEST_DIR="$OUTPUT/base2new/test_new/$COMMON"
if is_embedded "$DATASET"; then
  echo "NOTE: $DATASET runs on a built-in CLIP on CPU: a smoke run of the pipeline, not a benchmark."
fi

if finished "$TRAIN_DIR"; then
  echo "Skip training: $TRAIN_DIR holds a finished run"
else
  "$PYTHON" "$REPO/train.py" --root "$DATA" --seed "$SEED" --trainer "$TRAINER" \
    --dataset-config-file "$DATASET_CFG" --config-file "$TRAINER_CFG" --output-dir "$TRAIN_DIR" \
    DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES base "$@"
fi

if finished "$TEST_DIR"; then
  echo "Skip evaluation: $TEST_DIR holds a finished run"
else
  LOAD=()  # a checkpoint-free trainer (zero-shot CLIP) evaluates without one
  is_checkpoint_free "$TRAINER" || LOAD=(--model-dir "$TRAIN_DIR" --load-epoch "$(last_epoch "$TRAIN_DIR")")
  "$PYTHON" "$REPO/train.py" --root "$DATA" --seed "$SEED" --trainer "$TRAINER" \
    --dataset-config-file "$DATASET_CFG" --config-file "$TRAINER_CFG" --output-dir "$TEST_DIR" \
    ${LOAD[@]+"${LOAD[@]}"} --eval-only \
    DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES new "$@"
fi

echo "== $TRAINER / $CFG on $DATASET, seed $SEED =="
"$PYTHON" -m metaprompt.results.base2new "$TRAIN_DIR" "$TEST_DIR"
