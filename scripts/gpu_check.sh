#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): toy base-to-new for ProMetaR and GRAM in fp16/amp/fp32,
# the ProMetaR step benchmark at ViT-B/16 size and 224 px, evaluation at 1,000 classes; writes
# OUTPUT/gpu_check/report.md. --smoke: tiny sizes on CPU, to check that the script runs.
#
#   [OUTPUT=output] bash scripts/gpu_check.sh [--smoke] [--parts toy,step,eval]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
exec "$PYTHON" "$REPO/benchmarks/gpu_check.py" --output "${OUTPUT:-output}/gpu_check" "$@"
