#!/usr/bin/env bash
# Check the data root before a sweep: for each dataset, found or missing, the first missing file,
# class and image counts per split against CoOp's, and the fix. Reads only.
#
#   DATA=/datasets bash scripts/check_data.sh [DATASET ...] [--no-images]
#
# DATASET: config names (caltech101, oxford_pets, ...) or folders of your own data under DATA
# (docs/datasets.md, "Your own data"); all 15 benchmark datasets when none are given.
# Exit status 0 when every checked dataset is usable, 1 otherwise, 2 on a usage error.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

[[ -n "${DATA:-}" ]] || die "DATA is not set: DATA=/path/to/datasets bash $0 [DATASET ...]" \
  "(the folder that holds the dataset folders)"
exec "$PYTHON" -m metaprompt.datasets.check --root "$DATA" "$@"
