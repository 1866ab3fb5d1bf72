#!/usr/bin/env bash
# The held-out gate test (issue 10, items 3 and 5): ProMetaR's gate candidates and IVLP (its base
# learner) on one toy dataset over several seeds, one run at a time, then the summary of
# `python -m metaprompt.results.gate_test`: per candidate, the meta-objective on training-data
# episodes with the learned gate vs the gate at its initial weights vs gamma = 0.5, and Base / New / HM
# against IVLP, as mean ± std with paired 95% intervals.
#
#   [CANDIDATES="paper reference scale adam token tensor fixed_reg no_mixup"] [DATASET=toy_textures] [SEEDS="1 2 3"] \
#   [CFG=toy] [OUTPUT=output/gate_test] bash scripts/gate_test.sh [KEY VALUE ...]
#
# Each candidate is the toy recipe (configs/trainers/ProMetaR/$CFG.yaml; CFG=toy_l12 for the
# 12-layer toy CLIP, whose IVLP recipe is then the base learner's) plus the overrides below, in its
# own folder OUTPUT/<candidate>/. Finished runs are skipped (re-run to complete).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
USAGE="[CANDIDATES=\"..\"] [DATASET=toy_textures] [SEEDS=\"1 2 3\"] [CFG=toy] [OUTPUT=output/gate_test] bash $0 [KEY VALUE ...]"

declare -A OVERRIDES=(
  [paper]=""  # unit-RMS gate gradient, one gamma per DIM_RATE elements (paper mode's default)
  [reference]="TRAINER.PROMETAR.MODE reference"  # the release: frozen gate in practice
  # The gate's own outer-loss scale: 1/ADAPT_LR cancels the inner step size that multiplies its gradient.
  [scale]="TRAINER.PROMETAR.GATE_GRAD scale TRAINER.PROMETAR.GATE_LOSS_SCALE 2000.0"
  [adam]="TRAINER.PROMETAR.GATE_GRAD scale OPTIM_VNET.NAME adam"
  [token]="TRAINER.PROMETAR.GATE_GRANULARITY token"
  [tensor]="TRAINER.PROMETAR.GATE_GRANULARITY tensor"
  # Ablations for comparison: IVLP + the fixed regularizers (no meta step), and no virtual tasks.
  [fixed_reg]="TRAINER.PROMETAR.FIXED_GAMMA 0.5 TRAINER.PROMETAR.STEP_B False"
  [no_mixup]="TRAINER.PROMETAR.VIRTUAL_TASKS False"
)
CANDIDATES="${CANDIDATES:-paper reference scale adam token tensor fixed_reg no_mixup}"
DATASET="${DATASET:-toy_textures}"
SEEDS="${SEEDS:-1 2 3}"
OUTPUT="${OUTPUT:-output/gate_test}"
CFG="${CFG:-toy}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
check_opts "$@"
for s in $SEEDS; do check_int SEEDS "$s"; done
is_toy "$DATASET" || die "not a toy dataset: $DATASET (toy datasets: $TOY_DATASETS)"
for t in IVLP ProMetaR; do
  [[ -f "$REPO/configs/trainers/$t/$CFG.yaml" ]] || die "no recipe configs/trainers/$t/$CFG.yaml; CFG names a toy recipe both IVLP and ProMetaR have (toy, toy_l12)"
done
for c in $CANDIDATES; do [[ -v "OVERRIDES[$c]" ]] || die "unknown candidate '$c'; known: ${!OVERRIDES[*]}"; done
mkdir -p "$OUTPUT/logs"

run() {  # run NAME TRAINER [KEY VALUE ...]
  local name=$1 trainer=$2; shift 2
  local log="$OUTPUT/logs/$name-$DATASET-seed$seed.log" start=$SECONDS
  OUTPUT="$OUTPUT/$name" TRAINER=$trainer CFG=$CFG bash "$REPO/scripts/base2new.sh" "$DATASET" "$seed" "$@" > "$log" 2>&1 ||
    die "$name on $DATASET seed $seed failed; see $log"
  echo "done: $name seed $seed ($((SECONDS - start)) s) $(tail -n 2 "$log" | head -n 1)"
}

for seed in $SEEDS; do
  run IVLP IVLP "$@"
  for c in $CANDIDATES; do
    read -r -a extra <<< "${OVERRIDES[$c]}"
    run "$c" ProMetaR ${extra[@]+"${extra[@]}"} "$@"
  done
done
# shellcheck disable=SC2086
"$PYTHON" -m metaprompt.results.gate_test "$OUTPUT" --dataset "$DATASET" --seeds $SEEDS --candidates $CANDIDATES --cfg "$CFG"
