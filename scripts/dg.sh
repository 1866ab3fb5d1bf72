#!/usr/bin/env bash
# Domain generalization, one seed: train on all ImageNet classes (16 shots, xd_train.sh; the same
# model cross-dataset evaluates, trained once), evaluate it on ImageNetV2, -Sketch, -A and -R
# (dg_test.sh), then print the table.
#
#   [SOURCE=imagenet] [TARGETS="imagenetv2 ..."] [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] \
#       [OUTPUT=output] [SHOTS=16] bash scripts/dg.sh SEED [KEY VALUE ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[SOURCE=imagenet] [TARGETS=\"imagenetv2 imagenet_sketch imagenet_a imagenet_r\"] [TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 SEED [KEY VALUE ...]"
EMBEDDED_EXAMPLE="SOURCE=synthetic TARGETS=synthetic bash $0 1"

usage_if_short $# 1
SEED=$1; shift
SHOTS="${SHOTS:-16}"
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
SOURCE="${SOURCE:-$XD_SOURCE_DEFAULT}"
TARGETS="${TARGETS:-$DG_TARGETS_DEFAULT}"
require_data "$SOURCE" $TARGETS
check_datasets "$SOURCE" $TARGETS
DATASET="$SOURCE"; resolve_common
export CFG DATA SHOTS TRAINER OUTPUT PYTHON SOURCE

bash "$REPO/scripts/xd_train.sh" "$SOURCE" "$SEED" "$@"
for target in $TARGETS; do
  bash "$REPO/scripts/dg_test.sh" "$target" "$SEED" "$@"
done
summary dg --cfg "$CFG" --shots "$SHOTS" --seeds "$SEED"
