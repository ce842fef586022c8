#!/usr/bin/env python3
"""The explanation figures of docs/explanations.md, from the real `lookalike explain`.

For each pair it runs `lookalike explain` once per method and composes one small PNG per pair:
rows are methods, columns are A factual, A counterfactual, B factual, B counterfactual.

    .venv/bin/python scripts/explain_figures.py --model /tmp/flowers-model \
        --pair A.jpg B.jpg [--pair ...] --out docs/explanations
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

from PIL import Image, ImageDraw

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "lookalike"
METHODS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"]
COLUMNS = ["a_factual", "a_counterfactual", "b_factual", "b_counterfactual"]
SIDE = 112


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pair", nargs=2, action="append", required=True)
    ap.add_argument("--layer", default="last")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for n, (a, b) in enumerate(args.pair, 1):
        label_w = 80
        sheet = Image.new("RGB", (label_w + SIDE * 4, 18 + SIDE * len(METHODS)), "white")
        draw = ImageDraw.Draw(sheet)
        for c, name in enumerate(COLUMNS):
            draw.text((label_w + c * SIDE + 4, 3), name.replace("_", " "), fill="black")
        summary = None
        for r, method in enumerate(METHODS):
            with tempfile.TemporaryDirectory() as tmp:
                run = subprocess.run(
                    [str(BIN), "explain", "--model", args.model, a, b, "--method", method,
                     "--layer", args.layer, "--out", tmp, "--json"],
                    check=True, capture_output=True, text=True,
                )
                summary = json.loads(run.stdout)
                for c, name in enumerate(COLUMNS):
                    tile = Image.open(pathlib.Path(tmp) / summary["maps"][name]["png"]).convert("RGB")
                    sheet.paste(tile.resize((SIDE, SIDE), Image.BILINEAR), (label_w + c * SIDE, 18 + r * SIDE))
            draw.text((4, 18 + r * SIDE + SIDE // 2 - 6), method, fill="black")
        path = out / f"pair{n}-layer-{args.layer}.png"
        # A 64-colour palette keeps the committed figures small.
        sheet.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        print(json.dumps({"figure": str(path), "a": a, "b": b, "similarity": round(summary["similarity"], 4),
                          "same": summary["same"], "factual_target": summary["factual_target"]}))


if __name__ == "__main__":
    main()
