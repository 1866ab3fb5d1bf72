# GRAM's corpus and artefact, shared by gram_meta_train.sh and base2new.sh (sourced after _common.sh).

# use_synthetic_corpus: the embedded synthetic corpus (CORPUS_PAIRS pairs, default 600), written once
# to the data cache; sets CORPUS and CORPUS_NAME.
use_synthetic_corpus() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/metaprompt/data/gram_synthetic_corpus_${CORPUS_PAIRS:-600}"
  if [[ ! -f "$dir/captions.csv" ]]; then
    echo "Writing the synthetic GRAM corpus to $dir"
    "$PYTHON" -m metaprompt.meta.gram.synthetic_corpus "$dir" --pairs "${CORPUS_PAIRS:-600}"
  fi
  CORPUS="$dir/captions.csv"
  CORPUS_NAME="synthetic${CORPUS_PAIRS:-600}"
  echo "NOTE: meta-training on the embedded synthetic corpus: a smoke run of the pipeline, not a benchmark."
}

# use_toy_corpus: the toy world's caption corpus under DATA (written once); sets CORPUS and CORPUS_NAME.
use_toy_corpus() {
  local dir="$DATA/toy_corpus"
  [[ -f "$dir/captions.csv" ]] || "$PYTHON" -m metaprompt.toyworld.corpus "$dir"
  CORPUS="$dir/captions.csv"
  CORPUS_NAME="toy_corpus"
}

# use_given_corpus: CORPUS as the user gave it; sets CORPUS_NAME.
use_given_corpus() {
  [[ -e "$CORPUS" ]] || die "CORPUS=$CORPUS does not exist (a CSV/TSV of image_path,caption or a folder of .tar shards)"
  CORPUS_NAME="$(basename "${CORPUS%/}")"
  CORPUS_NAME="${CORPUS_NAME%.*}"
}

# gram_artefact [KEY VALUE ...]: for a GRAM run of recipe $CFG with no TRAINER.GRAM.ARTEFACT, find a
# finished artefact of the same meta-training configuration under $OUTPUT/gram_meta, or meta-train
# one (metaprompt/meta/gram/ondemand.py), on CORPUS if given, else the recipe's own corpus (toy
# recipes: the toy corpus; smoke recipes: the synthetic one). Sets GRAM_ARTEFACT ("" when the run
# needs none) and says which artefact the run uses.
gram_artefact() {
  GRAM_ARTEFACT=""
  if [[ -z "${CORPUS:-}" && "$CFG" != toy* && "$CFG" != smoke* ]]; then
    die "TRAINER=GRAM with CFG=$CFG needs a meta-trained artefact: set CORPUS=/path/to/captions.csv (or a folder" \
      "of .tar shards) to meta-train one now, or pass TRAINER.GRAM.ARTEFACT /path/to/artefact.pt (docs/gram.md)"
  fi
  if [[ "${DRY_RUN:-0}" == 1 ]]; then
    echo "Would find or meta-train the GRAM artefact of $CFG under $OUTPUT/gram_meta (corpus: ${CORPUS:-the recipe corpus})"
    return 0
  fi
  if [[ -n "${CORPUS:-}" ]]; then use_given_corpus
  elif [[ "$CFG" == toy* ]]; then use_toy_corpus
  else use_synthetic_corpus
  fi
  local log
  log="$(mktemp)"
  "$PYTHON" -m metaprompt.meta.gram.ondemand --corpus "$CORPUS" --config-file "$TRAINER_CFG" \
    --output-root "$OUTPUT/gram_meta" --name "$CORPUS_NAME/$CFG" --seed "${META_SEED:-1}" "$@" | tee "$log" ||
    { rm -f "$log"; exit 2; }  # its error line is already printed
  GRAM_ARTEFACT="$(sed -n 's/^ARTEFACT=//p' "$log" | tail -n 1)"
  GRAM_FINGERPRINT="$(sed -n 's/^FINGERPRINT=//p' "$log" | tail -n 1)"
  rm -f "$log"
  [[ -z "$GRAM_ARTEFACT" ]] || echo "GRAM: this run uses the artefact $GRAM_ARTEFACT (fingerprint $GRAM_FINGERPRINT)"
}
