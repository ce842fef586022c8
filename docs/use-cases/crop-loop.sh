#!/usr/bin/env bash
# The paper's section 4.4 loop (Livieris et al.) on Flowers, or on DATASET: train a model, crop every image to
# its Grad-CAM box against its most similar same-class image (`lookalike crop`), retrain on the
# cropped folder with the same seed and settings, and compare the two models on the same test
# split, as a table like the paper's Table 1.
#
#   docs/use-cases/crop-loop.sh               # seed 0
#   SEEDS="0 1 2" docs/use-cases/crop-loop.sh # several seeds, one table
#   LOOKALIKE_DATASETS=/data/sets LOOKALIKE_BIN=/path/to/lookalike docs/use-cases/crop-loop.sh
#   TABLE_ONLY=1 docs/use-cases/crop-loop.sh  # only rebuild the table from the seeds already run
#   DATASET=skin_cancer docs/use-cases/crop-loop.sh   # another labelled dataset
#   VARIANT=loose CROP_ARGS="--box-fraction 0.1 --box-padding 16" docs/use-cases/crop-loop.sh
#                                             # other `lookalike crop` options, kept apart
#
# Outputs (ignored by git): bench-out/use-cases/crop-loop/DATASET[-VARIANT]/
#   seed-N/original/          model trained on the original images
#   seed-N/cropped-data/      the cropped labelled folder (PNG) and crops.json (every box)
#   seed-N/cropped/           model trained on the cropped images (same seed, same settings)
#   seed-N/*.json             `train --json`, `crop` output, and the four `eval --json`
#   seed-N/timings.json       seconds per step
#   crop-loop.md              the Markdown table of every seed run so far
#   crop-loop.json            the same figures as JSON
#
# Why the test split is the same: `lookalike crop` keeps each image's class folder and file
# stem (writing PNG), and skips none, so the cropped folder lists the same images in the same
# order; the split and the test pairs depend only on that order, the labels and the seed. The
# script checks the order before it evaluates.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seeds=${SEEDS:-${SEED:-0}}
[ -n "${TABLE_ONLY:-}" ] && seeds=""
dataset=${DATASET:-flowers}
need_dataset "$dataset"

crop_args=${CROP_ARGS:-}
need_variant CROP_ARGS "$crop_args"
top="bench-out/use-cases/crop-loop/$dataset${VARIANT:+-$VARIANT}"
mkdir -p "$top"
# The table names the crop options; TABLE_ONLY reads them back from the runs.
if [ -n "$seeds" ]; then echo "$crop_args" > "$top/crop-args.txt"; fi
[ -f "$top/crop-args.txt" ] && crop_args=$(cat "$top/crop-args.txt")

for seed in $seeds; do
    out="$top/seed-$seed"
    mkdir -p "$out"
    rm -rf "$out/original" "$out/cropped" "$out/cropped-data"
    ev() { # ev NAME MODEL DATA
        "$bin" eval --model "$2" --data "$3" --split test --seed "$seed" --quiet --json > "$out/eval-$1.json"
    }

    t0=$(date +%s)
    echo "== seed $seed: train on the original images"
    "$bin" train --data "$data" --out "$out/original" --seed "$seed" --quiet --json > "$out/train-original.json"
    t1=$(date +%s)
    echo "== seed $seed: crop every image to its Grad-CAM box"
    # shellcheck disable=SC2086 # CROP_ARGS is a list of options
    "$bin" crop --model "$out/original" --data "$data" --out "$out/cropped-data" --quiet $crop_args | tee "$out/crop.txt"
    t2=$(date +%s)
    echo "== seed $seed: check that the cropped folder lists the same images in the same order"
    python3 - "$data" "$out/cropped-data" <<'PY'
import os, sys
def listing(root):
    # Class folders sorted, images sorted by path within each (as `lookalike` reads them).
    rows = []
    for c in sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")):
        files = []
        for dp, dns, fns in os.walk(os.path.join(root, c)):
            dns[:] = [d for d in dns if not d.startswith(".")]
            files += [os.path.join(dp, f) for f in fns if f.lower().rsplit(".", 1)[-1] in
                      ("jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff")]
        rows += [(c, os.path.splitext(os.path.relpath(p, root))[0]) for p in sorted(files)]
    return rows
a, b = listing(sys.argv[1]), listing(sys.argv[2])
if a != b:
    sys.exit(f"the cropped folder differs from the original ({len(a)} vs {len(b)} images, or another order): "
             "the test splits would not hold the same images")
print(f"same {len(a)} images in the same order")
PY
    echo "== seed $seed: retrain on the cropped images (same seed, same settings)"
    "$bin" train --data "$out/cropped-data" --out "$out/cropped" --seed "$seed" --quiet --json > "$out/train-cropped.json"
    t3=$(date +%s)
    echo "== seed $seed: evaluate both models on both versions of the test split"
    ev original-on-original "$out/original" "$data"
    ev cropped-on-cropped "$out/cropped" "$out/cropped-data"
    ev cropped-on-original "$out/cropped" "$data"
    ev original-on-cropped "$out/original" "$out/cropped-data"
    t4=$(date +%s)
    printf '{"train_original_s": %d, "crop_s": %d, "train_cropped_s": %d, "eval_4x_s": %d, "total_s": %d}\n' \
        $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) $((t4 - t0)) > "$out/timings.json"
    cat "$out/timings.json"
done

