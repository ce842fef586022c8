#!/usr/bin/env bash
# Flowers use case: train the default Siamese head on the Flowers folder, evaluate it on its
# held-out test split, and write the HTML report.
#
#   docs/use-cases/flowers.sh                 # seed 0
#   SEED=1 docs/use-cases/flowers.sh
#   LOOKALIKE_DATASETS=/data/sets LOOKALIKE_BIN=/path/to/lookalike docs/use-cases/flowers.sh
#
# Outputs (ignored by git): bench-out/use-cases/flowers/seed-N/
#   model/        the trained model folder
#   train.json    `lookalike train --json`
#   eval.json     `lookalike eval --split test --json` (equal to the test figures of train.json)
#   report/       `lookalike report` (index.html, report.json, charts, example pairs)
#   summary.md    a one-row Markdown table
set -euo pipefail

caller_pwd=$(pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$caller_pwd/$1" ;; esac; }
# LOOKALIKE_DATASETS and LOOKALIKE_BIN, when relative, are read from the caller's directory;
# the defaults are relative to the repository root.
datasets=$([ -n "${LOOKALIKE_DATASETS:-}" ] && abs "$LOOKALIKE_DATASETS" || echo "$repo/../shared/datasets")
bin=$([ -n "${LOOKALIKE_BIN:-}" ] && abs "$LOOKALIKE_BIN" || echo "$repo/target/release/lookalike")
seed=${SEED:-0}
data="$datasets/flowers"

if [ ! -d "$data" ]; then
    echo "flowers.sh: no Flowers dataset at $data" >&2
    echo "  (one subfolder of images per class). Point at the folder that holds flowers/ with" >&2
    echo "  LOOKALIKE_DATASETS=/path/to/datasets $0" >&2
    exit 2
fi
data=$(cd "$data" && pwd)
if [ ! -x "$bin" ]; then
    echo "flowers.sh: no lookalike binary at $bin; build it (cargo build --release) or set LOOKALIKE_BIN" >&2
    exit 2
fi

out="bench-out/use-cases/flowers/seed-$seed"
mkdir -p "$out"
rm -rf "$out/model" "$out/report"

t0=$(date +%s)
echo "== train ($data, seed $seed)"
"$bin" train --data "$data" --out "$out/model" --seed "$seed" --quiet --json > "$out/train.json"
t1=$(date +%s)
echo "== eval (test split)"
"$bin" eval --model "$out/model" --data "$data" --split test --seed "$seed" --quiet --json > "$out/eval.json"
t2=$(date +%s)
echo "== report"
"$bin" report --model "$out/model" --data "$data" --seed "$seed" --out "$out/report" --quiet
t3=$(date +%s)

python3 - "$out" "$seed" $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) <<'PY'
import json, sys
out, seed, t_train, t_eval, t_report = sys.argv[1:]
e = json.load(open(f"{out}/eval.json"))
f = lambda k: f"{e[k]:.4f}" if isinstance(e.get(k), (int, float)) else "n/a"
rows = [
    "| seed | pair accuracy | ROC AUC | F1 | precision | recall | precision@10 | mAP | pairs | train | eval | report |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    f"| {seed} | {f('pair_accuracy')} | {f('roc_auc')} | {f('f1')} | {f('precision')} | {f('recall')} "
    f"| {f('precision_at_10')} | {f('map')} | {e.get('pairs', 'n/a')} | {t_train} s | {t_eval} s | {t_report} s |",
]
r = json.load(open(f"{out}/report/report.json"))
fa = r.get("faithfulness", {})
rows += ["", f"Faithfulness ({fa.get('pairs')} same-class pairs, {fa.get('steps')} steps; deletion: lower is better, "
         "insertion: higher is better):", "", "| method | deletion AUC | insertion AUC | pairs |", "|---|---|---|---|"]
for name, m in fa.get("methods", []):
    rows.append(f"| {name} | {m['deletion_auc']:.4f} | {m['insertion_auc']:.4f} | {m['pairs']} |")
open(f"{out}/summary.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
echo "wrote $out (report: $out/report/index.html)"
