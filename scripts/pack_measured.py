#!/usr/bin/env python3
"""Packs a labelled folder for a faithfulness run on another machine: the images that runs
measured (the `pair_images` of `lookalike eval-explanations --json` outputs) are copied, and
every other image becomes a 1-pixel stub of the same name and format.

The folder keeps its exact file list, so the model's seeded split, and so the pairs, come out
the same; only the measured images travel (about 330 of the 2,900 Flowers and Skin cancer
images for 200 pairs each, under the 64 MiB a GPU machine here takes).

    .venv/bin/python scripts/pack_measured.py --data ../shared/datasets/flowers \
        --runs listing.json [more.json ...] --out gpu/data/flowers

A listing run needs no curves: `eval-explanations --pairs 200 --steps 1 --methods occlusion
--random-seeds 1 --json`.
"""
import argparse
import json
import pathlib
import shutil
import sys

from PIL import Image


def measured(runs):
    used = set()
    for run in runs:
        try:
            pairs = json.loads(pathlib.Path(run).read_text())["pair_images"]
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"{run}: not an eval-explanations --json output with pair_images ({e})")
        for p in pairs:
            used.update(pathlib.Path(p[side]).resolve() for side in ("a", "b"))
    return used


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the labelled folder the runs measured")
    p.add_argument("--runs", required=True, nargs="+", help="eval-explanations --json outputs")
    p.add_argument("--out", required=True, help="the packed folder to write (must not exist)")
    args = p.parse_args()
    src, out = pathlib.Path(args.data), pathlib.Path(args.out)
    if not src.is_dir():
        sys.exit(f"{src} is not a folder")
    if out.exists():
        sys.exit(f"{out} exists; pack into a new folder")
    used = measured(args.runs)
    real = stubs = 0
    for f in sorted(x for x in src.rglob("*") if x.is_file()):
        to = out / f.relative_to(src)
        to.parent.mkdir(parents=True, exist_ok=True)
        if f.resolve() in used:
            shutil.copyfile(f, to)
            real += 1
        else:
            Image.new("RGB", (1, 1)).save(to, format="PNG" if f.suffix.lower() == ".png" else "JPEG")
            stubs += 1
    missing = len(used) - real
    if missing:
        sys.exit(f"{missing} measured images are not under {src}: were the runs made on another folder?")
    print(f"{out}: {real} measured images copied, {stubs} stubs")


if __name__ == "__main__":
    main()
