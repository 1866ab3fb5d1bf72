# Shared by the sweep scripts (sourced). Paths work from any working directory.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
OUTPUT="${OUTPUT:-output}"
# The method and recipe the scripts run when TRAINER= / CFG= are not given (the ProMetaR release's).
DEFAULT_TRAINER="ProMetaR"
DEFAULT_CFG="vit_b16_c2_ep10_batch4_4+4ctx"
TRAINER="${TRAINER:-$DEFAULT_TRAINER}"
# Datasets that write themselves and run on a built-in CLIP: no DATA or weights needed. The toy
# world's (toy-vit, a CLIP pretrained on rendered scenes; docs/toyworld.md) and a smoke dataset.
TOY_DATASETS="toy_shapes toy_textures toy_sketch"
EMBEDDED_DATASETS="$TOY_DATASETS synthetic"
# The benchmark's dataset lists, in the papers' table order (configs/datasets/<name>.yaml).
# metaprompt/results/catalog.py holds the same lists; a test checks that they agree.
BASE2NEW_DATASETS="imagenet caltech101 oxford_pets stanford_cars oxford_flowers food101 fgvc_aircraft sun397 dtd eurosat ucf101"
XD_SOURCE_DEFAULT="imagenet"
XD_TARGETS_DEFAULT="caltech101 oxford_pets stanford_cars oxford_flowers food101 fgvc_aircraft sun397 dtd eurosat ucf101"
DG_TARGETS_DEFAULT="imagenetv2 imagenet_sketch imagenet_a imagenet_r"

is_embedded() { [[ " $EMBEDDED_DATASETS " == *" $1 "* ]]; }
is_toy() { [[ " $TOY_DATASETS " == *" $1 "* ]]; }

die() { echo "error: $*" >&2; exit 2; }

# usage_if_short COUNT NEEDED: print the calling script's USAGE and stop when arguments are missing.
usage_if_short() {
  if (( $1 < $2 )); then echo "usage: $USAGE" >&2; exit 2; fi
}

check_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2' (usage: $USAGE)"; }