python3 - "$top" "$dataset" "$crop_args" <<'PY'
import json, os, re, statistics, struct, sys
top, dataset, crop_args = sys.argv[1:]
seeds = sorted(int(m.group(1)) for d in os.listdir(top) if (m := re.fullmatch(r"seed-(\d+)", d))
               and os.path.exists(os.path.join(top, d, "timings.json")))
runs = [  # (key, model, test images, what it says)
    ("original-on-original", "original", "original", "the original model (Table 1, left)"),
    ("cropped-on-cropped", "cropped", "cropped", "the paper's comparison (Table 1, right)"),
    ("cropped-on-original", "cropped", "original", "same test images, uncropped: the fair one"),
    ("original-on-cropped", "original", "cropped", "the original model on the crops"),
]
metrics = [("pair_accuracy", "pair accuracy"), ("roc_auc", "ROC AUC"), ("precision", "precision"),
           ("recall", "recall"), ("f1", "F1"), ("precision_at_10", "precision@10"), ("map", "mAP")]
data = {}
for s in seeds:
    d = os.path.join(top, f"seed-{s}")
    data[s] = {k: json.load(open(os.path.join(d, f"eval-{k}.json"))) for k, *_ in runs}
    data[s]["timings"] = json.load(open(os.path.join(d, "timings.json")))
    for which in ("original", "cropped"):
        t = json.load(open(os.path.join(d, f"train-{which}.json")))
        data[s][f"train-{which}"] = {k: v for k, v in t.items() if isinstance(v, (int, float, str))}
fmt = lambda v: f"{v:.4f}" if isinstance(v, (int, float)) else "n/a"
head = "| seed | model | test images | " + " | ".join(n for _, n in metrics) + " | pairs |"
lines = [f"# Crop loop on {dataset} (paper section 4.4)", "",
         f"`lookalike crop` options: `{crop_args}`." if crop_args else "`lookalike crop` with its defaults.", "",
         "Every row uses the same test split (the same images and the same pairs, drawn with the seed);",
         "only the model and whether the test images are cropped differ. Precision and recall are those",
         "of \"different\" (label 1) at d < 0.5 = same.", "", head,
         "|" + "---|" * (len(metrics) + 4)]
for s in seeds:
    for k, model, imgs, _ in runs:
        e = data[s][k]
        lines.append(f"| {s} | {model} | {imgs} | " + " | ".join(fmt(e.get(m)) for m, _ in metrics)
                     + f" | {e.get('pairs', 'n/a')} |")
if len(seeds) > 1:
    lines += ["", f"Mean over seeds {', '.join(map(str, seeds))}:", "", head.replace("| seed ", "| seeds "),
              "|" + "---|" * (len(metrics) + 4)]
    for k, model, imgs, _ in runs:
        vals = [statistics.mean(data[s][k][m] for s in seeds) for m, _ in metrics]
        lines.append(f"| {len(seeds)} | {model} | {imgs} | " + " | ".join(fmt(v) for v in vals) + " | |")
def jpeg_or_png_size(path):
    # Width and height from a PNG's IHDR or a JPEG's SOF marker (standard library only).
    with open(path, "rb") as f:
        d = f.read()
    if d[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", d[16:24])
    i = 2
    while i + 9 < len(d):
        if d[i] != 0xFF:
            i += 1
            continue
        m = d[i + 1]
        if m in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", d[i + 5:i + 9])
            return w, h
        i += 2 + struct.unpack(">H", d[i + 2:i + 4])[0]
    return None
lines += ["", "| seed | images | cropped (a box) | kept whole (flat map) | box area, median | 10th pct | 90th pct |",
          "|---|---|---|---|---|---|---|"]
for s in seeds:
    crops = json.load(open(os.path.join(top, f"seed-{s}", "cropped-data", "crops.json")))
    areas = []
    for c in crops:
        b, size = c["box"], None
        if b is not None:
            size = jpeg_or_png_size(c["image"])
        if size:
            areas.append((b["x1"] - b["x0"]) * (b["y1"] - b["y0"]) / (size[0] * size[1]))
    areas.sort()
    boxed = sum(c["box"] is not None for c in crops)
    q = lambda p: f"{100 * areas[min(len(areas) - 1, int(p * len(areas)))]:.0f} %" if areas else "n/a"
    data[s]["crop"] = {"images": len(crops), "boxed": boxed,
                       "box_area_median": areas[len(areas) // 2] if areas else None}
    lines.append(f"| {s} | {len(crops)} | {boxed} | {len(crops) - boxed} | {q(0.5)} | {q(0.1)} | {q(0.9)} |")
lines += ["", "| seed | train original | crop | train cropped | 4 evals | total |", "|---|---|---|---|---|---|"]
for s in seeds:
    t = data[s]["timings"]
    lines.append(f"| {s} | {t['train_original_s']} s | {t['crop_s']} s | {t['train_cropped_s']} s "
                 f"| {t['eval_4x_s']} s | {t['total_s']} s |")
lines += ["", "Rows: " + "; ".join(f"{m} on {i}: {w}" for _, m, i, w in runs) + "."]
open(os.path.join(top, "crop-loop.md"), "w").write("\n".join(lines) + "\n")
json.dump(data, open(os.path.join(top, "crop-loop.json"), "w"), indent=1, sort_keys=True)
print("\n".join(lines))
PY
echo "wrote $top/crop-loop.md"
