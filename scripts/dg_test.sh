#!/usr/bin/env bash
# Domain generalization, step 2: evaluate the model xd_train.sh trained on SOURCE (default imagenet)
# on an ImageNet variant (imagenetv2, imagenet_sketch, imagenet_a, imagenet_r).
#
#   [SOURCE=imagenet] [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] [SHOTS=16] \
#       bash scripts/dg_test.sh DATASET SEED [KEY VALUE ...]
#
# Output: $OUTPUT/dg/test/DATASET/shots_16/TRAINER/CFG/seedSEED/ (skipped when finished).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[SOURCE=imagenet] [TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 DATASET SEED [KEY VALUE ...]"
EMBEDDED_EXAMPLE="SOURCE=synthetic bash $0 synthetic 1"

usage_if_short $# 2
SHOTS="${SHOTS:-16}"
check_int SEED "$2"; check_int SHOTS "$SHOTS"; check_opts "${@:3}"
test_source_model dg "$@"
