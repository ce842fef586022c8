#!/usr/bin/env bash
# One-shot Omniglot (Koch et al. 2015, Lake et al. 2015): train on Omniglot's two "small"
# background sets with some alphabets held out, then measure 20-way within-alphabet one-shot
# accuracy on the held-out alphabets (`lookalike eval-oneshot`), next to the Modified Hausdorff
# Distance on ink (`--model mhd`, no learning) on the same runs, the pretrained backbone without
# training (zero-shot) and chance.
#
# The recommended recipe (RECIPE below) trains `conv4` from scratch, end to end, on 20-way
# episodes inside one alphabet with the prototypical loss, rotations as new classes and Koch's
# affine distortions, choosing its epoch by one-shot accuracy on one held-out training alphabet.
#
#   docs/use-cases/omniglot.sh                    # the three folds, seed 0
#   FOLDS=2 SEED=1 docs/use-cases/omniglot.sh     # one fold, another seed
#   FINAL=1 docs/use-cases/omniglot.sh            # one model on all 8 alphabets: final/model
#   TABLE_ONLY=1 docs/use-cases/omniglot.sh       # only rebuild the table from the folds run
#   VARIANT=ft2 TRAIN_ARGS="--fine-tune 2 --epochs 12" FOLDS=3 docs/use-cases/omniglot.sh
#                                                 # other `lookalike train` options, kept apart
#
# The two zips share Greek and Latin (byte-identical), so together they hold 8 alphabets and
# 242 characters of 20 drawings each. Every alphabet with at least 20 characters is held out in
# exactly one fold; Tagalog (17 characters) always trains:
#   fold 1: Balinese, Korean, Latin         fold 2: Early_Aramaic, Japanese_(katakana)
#   fold 3: Greek, Sanskrit
#
# Outputs (ignored by git): bench-out/use-cases/omniglot/
#   alphabets/                  both zips unpacked and merged (ALPHABET/CHARACTER/*.png)
#   seed-S[-VARIANT]/fold-F/train/        the training alphabets, ALPHABET/CHARACTER/*.png
#                               (one folder per character, ALPHABET__CHARACTER, for a pretrained
#                               backbone's variant)
#   seed-S/fold-F/held-out/     the held-out alphabets, ALPHABET/CHARACTER/*.png
#   seed-S/fold-F/model/        the trained model; train.json, oneshot-{trained,mhd,zero-shot}.json
#   final/model/                FINAL=1: the model trained on all 8 alphabets; final/train.json
#   omniglot.md, omniglot.json  the table of every fold run so far
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seed=${SEED:-0}
folds=${FOLDS:-1 2 3}
[ -n "${TABLE_ONLY:-}" ] && folds=""
ways=${WAYS:-20}
runs=${RUNS:-20}
need_dataset omniglot
for zip in images_background_small1.zip images_background_small2.zip; do
    if [ ! -f "$data/$zip" ]; then
        echo "$script: $data has no $zip (the Omniglot background set, github.com/brendenlake/omniglot)" >&2
        exit 2
    fi
done

# The recommended settings (docs/training.md#one-shot-training-from-scratch).
RECIPE="--backbone conv4 --input-size 28 --resize-only --invert --loss prototypical --ways 20 --queries 5 --steps 100 --epochs 40 --patience 10 --lr-halving 10 --dropout 0 --lr 0.001"
train_args=${TRAIN_ARGS:-}
need_variant TRAIN_ARGS "$train_args"
[ -z "$train_args" ] && train_args=$RECIPE
# A pretrained backbone trains on one class folder per character; conv4 on the alphabets.
layout=flat
if [[ " $train_args " == *" --backbone conv4 "* ]]; then
    layout=grouped
fi
top="bench-out/use-cases/omniglot"
mkdir -p "$top"
held_out() {
    case $1 in
        1) echo "Balinese Korean Latin" ;;
        2) echo "Early_Aramaic Japanese_(katakana)" ;;
        3) echo "Greek Sanskrit" ;;
        *) echo "$script: no fold $1 (folds are 1, 2 and 3)" >&2; exit 2 ;;
    esac
}

