#!/usr/bin/env bash
# Few-shot learning: train on all classes of DATASET with SHOTS images per class; the run ends with
# the test accuracy over all classes.
#
#   [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] \
#       bash scripts/fewshot.sh DATASET SEED SHOTS [KEY VALUE ...]
#
# Output: $OUTPUT/fewshot/DATASET/shots_SHOTS/TRAINER/CFG/seedSEED/ (skipped when finished).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] bash $0 DATASET SEED SHOTS [KEY VALUE ...]   (SHOTS: 1, 2, 4, 8 or 16 in the protocol)"
EMBEDDED_EXAMPLE="bash $0 toy_shapes 1 4"

usage_if_short $# 3
DATASET=$1; SEED=$2; SHOTS=$3; shift 3
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
(( SHOTS >= 1 )) || die "SHOTS must be at least 1, got $SHOTS (usage: $USAGE)"
resolve_common
note_embedded "$DATASET"

RUN="$(run_dir fewshot "$DATASET" "$SHOTS" "$SEED")"
run_once training "$RUN" DATASET.NUM_SHOTS "$SHOTS" "$@"
[[ "${DRY_RUN:-0}" == 1 ]] && exit 0
echo "== $TRAINER / $CFG on $DATASET, $SHOTS shots, seed $SEED: accuracy $("$PYTHON" "$REPO/metaprompt/results/logparse.py" accuracy "$RUN") =="
