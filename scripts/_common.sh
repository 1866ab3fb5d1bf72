# Shared by the sweep scripts (sourced). Paths work from any working directory.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
OUTPUT="${OUTPUT:-output}"
# Datasets that write themselves and run on a built-in CLIP: no DATA or weights needed.
EMBEDDED_DATASETS="synthetic"

is_embedded() { [[ " $EMBEDDED_DATASETS " == *" $1 "* ]]; }

die() { echo "error: $*" >&2; exit 2; }

# A run folder is finished when its log reports a test result (not a per-epoch val result);
# log.txt-<time> is the log of a resumed run.
finished() { awk '/^Evaluate on the \*test\* set/{t=1} t && /^\* accuracy:/{f=1} END{exit !f}' "$1"/log.txt* 2>/dev/null; }

# default_cfg TRAINER DATASET: the recipe a trainer uses when CFG is not given.
default_cfg() {
  if is_embedded "$2"; then echo smoke; return; fi
  case "$1" in
    CoOp) echo vit_b16_ep50_ctxv1 ;;
    *) ls "$REPO/configs/trainers/$1" 2>/dev/null | grep -v '^smoke' | head -n1 | sed 's/\.yaml$//' ;;
  esac
}

resolve_common() {  # sets DATA, CFG, DATASET_CFG, TRAINER_CFG for $TRAINER and $DATASET
  DATASET_CFG="$REPO/configs/datasets/$DATASET.yaml"
  [[ -f "$DATASET_CFG" ]] || die "unknown dataset '$DATASET'; available: $(ls "$REPO/configs/datasets" | sed 's/\.yaml$//' | tr '\n' ' ')"
  [[ -d "$REPO/configs/trainers/$TRAINER" ]] || die "unknown trainer '$TRAINER'; available: $(ls "$REPO/configs/trainers" | tr '\n' ' ')"
  CFG="${CFG:-$(default_cfg "$TRAINER" "$DATASET")}"
  TRAINER_CFG="$REPO/configs/trainers/$TRAINER/$CFG.yaml"
  [[ -f "$TRAINER_CFG" ]] || die "no config '$CFG' for $TRAINER; available: $(ls "$REPO/configs/trainers/$TRAINER" | sed 's/\.yaml$//' | tr '\n' ' ')"
  if [[ -z "${DATA:-}" ]]; then
    if is_embedded "$DATASET"; then
      DATA="${XDG_CACHE_HOME:-$HOME/.cache}/metaprompt/data"
    else
      die "DATA is not set: DATA=/path/to/datasets bash $0 ... (the folder that holds the dataset folders). Without data, try the embedded dataset: bash $0 synthetic 1"
    fi
  fi
}

# last_epoch RUN_DIR: the epoch of the newest checkpoint the training run wrote.
last_epoch() {
  local pointer="$1/prompt_learner/checkpoint"
  [[ -f "$pointer" ]] || die "no checkpoint in $1 (training did not finish?)"
  sed -n 's/^model\.pth\.tar-\([0-9]*\)$/\1/p' "$pointer"
}