if [ -n "$folds" ] && [ ! -f "$top/alphabets/.complete" ]; then
    echo "== unpack and merge the two background sets"
    rm -rf "$top/alphabets"
    python3 - "$data" "$top/alphabets" <<'PY'
import os, sys, zipfile
data, out = sys.argv[1:]
seen = {}
for name in ("images_background_small1.zip", "images_background_small2.zip"):
    with zipfile.ZipFile(os.path.join(data, name)) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if info.is_dir() or len(parts) != 4 or not parts[3].endswith(".png"):
                continue
            rel = "/".join(parts[1:])  # ALPHABET/CHARACTER/FILE
            body = z.read(info)
            if rel in seen:
                if seen[rel] != body:
                    sys.exit(f"{rel} differs between the two zips")
                continue
            seen[rel] = body
            path = os.path.join(out, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(body)
alphabets = sorted({r.split("/")[0] for r in seen})
print(f"{len(seen)} drawings, {len({r.rsplit('/', 1)[0] for r in seen})} characters, "
      f"{len(alphabets)} alphabets: {', '.join(alphabets)}")
PY
    touch "$top/alphabets/.complete"
fi

if [ -n "${FINAL:-}" ]; then
    out="$top/final"
    rm -rf "$out"
    mkdir -p "$out"
    echo "== final: train on all 8 alphabets ($train_args)"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # the recipe is a list of options
    "$bin" train --data "$top/alphabets" --out "$out/model" --seed "$seed" --quiet --json $train_args > "$out/train.json"
    t1=$(date +%s)
    echo "$train_args" > "$out/train-args.txt"
    printf '{"train_s": %d, "cores": %d}\n' $((t1 - t0)) "$(nproc)" > "$out/timings.json"
    echo "trained in $((t1 - t0)) s on $(nproc) cores: $out/model"
    exit 0
fi

for fold in $folds; do
    held=$(held_out "$fold")
    out="$top/seed-$seed${VARIANT:+-$VARIANT}/fold-$fold"
    rm -rf "$out"
    mkdir -p "$out/train" "$out/held-out"
    for dir in "$top/alphabets"/*/; do
        alphabet=$(basename "$dir")
        if [[ " $held " == *" $alphabet "* ]]; then
            cp -r "$dir" "$out/held-out/$alphabet"
        elif [ "$layout" = grouped ]; then
            cp -r "$dir" "$out/train/$alphabet"
        else
            for char in "$dir"*/; do
                cp -r "$char" "$out/train/${alphabet}__$(basename "$char")"
            done
        fi
    done
    echo "== seed $seed, fold $fold: train on $(find "$out/train" -name '*.png' -printf '%h\n' | sort -u | wc -l) characters; held out: $held"
    t0=$(date +%s)
    # No photo augmentation: its horizontal flip can turn one character into another (conv4's
    # own distortions never flip).
    # shellcheck disable=SC2086 # TRAIN_ARGS is a list of options
    "$bin" train --data "$out/train" --out "$out/model" --seed "$seed" --augment 0 --quiet --json $train_args > "$out/train.json"
    echo "$train_args" > "$out/train-args.txt"
    t1=$(date +%s)
    for model in trained mhd zero-shot; do
        m=$([ "$model" = trained ] && echo "$out/model" || echo "$model")
        echo "== seed $seed, fold $fold: $ways-way one-shot, $model"
        "$bin" eval-oneshot --model "$m" --data "$out/held-out" --ways "$ways" --runs "$runs" --seed "$seed" \
            --quiet --json > "$out/oneshot-$model.json"
    done
    t2=$(date +%s)
    printf '{"train_s": %d, "oneshot_3x_s": %d, "cores": %d}\n' $((t1 - t0)) $((t2 - t1)) "$(nproc)" > "$out/timings.json"
done

python3 - "$top" <<'PY'
import json, math, os, re, sys
top = sys.argv[1]
rows, data = [], {}
for sd in sorted(d for d in os.listdir(top) if re.fullmatch(r"seed-\d+(-[\w.-]+)?", d)):
    for fd in sorted(os.listdir(os.path.join(top, sd))):
        d = os.path.join(top, sd, fd)
        if not os.path.exists(os.path.join(d, "timings.json")):
            continue
        r = {k: json.load(open(os.path.join(d, f"{k}.json")))
             for k in ("train", "oneshot-trained", "oneshot-zero-shot", "timings")}
        mhd = os.path.join(d, "oneshot-mhd.json")
        r["oneshot-mhd"] = json.load(open(mhd)) if os.path.exists(mhd) else None
        r["train_characters"] = len({os.path.dirname(os.path.join(p, f)) for p, _, fs in os.walk(os.path.join(d, "train"))
                                     for f in fs if f.endswith(".png")})
        data[f"{sd}/{fd}"] = r
        args = os.path.join(d, "train-args.txt")
        r["train_args"] = open(args).read().strip() if os.path.exists(args) else ""
        rows.append((sd[5:], fd[5:], r))
pct = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"
acc_of = lambda r, k: None if r[k] is None else r[k]["accuracy"]
lines = ["# One-shot Omniglot", "",
         "20-way within-alphabet one-shot accuracy on alphabets held out from training (Lake et al.'s",
         "protocol: each run takes 20 characters of one alphabet and two drawers; the first drawer's",
         "drawings are matched against the second drawer's, one per character). Every column is the same",
         "evaluator on the same runs. ± is one binomial standard error per fold; over folds, the standard",
         "error of the mean of the fold accuracies.", "",
         "| seed[-variant] | fold | trained on | held out | trials | trained model | MHD on ink | zero-shot backbone | chance | train | cores |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
for seed, fold, r in rows:
    t, z, m = r["oneshot-trained"], r["oneshot-zero-shot"], r["oneshot-mhd"]
    held = ", ".join(g["group"] for g in t["groups"])
    se = lambda x: "n/a" if x is None else f"{pct(x['accuracy'])} ± {pct(x['standard_error'])}"
    lines.append(f"| {seed} | {fold} | {r['train_characters']} characters | {held} | {t['trials']} "
                 f"| {se(t)} | {se(m)} | {se(z)} "
                 f"| {pct(t['chance'])} | {r['timings']['train_s']} s | {r['timings'].get('cores', '?')} |")
def over_folds(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return pct(mean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return f"{pct(mean)} ± {pct(sd / math.sqrt(len(vals)))}"
for name in sorted({seed for seed, *_ in rows}):
    group = [r for seed, _, r in rows if seed == name]
    n = sum(r["oneshot-trained"]["trials"] for r in group)
    lines.append(f"| {name}, mean of {len(group)} folds | | | | {n} | {over_folds([acc_of(r, 'oneshot-trained') for r in group])} "
                 f"| {over_folds([acc_of(r, 'oneshot-mhd') for r in group])} | {over_folds([acc_of(r, 'oneshot-zero-shot') for r in group])} | | | |")
variants = sorted({(seed, r["train_args"]) for seed, _, r in rows if r["train_args"]})
if variants:
    lines += [""] + [f"`{seed}`: `lookalike train ... {a}`." for seed, a in variants]
lines += ["", "Per held-out alphabet:", "", "| seed[-variant] | fold | alphabet | characters | trials | trained model | MHD | zero-shot |",
          "|---|---|---|---|---|---|---|---|"]
for seed, fold, r in rows:
    zs = {g["group"]: g for g in r["oneshot-zero-shot"]["groups"]}
    ms = {g["group"]: g for g in (r["oneshot-mhd"] or {"groups": []})["groups"]}
    for g in r["oneshot-trained"]["groups"]:
        mh = ms.get(g["group"])
        lines.append(f"| {seed} | {fold} | {g['group']} | {g['classes']} | {g['trials']} | {pct(g['accuracy'])} "
                     f"| {pct(mh['accuracy'] if mh else None)} | {pct(zs[g['group']]['accuracy'])} |")
open(os.path.join(top, "omniglot.md"), "w").write("\n".join(lines) + "\n")
json.dump(data, open(os.path.join(top, "omniglot.json"), "w"), indent=1, sort_keys=True)
print("\n".join(lines))
PY
echo "wrote $top/omniglot.md"
