#!/usr/bin/env bash
# Cross-dataset / domain generalization, step 1: train on all classes of the source dataset
# (ImageNet in the protocol), 16 shots; the run ends with the source test accuracy.
#
#   [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] [SHOTS=16] \
#       bash scripts/xd_train.sh imagenet SEED [KEY VALUE ...]
#
# Output: $OUTPUT/xd/train/imagenet/shots_16/TRAINER/CFG/seedSEED/ (skipped when finished).
# xd_test.sh and dg_test.sh evaluate this model.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 SOURCE_DATASET SEED [KEY VALUE ...]   (SOURCE_DATASET is imagenet in the protocol)"
EMBEDDED_EXAMPLE="bash $0 toy_shapes 1"

usage_if_short $# 2
DATASET=$1; SEED=$2; shift 2
SHOTS="${SHOTS:-16}"
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
resolve_common
note_embedded "$DATASET"

run_once training "$(run_dir xd/train "$DATASET" "$SHOTS" "$SEED")" DATASET.NUM_SHOTS "$SHOTS" "$@"
