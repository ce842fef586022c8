#!/usr/bin/env bash
# One-shot Omniglot (Koch et al. 2015): train the Siamese head on Omniglot's two "small"
# background sets with some alphabets held out, then measure 20-way one-shot accuracy on the
# held-out alphabets (`lookalike eval-oneshot`), next to the pretrained backbone without training
# (zero-shot) and chance.
#
#   docs/use-cases/omniglot.sh                    # the three folds, seed 0
#   FOLDS=2 SEED=1 docs/use-cases/omniglot.sh     # one fold, another seed
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
#   seed-S[-VARIANT]/fold-F/train/        the training alphabets, one class folder per character
#   seed-S/fold-F/held-out/     the held-out alphabets, ALPHABET/CHARACTER/*.png
#   seed-S/fold-F/model/        the trained model; train.json, oneshot-{trained,zero-shot}.json
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

train_args=${TRAIN_ARGS:-}
need_variant TRAIN_ARGS "$train_args"
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

for fold in $folds; do
    held=$(held_out "$fold")
    out="$top/seed-$seed${VARIANT:+-$VARIANT}/fold-$fold"
    rm -rf "$out"
    mkdir -p "$out/train" "$out/held-out"
    for dir in "$top/alphabets"/*/; do
        alphabet=$(basename "$dir")
        if [[ " $held " == *" $alphabet "* ]]; then
            cp -r "$dir" "$out/held-out/$alphabet"
        else
            for char in "$dir"*/; do
                cp -r "$char" "$out/train/${alphabet}__$(basename "$char")"
            done
        fi
    done
    echo "== seed $seed, fold $fold: train on $(ls "$out/train" | wc -l) characters; held out: $held"
    t0=$(date +%s)
    # No augmentation: its horizontal flip can turn one character into another.
    # shellcheck disable=SC2086 # TRAIN_ARGS is a list of options
    "$bin" train --data "$out/train" --out "$out/model" --seed "$seed" --augment 0 --quiet --json $train_args > "$out/train.json"
    echo "$train_args" > "$out/train-args.txt"
    t1=$(date +%s)
    for model in trained zero-shot; do
        m=$([ "$model" = trained ] && echo "$out/model" || echo zero-shot)
        echo "== seed $seed, fold $fold: $ways-way one-shot, $model"
        "$bin" eval-oneshot --model "$m" --data "$out/held-out" --ways "$ways" --runs "$runs" --seed "$seed" \
            --quiet --json > "$out/oneshot-$model.json"
    done
    t2=$(date +%s)
    printf '{"train_s": %d, "oneshot_2x_s": %d}\n' $((t1 - t0)) $((t2 - t1)) > "$out/timings.json"
done

python3 - "$top" <<'PY'
import json, os, re, sys
top = sys.argv[1]
rows, data = [], {}
for sd in sorted(d for d in os.listdir(top) if re.fullmatch(r"seed-\d+(-[\w.-]+)?", d)):
    for fd in sorted(os.listdir(os.path.join(top, sd))):
        d = os.path.join(top, sd, fd)
        if not os.path.exists(os.path.join(d, "timings.json")):
            continue
        r = {k: json.load(open(os.path.join(d, f"{k}.json")))
             for k in ("train", "oneshot-trained", "oneshot-zero-shot", "timings")}
        r["train_characters"] = len(os.listdir(os.path.join(d, "train")))
        data[f"{sd}/{fd}"] = r
        args = os.path.join(d, "train-args.txt")
        r["train_args"] = open(args).read().strip() if os.path.exists(args) else ""
        rows.append((sd[5:], fd[5:], r))
pct = lambda x: f"{100 * x:.1f} %"
lines = ["# One-shot Omniglot", "",
         "20-way within-alphabet one-shot accuracy on alphabets held out from training (Lake et al.'s",
         "protocol: each run takes 20 characters of one alphabet and two drawers; the first drawer's",
         "drawings are matched against the second drawer's, one per character). ± is one standard error.", "",
         "| seed[-variant] | fold | trained on | held out | trials | trained model | zero-shot backbone | chance | val. AUC | train |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for seed, fold, r in rows:
    t, z = r["oneshot-trained"], r["oneshot-zero-shot"]
    held = ", ".join(g["group"] for g in t["groups"])
    auc = r["train"].get("val_auc")
    lines.append(f"| {seed} | {fold} | {r['train_characters']} characters | {held} | {t['trials']} "
                 f"| {pct(t['accuracy'])} ± {pct(t['standard_error'])} | {pct(z['accuracy'])} ± {pct(z['standard_error'])} "
                 f"| {pct(t['chance'])} | {auc if auc is None else f'{auc:.3f}'} | {r['timings']['train_s']} s |")
for name in sorted({seed for seed, *_ in rows}):
    group = [r for seed, _, r in rows if seed == name]
    n = sum(r["oneshot-trained"]["trials"] for r in group)
    acc = lambda k: sum(r[k]["accuracy"] * r[k]["trials"] for r in group) / n
    lines.append(f"| {name}, all | | | | {n} | {pct(acc('oneshot-trained'))} | {pct(acc('oneshot-zero-shot'))} | | | |")
variants = sorted({(seed, r["train_args"]) for seed, _, r in rows if r["train_args"]})
if variants:
    lines += [""] + [f"`{seed}`: `lookalike train ... {a}`." for seed, a in variants]
lines += ["", "Per held-out alphabet:", "", "| seed[-variant] | fold | alphabet | characters | trials | trained model | zero-shot |",
          "|---|---|---|---|---|---|---|"]
for seed, fold, r in rows:
    zs = {g["group"]: g for g in r["oneshot-zero-shot"]["groups"]}
    for g in r["oneshot-trained"]["groups"]:
        lines.append(f"| {seed} | {fold} | {g['group']} | {g['classes']} | {g['trials']} | {pct(g['accuracy'])} "
                     f"| {pct(zs[g['group']]['accuracy'])} |")
open(os.path.join(top, "omniglot.md"), "w").write("\n".join(lines) + "\n")
json.dump(data, open(os.path.join(top, "omniglot.json"), "w"), indent=1, sort_keys=True)
print("\n".join(lines))
PY
echo "wrote $top/omniglot.md"
