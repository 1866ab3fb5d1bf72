#!/usr/bin/env bash
# Base-to-new, step 1: train on the base classes (16 shots); the run ends with the Base accuracy.
#
#   [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] [SHOTS=16] \
#       bash scripts/base2new_train.sh DATASET SEED [KEY VALUE ...]
#
# Output: $OUTPUT/base2new/train_base/DATASET/shots_16/TRAINER/CFG/seedSEED/ (skipped when finished).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 DATASET SEED [KEY VALUE ...]"

usage_if_short $# 2
DATASET=$1; SEED=$2; shift 2
SHOTS="${SHOTS:-16}"
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
resolve_common
note_embedded "$DATASET"

run_once training "$(run_dir base2new/train_base "$DATASET" "$SHOTS" "$SEED")" \
  DATASET.NUM_SHOTS "$SHOTS" DATASET.SUBSAMPLE_CLASSES base "$@"
