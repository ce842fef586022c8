#!/usr/bin/env bash
# Skin cancer use case (the paper's section 4.2): train, evaluate and report on
# ../shared/datasets/skin_cancer (benign / malignant), then the section 4.4 crop loop on it.
# SEED, SEEDS, LOOKALIKE_DATASETS and LOOKALIKE_BIN as in train-report.sh and crop-loop.sh.
#
#   docs/use-cases/skin-cancer.sh             # seed 0
#   SEEDS="0 1" docs/use-cases/skin-cancer.sh # report for the first seed, crop loop for each
#
# Outputs (ignored by git): bench-out/use-cases/skin_cancer/seed-N/ and
# bench-out/use-cases/crop-loop/skin_cancer/.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
seeds=${SEEDS:-${SEED:-0}}
first=${seeds%% *}
export USE_CASE_SCRIPT=$0
DATASET=skin_cancer SEED=$first "$here/train-report.sh"
DATASET=skin_cancer SEEDS=$seeds "$here/crop-loop.sh"
