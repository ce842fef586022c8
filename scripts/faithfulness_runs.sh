#!/usr/bin/env bash
# The faithfulness figures of docs/explanations.md: trains a Flowers and a Skin cancer model
# (seed 0) when missing, then runs eval-explanations on each model's held-out test split.
# PAIRS and STEPS override the sizes used there (60 and 8; the protocol's default is 200 and 224).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out/i13}
PAIRS=${PAIRS:-60}
STEPS=${STEPS:-8}
METHODS=${METHODS:-gradcam,occlusion,shapley,integrated-gradients}
BIN=target/release/lookalike
mkdir -p "$OUT"
for d in flowers:flowers-model skin_cancer:skin-model; do
  data=${d%%:*}; model=${d##*:}
  [ -f "$OUT/$model/model.json" ] ||
    "$BIN" train --data "../shared/datasets/$data" --out "$OUT/$model" --seed 0
  "$BIN" eval-explanations --model "$OUT/$model" --data "../shared/datasets/$data" \
    --methods "$METHODS" --pairs "$PAIRS" --steps "$STEPS" --json -q > "$OUT/faith-$data.json"
  echo "wrote $OUT/faith-$data.json"
done
