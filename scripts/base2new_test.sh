#!/usr/bin/env bash
# Base-to-new, step 2: evaluate the last-epoch checkpoint of base2new_train.sh on the new classes.
#
#   [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] [SHOTS=16] \
#       bash scripts/base2new_test.sh DATASET SEED [KEY VALUE ...]
#
# Output: $OUTPUT/base2new/test_new/DATASET/shots_16/TRAINER/CFG/seedSEED/ (skipped when finished).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 DATASET SEED [KEY VALUE ...]"

usage_if_short $# 2
DATASET=$1; SEED=$2; shift 2
SHOTS="${SHOTS:-16}"
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
resolve_common
TRAIN_HINT="Run: bash $REPO/scripts/base2new_train.sh $DATASET $SEED"

eval_once evaluation "$(run_dir base2new/test_new "$DATASET" "$SHOTS" "$SEED")" \
  "$(run_dir base2new/train_base "$DATASET" "$SHOTS" "$SEED")" \
  DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES new "$@"
