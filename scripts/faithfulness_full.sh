#!/usr/bin/env bash
# The faithfulness figures of docs/explanations.md at the protocol's full size: 200 held-out
# pairs (100 same, 100 different) and 224 steps (1/224 of the pixels per step), on Flowers and
# Skin cancer, every fast method and RISE; then RISE's mask shapes on the first 60 of the same
# Flowers pairs. Made for a CUDA machine (about 4,600 backbone forwards per pair: some 8 hours
# on 2 CPU cores), it runs on a CPU with DEVICE=cpu too.
#
#   ROOT=bench-out/i13 scripts/faithfulness_full.sh
#
# ROOT holds the models (flowers-model, skin-model: `lookalike train --data DATA --seed 0`,
# scripts/faithfulness_runs.sh trains them) and gets the JSON results. DATA is the folder of
# the labelled datasets. Everything stops LIMIT seconds after the short first run; what
# finished by then is kept.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/lookalike}
ROOT=${ROOT:-bench-out/i13}
DATA=${DATA:-../shared/datasets}
OUT=${OUT_DIR:-$ROOT}
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:-540}
MASKS=${MASKS:-1000}
PAIRS=${PAIRS:-200}
STEPS=${STEPS:-224}
VARIANT_PAIRS=${VARIANT_PAIRS:-60}
# RISE's mask shapes to compare, GRID:KEEP (RISE's own is 7:0.5).
VARIANTS=${VARIANTS:-7:0.5 7:0.75 10:0.5 5:0.5 10:0.75 7:0.3}
METHODS=gradcam,occlusion,shapley,integrated-gradients,rise
mkdir -p "$OUT"

faith() { # NAME DATA MODEL ARGS...: one eval-explanations run into $OUT/NAME.json
  local name=$1 data=$2 model=$3
  shift 3
  local start=$SECONDS left=$((${DEADLINE:-$((SECONDS + LIMIT))} - SECONDS))
  if [ "$left" -lt 10 ]; then
    echo "$name: skipped, no time left"
    return
  fi
  timeout "$left" "$BIN" eval-explanations --model "$ROOT/$model" --data "$DATA/$data" \
    --device "$DEVICE" --steps "$STEPS" --json -q "$@" > "$OUT/$name.json" 2> "$OUT/$name.err"
  local rc=$?
  echo "$name: rc $rc, $((SECONDS - start)) s"
  [ $rc -eq 0 ] || rm -f "$OUT/$name.json"
}

# A short run first: if the device cannot run every method, say so and stop.
STEPS=4 faith smoke flowers flowers-model --methods "$METHODS" --masks 50 --pairs 2
if [ ! -s "$OUT/smoke.json" ]; then
  echo "the short run on $DEVICE failed:"
  cat "$OUT/smoke.err"
  exit 1
fi

DEADLINE=$((SECONDS + LIMIT))
faith faith-flowers flowers flowers-model --methods "$METHODS" --masks "$MASKS" \
  --pairs "$PAIRS" &
faith faith-skin_cancer skin_cancer skin-model --methods "$METHODS" --masks "$MASKS" \
  --pairs "$PAIRS" &
(
  for v in $VARIANTS; do
    faith "rise-${v/:/-}" flowers flowers-model --methods rise --masks "$MASKS" \
      --mask-grid "${v%%:*}" --mask-keep "${v##*:}" --pairs "$VARIANT_PAIRS"
  done
) &
wait
ls -l "$OUT"
