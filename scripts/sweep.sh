#!/usr/bin/env bash
# A whole setting over datasets x seeds (x shots), then its results table. Re-run it after an
# interruption: finished runs are skipped, an interrupted run starts again (training resumes from
# its last per-epoch checkpoint). Runs are skipped or resumed only when their recorded config
# matches; FORCE=1 moves a run of another config aside (docs/foundation.md, "Config identity").
#
#   [DATASETS="imagenet caltech101 ..."] [SEEDS="1 2 3"] [SHOTS_LIST="1 2 4 8 16"] \
#   [SOURCE=imagenet] [TARGETS=...] [KEEP_GOING=1] [TRAINER=ProMetaR] [CFG=recipe] [DATA=/datasets] \
#   [OUTPUT=output] bash scripts/sweep.sh base2new|xd|dg|fewshot [KEY VALUE ...]
#
#   base2new  base2new_train.sh + base2new_test.sh for each dataset in DATASETS (default: the 11) and seed
#   xd        xd_train.sh SOURCE + xd_test.sh for each of TARGETS (default: the 10 others), per seed
#   dg        xd_train.sh SOURCE + dg_test.sh for each of TARGETS (default: the 4 ImageNet variants), per seed
#   fewshot   fewshot.sh for each dataset in DATASETS, shots in SHOTS_LIST and seed
#
# The sweep stops at the first failed run; with KEEP_GOING=1 it runs the rest, lists the failures
# and exits with status 1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[DATASETS=\"..\"] [SEEDS=\"1 2 3\"] [SHOTS_LIST=\"1 2 4 8 16\"] [SOURCE=imagenet] [TARGETS=\"..\"] [KEEP_GOING=1] [TRAINER=$DEFAULT_TRAINER] [CFG=..] [DATA=/path/to/datasets] [OUTPUT=output] bash $0 base2new|xd|dg|fewshot [KEY VALUE ...]"

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

FAILED=()
# step SCRIPT ARG ...: run one sweep step; on failure stop, or note it and go on with KEEP_GOING=1.
step() {
  local status=0
  bash "$REPO/scripts/$1" "${@:2}" || status=$?
  if (( status != 0 )); then
    [[ "${KEEP_GOING:-0}" == 1 ]] || { echo "error: '$*' failed (status $status). Re-run the sweep to continue; finished runs are skipped." >&2; exit "$status"; }
    FAILED+=("$*")
  fi
}

case "$SETTING" in
  base2new)
    for dataset in $DATASETS; do
      for seed in $SEEDS; do
        step base2new_train.sh "$dataset" "$seed" "$@"
        step base2new_test.sh "$dataset" "$seed" "$@"
      done
    done ;;
  fewshot)
    for dataset in $DATASETS; do
      for shots in ${SHOTS_LIST:-1 2 4 8 16}; do
        for seed in $SEEDS; do step fewshot.sh "$dataset" "$seed" "$shots" "$@"; done
      done
    done ;;
  xd|dg)
    for seed in $SEEDS; do
      step xd_train.sh "$SOURCE" "$seed" "$@"
      for target in $TARGETS; do step "${SETTING}_test.sh" "$target" "$seed" "$@"; done
    done ;;
esac

CFG_FILTER=()
[[ -n "${CFG:-}" ]] && CFG_FILTER=(--cfg "$CFG")
SEED_FILTER=(--seeds $SEEDS)
AVERAGE_OVER=()  # the benchmark's datasets, except for a toy-world sweep: its own datasets
if [[ "$SETTING" == base2new || "$SETTING" == fewshot ]]; then
  all_toy=1
  for d in $DATASETS; do is_toy "$d" || all_toy=0; done
  (( all_toy )) && AVERAGE_OVER=(--datasets $DATASETS)
fi
summary "$SETTING" "${CFG_FILTER[@]}" "${SEED_FILTER[@]}" "${AVERAGE_OVER[@]}"
if (( ${#FAILED[@]} )); then
  echo "error: ${#FAILED[@]} step(s) failed:" >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  exit 1
fi
