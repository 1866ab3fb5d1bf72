#!/usr/bin/env bash
# A whole setting over datasets x seeds (x shots), then its results table. Re-run it after an
# interruption: finished runs are skipped, an interrupted run starts again (training resumes from
# its last per-epoch checkpoint). Runs are skipped or resumed only when their recorded config
# matches; FORCE=1 moves a run of another config aside (docs/foundation.md, "Config identity").
#
#   [DATASETS="imagenet caltech101 ..."] [SEEDS="1 2 3"] [SHOTS_LIST="1 2 4 8 16"] \
#   [SOURCE=imagenet] [TARGETS=...] [KEEP_GOING=1] [LAUNCHER=local|gpus|slurm] [LAUNCHER_ARGS=..] [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] \
#   [OUTPUT=output] bash scripts/sweep.sh base2new|xd|dg|fewshot [KEY VALUE ...]
#
#   base2new  base2new_train.sh + base2new_test.sh for each dataset in DATASETS (default: the 11) and seed
#   xd        xd_train.sh SOURCE + xd_test.sh for each of TARGETS (default: the 10 others), per seed
#   dg        xd_train.sh SOURCE + dg_test.sh for each of TARGETS (default: the 4 ImageNet variants), per seed
#   fewshot   fewshot.sh for each dataset in DATASETS, shots in SHOTS_LIST and seed
#
# The sweep stops at the first failed run; with KEEP_GOING=1 it runs the rest, lists the failures
# and exits with status 1. LAUNCHER=gpus|slurm runs the jobs on N slots or as Slurm job arrays,
# with the launcher's options in LAUNCHER_ARGS (python -m metaprompt.sweep --help; docs/benchmark.md):
#   LAUNCHER=gpus LAUNCHER_ARGS="--gpus 0,1,2,3" bash scripts/sweep.sh base2new
#   LAUNCHER=slurm LAUNCHER_ARGS="--partition gpu --gpus-per-job 1 --time-min 120" bash scripts/sweep.sh base2new
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[DATASETS=\"..\"] [SEEDS=\"1 2 3\"] [SHOTS_LIST=\"1 2 4 8 16\"] [SOURCE=imagenet] [TARGETS=\"..\"] [KEEP_GOING=1] [LAUNCHER=local|gpus|slurm] [LAUNCHER_ARGS=..] [TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] bash $0 base2new|xd|dg|fewshot [KEY VALUE ...]"

usage_if_short $# 1
SETTING=$1; shift
check_opts "$@"
SEEDS="${SEEDS:-1 2 3}"
SOURCE="${SOURCE:-$XD_SOURCE_DEFAULT}"
for seed in $SEEDS; do check_int SEEDS "$seed"; done
case "$SETTING" in
  base2new|fewshot) DATASETS="${DATASETS:-$BASE2NEW_DATASETS}"; ALL="$DATASETS"
    EMBEDDED_EXAMPLE="DATASETS=\"$TOY_DATASETS\" bash $0 $SETTING" ;;
  xd) TARGETS="${TARGETS:-$XD_TARGETS_DEFAULT}"; ALL="$SOURCE $TARGETS"
    EMBEDDED_EXAMPLE="SOURCE=synthetic TARGETS=synthetic bash $0 $SETTING" ;;
  dg) TARGETS="${TARGETS:-$DG_TARGETS_DEFAULT}"; ALL="$SOURCE $TARGETS"
    EMBEDDED_EXAMPLE="SOURCE=synthetic TARGETS=synthetic bash $0 $SETTING" ;;
  *) die "unknown setting '$SETTING' (usage: $USAGE)" ;;
esac
require_data $ALL
check_datasets $ALL
export DATA TRAINER OUTPUT PYTHON SOURCE
[[ -n "${CFG:-}" ]] && export CFG

# The jobs, their order and dependencies, the launchers and the table: metaprompt/sweep.
ARGS=(--trainer "$TRAINER" --data "$DATA" --output "$OUTPUT" --seeds "$SEEDS" --launcher "${LAUNCHER:-local}")
[[ -n "${CFG:-}" ]] && ARGS+=(--cfg "$CFG")
[[ "${KEEP_GOING:-0}" == 1 ]] && ARGS+=(--keep-going)
case "$SETTING" in
  base2new) ARGS+=(--datasets "$DATASETS") ;;
  fewshot) ARGS+=(--datasets "$DATASETS" --shots-list "${SHOTS_LIST:-1 2 4 8 16}") ;;
  xd|dg) ARGS+=(--source "$SOURCE" --targets "$TARGETS") ;;
esac
# shellcheck disable=SC2086  # LAUNCHER_ARGS: options of the launcher, split on spaces
exec "$PYTHON" -m metaprompt.sweep "${ARGS[@]}" ${LAUNCHER_ARGS:-} "$SETTING" "$@"
