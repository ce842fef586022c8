#!/usr/bin/env bash
# Flowers use case (the paper's section 4.1): train, evaluate and report on
# ../shared/datasets/flowers. SEED, LOOKALIKE_DATASETS and LOOKALIKE_BIN as in train-report.sh.
#
#   docs/use-cases/flowers.sh                 # seed 0
#   SEED=1 docs/use-cases/flowers.sh
#
# Outputs (ignored by git): bench-out/use-cases/flowers/seed-N/ (see train-report.sh).
# The crop-and-retrain loop on Flowers is crop-loop.sh.
set -euo pipefail
USE_CASE_SCRIPT=$0 DATASET=flowers exec "$(dirname "${BASH_SOURCE[0]}")/train-report.sh"
