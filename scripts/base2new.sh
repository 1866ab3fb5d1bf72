#!/usr/bin/env bash
# Base-to-new generalization, CoOp-family protocol: train on the base classes (16 shots), evaluate
# the last-epoch checkpoint on the new classes, print Base / New / HM.
#
#   [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] [OUTPUT=output] [SHOTS=16] \
#       bash scripts/base2new.sh DATASET SEED [KEY VALUE ...]
#
# = base2new_train.sh then base2new_test.sh. TRAINER=GRAM without TRAINER.GRAM.ARTEFACT first reuses or
# meta-trains the recipe's artefact (scripts/_gram.sh: CORPUS=, else the toy/synthetic corpus of toy/
# smoke recipes; META_SEED=1). DATASET may be a folder of your own data under DATA
# (docs/datasets.md). With DATASET=synthetic and no DATA it runs on the
# embedded dataset and a tiny CLIP on CPU: a smoke run of the pipeline, not a benchmark. Finished
# runs of the same config are skipped, so a sweep can be re-run; a run of another config in the
# same folder stops the script (FORCE=1 moves it aside and runs again).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] [SHOTS=16] bash $0 DATASET SEED [KEY VALUE ...]"

usage_if_short $# 2
DATASET=$1; SEED=$2; shift 2
SHOTS="${SHOTS:-16}"
check_int SEED "$SEED"; check_int SHOTS "$SHOTS"; check_opts "$@"
resolve_common
export CFG DATA SHOTS TRAINER OUTPUT PYTHON
if [[ "$TRAINER" == GRAM && " $* " != *" TRAINER.GRAM.ARTEFACT "* ]]; then  # GRAM in one command
  source "$REPO/scripts/_gram.sh"
  gram_artefact "$@"
  [[ -z "$GRAM_ARTEFACT" ]] || set -- "$@" TRAINER.GRAM.ARTEFACT "$GRAM_ARTEFACT"
fi

bash "$REPO/scripts/base2new_train.sh" "$DATASET" "$SEED" "$@"
bash "$REPO/scripts/base2new_test.sh" "$DATASET" "$SEED" "$@"

[[ "${DRY_RUN:-0}" == 1 ]] && exit 0
echo "== $TRAINER / $CFG on $DATASET, seed $SEED =="
"$PYTHON" "$REPO/metaprompt/results/logparse.py" base2new "$(run_dir base2new/train_base "$DATASET" "$SHOTS" "$SEED")" \
  "$(run_dir base2new/test_new "$DATASET" "$SHOTS" "$SEED")"
