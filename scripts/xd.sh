#!/usr/bin/env bash
# Cross-dataset transfer, one seed: train on all ImageNet classes (16 shots, xd_train.sh), then
# evaluate that model on the 10 other datasets (xd_test.sh), then print the table.
#
#   [SOURCE=imagenet] [TARGETS="caltech101 ..."] [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] \
#       [OUTPUT=output] [SHOTS=16] bash scripts/xd.sh SEED [KEY VALUE ...]
#
# KEY VALUE overrides apply to the training and the evaluations. Finished runs are skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[SOURCE=imagenet] [TARGETS=\"caltech101 ...\"] [TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 SEED [KEY VALUE ...]"
EMBEDDED_EXAMPLE="SOURCE=synthetic TARGETS=synthetic bash $0 1"

usage_if_short $# 1
SEED=$1; shift
SHOTS="${SHOTS:-16}"
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
SOURCE="${SOURCE:-$XD_SOURCE_DEFAULT}"
TARGETS="${TARGETS:-$XD_TARGETS_DEFAULT}"
require_data "$SOURCE" $TARGETS
check_datasets "$SOURCE" $TARGETS
DATASET="$SOURCE"; resolve_common
export CFG DATA SHOTS TRAINER OUTPUT PYTHON SOURCE

bash "$REPO/scripts/xd_train.sh" "$SOURCE" "$SEED" "$@"
for target in $TARGETS; do
  bash "$REPO/scripts/xd_test.sh" "$target" "$SEED" "$@"
done
summary xd --cfg "$CFG" --shots "$SHOTS" --seeds "$SEED"