# check_opts KEY VALUE ...: config overrides come in pairs.
check_opts() {
  if (( $# % 2 == 1 )) && [[ "$1" =~ ^[0-9]+$ ]]; then  # the ProMetaR release's scripts take a GPU here
    die "unexpected argument '$1': pick the GPU with CUDA_VISIBLE_DEVICES=$1 bash $0 ... (usage: $USAGE)"
  fi
  (( $# % 2 == 0 )) || die "config overrides come in KEY VALUE pairs, got an odd number: $* (usage: $USAGE)"
}

# A run folder is finished when one of its logs reports a test result (rule in logparse.py).
finished() { "$PYTHON" "$REPO/metaprompt/results/logparse.py" finished "$1"; }

# default_cfg TRAINER DATASET: the recipe a trainer uses when CFG is not given. A learner's comes from
# the learner registry (metaprompt/learners/recipes.py, run by path so no torch import: "NAME RECIPE
# [DATASET=RECIPE ...]" per line, read once per shell); other trainers' is their first published recipe.
default_cfg() {
  if is_toy "$2"; then echo toy; return; fi  # the toy world's recipes (configs/trainers/*/toy.yaml)
  if is_embedded "$2"; then echo smoke; return; fi
  if [[ "$1" == "$DEFAULT_TRAINER" ]]; then echo "$DEFAULT_CFG"; return; fi
  if [[ -z "${LEARNER_RECIPES:-}" ]]; then
    LEARNER_RECIPES="$("$PYTHON" "$REPO/metaprompt/learners/recipes.py")" ||
      die "cannot read the learners' default recipes ($REPO/metaprompt/learners/recipes.py failed)"
  fi
  local line word recipe words
  line="$(awk -v t="$1" '$1 == t' <<< "$LEARNER_RECIPES")"
  if [[ -n "$line" ]]; then
    read -r -a words <<< "$line"
    recipe="${words[1]}"
    for word in "${words[@]:2}"; do [[ "$word" == "$2="* ]] && recipe="${word#*=}"; done
    echo "$recipe"
    return
  fi
  LC_ALL=C ls "$REPO/configs/trainers/$1" 2>/dev/null | grep -v '^smoke\|^toy' | head -n1 | sed 's/\.yaml$//'
}

# Trainers with nothing to train (zero-shot CLIP): their evaluation loads no checkpoint.
CHECKPOINT_FREE_TRAINERS="ZeroshotCLIP"
is_checkpoint_free() { [[ " $CHECKPOINT_FREE_TRAINERS " == *" $1 "* ]]; }

# require_data DATASET ...: DATA must be set when any of them is a real dataset; the embedded ones
# default to a folder in the user's cache.
require_data() {
  [[ -n "${DATA:-}" ]] && return 0
  local d
  for d in "$@"; do
    is_embedded "$d" || die "DATA is not set ('$d' needs it): DATA=/path/to/datasets bash $0 ... (the folder that holds the dataset folders, e.g. \$DATA/oxford_pets/). Without data, try the embedded dataset: ${EMBEDDED_EXAMPLE:-bash $0 toy_shapes 1}"
  done
  DATA="${XDG_CACHE_HOME:-$HOME/.cache}/metaprompt/data"
}

# is_own_folder DATASET: a name with no dataset config that names a folder under DATA is your own
# data, read by the Folder reader (configs/datasets/folder.yaml; docs/datasets.md, "Your own data").
is_own_folder() {
  [[ ! -f "$REPO/configs/datasets/$1.yaml" && "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ && -n "${DATA:-}" && -d "$DATA/$1" ]]
}

# check_datasets DATASET ...: every name has a dataset config or is a folder under DATA (checked
# before hours of training).
check_datasets() {
  local d unknown=""
  for d in "$@"; do [[ -f "$REPO/configs/datasets/$d.yaml" ]] || is_own_folder "$d" || unknown+=" $d"; done
  [[ -z "$unknown" ]] || die "unknown dataset(s):$unknown; available: $(ls "$REPO/configs/datasets" | sed 's/\.yaml$//' | tr '\n' ' ')or the name of a folder of your own data under DATA${DATA:+ ($DATA)}"
}

# resolve_common: sets DATA, CFG, DATASET_CFG, DATASET_OPTS, TRAINER_CFG for $TRAINER and $DATASET. The recipe
# defaults by $CFG_DATASET when set (the dataset the evaluated model was trained on), else $DATASET.
resolve_common() {
  require_data "$DATASET"
  check_datasets "$DATASET"
  DATASET_CFG="$REPO/configs/datasets/$DATASET.yaml"
  DATASET_OPTS=()
  if is_own_folder "$DATASET"; then
    DATASET_CFG="$REPO/configs/datasets/folder.yaml"
    DATASET_OPTS=(DATASET.FOLDER.DIR "$DATASET")
  fi
  [[ -d "$REPO/configs/trainers/$TRAINER" ]] || die "unknown trainer '$TRAINER' (set TRAINER=; the default is $DEFAULT_TRAINER); available: $(ls "$REPO/configs/trainers" | tr '\n' ' ')"
  CFG="${CFG:-$(default_cfg "$TRAINER" "${CFG_DATASET:-$DATASET}")}"
  TRAINER_CFG="$REPO/configs/trainers/$TRAINER/$CFG.yaml"
  [[ -f "$TRAINER_CFG" ]] || die "no config '$CFG' for $TRAINER; available: $(ls "$REPO/configs/trainers/$TRAINER" | sed 's/\.yaml$//' | tr '\n' ' ')"
}

# run_dir SETTING_PATH DATASET SHOTS SEED: a run's output folder (trees documented in docs/benchmark.md).
run_dir() { echo "$OUTPUT/$1/$2/shots_$3/$TRAINER/$CFG/seed$4"; }

note_embedded() {
  if is_toy "$1"; then
    echo "NOTE: $1 is a toy-world dataset on the toy CLIP (CPU): compare methods here, not with published numbers."
  elif is_embedded "$1"; then
    echo "NOTE: $1 runs on a built-in CLIP on CPU: a smoke run of the pipeline, not a benchmark."
  fi
}

# last_epoch RUN_DIR: the epoch of the newest checkpoint the training run wrote.
last_epoch() {
  local pointer="$1/prompt_learner/checkpoint"
  [[ -f "$pointer" ]] || die "no checkpoint in $1 (training did not finish?)"
  local epoch
  epoch=$(sed -n 's/^model\.pth\.tar-\([0-9]*\)$/\1/p' "$pointer")
  [[ -n "$epoch" ]] || die "cannot read the checkpoint name in $pointer"
  echo "$epoch"
}

# same_config DIR [train.py arguments ...]: exit 0 when DIR holds a finished run of exactly this
# config (skip it), 1 to run train.py; a run of another config stops the script with one line
# naming the differing keys, unless FORCE=1 (then it is moved aside to DIR.replaced-<time>).
# The check is metaprompt/cli/run_identity.py (docs/foundation.md, "Config identity").
same_config() {
  local dir=$1; shift
  [[ -e "$dir/run_config.json" ]] || finished "$dir" || return 1  # nothing to compare with
  [[ " $* " != *" --load-epoch LAST "* ]] || return 1  # (dry run) its model is still to be trained
  local replace=() status=0
  [[ "${FORCE:-0}" == 1 && "${DRY_RUN:-0}" != 1 ]] && replace=(--replace)
  PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m metaprompt.cli.run_identity "${replace[@]}" "$@" || status=$?
  (( status < 2 )) || exit 2
  return "$status"
}

# run_once WHAT DIR [train.py arguments ...]: run train.py into DIR unless DIR holds a finished run
# of the same config. Uses DATA, SEED, TRAINER, DATASET_CFG, DATASET_OPTS, TRAINER_CFG. DRY_RUN=1
# prints the command instead.
run_once() {
  local what=$1 dir=$2; shift 2
  local args=(--root "$DATA" --seed "$SEED" --trainer "$TRAINER"
    --dataset-config-file "$DATASET_CFG" --config-file "$TRAINER_CFG" --output-dir "$dir" "$@"
    ${DATASET_OPTS[@]+"${DATASET_OPTS[@]}"})
  if same_config "$dir" "${args[@]}"; then
    echo "Skip $what: $dir holds a finished run of this config"
    return 0
  fi
  local cmd=("$PYTHON" "$REPO/train.py" "${args[@]}")
  if [[ "${DRY_RUN:-0}" == 1 ]]; then
    echo "Would run $what: ${cmd[*]}"
    return 0
  fi
  echo "Run $what: $dir"
  "${cmd[@]}"
}

# eval_once WHAT DIR MODEL_DIR [train.py arguments ...]: evaluate MODEL_DIR's last-epoch checkpoint
# into DIR unless DIR holds a finished evaluation of that model and config. MODEL_DIR must hold a finished training run (a crashed
# one has a rolling checkpoint of an earlier epoch, which must not be reported as the result).
eval_once() {
  local what=$1 dir=$2 model_dir=$3; shift 3
  if is_checkpoint_free "$TRAINER"; then  # zero-shot CLIP: nothing was trained, nothing to load
    run_once "$what" "$dir" --eval-only "$@"
    return
  fi
  local epoch=LAST  # a dry run (the sweep's probe) may plan an evaluation after a training still to run
  if finished "$model_dir"; then
    epoch=$(last_epoch "$model_dir")
  elif [[ "${DRY_RUN:-0}" != 1 ]]; then
    die "cannot evaluate: $model_dir holds no finished training run. ${TRAIN_HINT:-Train it first.}"
  fi
  run_once "$what" "$dir" --model-dir "$model_dir" --load-epoch "$epoch" --eval-only "$@"
}

# test_source_model SETTING DATASET SEED [KEY VALUE ...]: evaluate the model that xd_train.sh trained
# on $SOURCE (all classes) on all classes of DATASET, into $OUTPUT/SETTING/test/DATASET/...
# Cross-dataset (xd) and domain generalization (dg) evaluate the same ImageNet-trained model.
test_source_model() {
  local setting=$1
  DATASET=$2; SEED=$3; shift 3
  SOURCE="${SOURCE:-$XD_SOURCE_DEFAULT}"
  require_data "$SOURCE" "$DATASET"
  check_datasets "$SOURCE"
  CFG_DATASET="$SOURCE"
  resolve_common
  TRAIN_HINT="Run: bash $REPO/scripts/xd_train.sh $SOURCE $SEED"
  eval_once evaluation "$(run_dir "$setting/test" "$DATASET" "$SHOTS" "$SEED")" \
    "$(run_dir xd/train "$SOURCE" "$SHOTS" "$SEED")" "$@"
}

# summary SETTING [tables options ...]: print the results table of this trainer and recipe.
summary() {
  local setting=$1; shift
  [[ "${DRY_RUN:-0}" == 1 ]] && return 0
  "$PYTHON" -m metaprompt.results.tables "$OUTPUT" --setting "$setting" --trainer "$TRAINER" "$@"
}
