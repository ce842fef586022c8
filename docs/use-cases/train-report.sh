#!/usr/bin/env bash
# Train the default Siamese head on one labelled dataset, evaluate it on its held-out test split,
# and write the HTML report. `flowers.sh` and `skin-cancer.sh` call it.
#
#   DATASET=flowers docs/use-cases/train-report.sh        # seed 0; DATASET defaults to flowers
#   DATASET=skin_cancer SEED=1 docs/use-cases/train-report.sh
#   LOOKALIKE_DATASETS=/data/sets LOOKALIKE_BIN=/path/to/lookalike docs/use-cases/flowers.sh
#
# Outputs (ignored by git): bench-out/use-cases/DATASET/seed-N/
#   model/        the trained model folder
#   train.json    `lookalike train --json`
#   eval.json     `lookalike eval --split test --json` (equal to the test figures of train.json)
#   report/       `lookalike report` (index.html, report.json, charts, example pairs)
#   summary.md    a one-row Markdown table
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seed=${SEED:-0}
dataset=${DATASET:-flowers}
need_dataset "$dataset"

out="bench-out/use-cases/$dataset/seed-$seed"
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
         "insertion: higher is better; a pair where any map is flat counts for no method):", "",
         "| method | deletion AUC | insertion AUC | pairs | flat |", "|---|---|---|---|---|"]
for name, m in fa.get("methods", []):
    rows.append(f"| {name} | {m['deletion_auc']:.4f} | {m['insertion_auc']:.4f} | {m['pairs']} | {m.get('flat', 0)} |")
open(f"{out}/summary.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
echo "wrote $out (report: $out/report/index.html)"
