#!/usr/bin/env python3
"""Benchmark: explaining a query's top 10 hits (4 maps each), Lookalike against pytorch-grad-cam.

Same model (EfficientNet-Lite0, ImageNet weights, zero-shot cosine), same pixels, same machine,
one run. Lookalike's side is `crates/engine/examples/bench_explain.rs`: one batched call for the
10 pairs, and 10 separate calls, at the last layer and at unit 12. The peer is the obvious Python
loop: for each hit and each image of the pair, pytorch-grad-cam's GradCAM on that branch (the
other branch's pooled vector fixed), once for s and once for d = 1 - s: 40 calls. Model loading
is excluded on both sides; the best of three runs is kept.

    .venv/bin/python scripts/bench_explain.py [--images DIR] [--threads N] [--json OUT]
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import reference  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights" / "efficientnet-lite0.safetensors"


class Lite0Features(nn.Module):
    """Pixels to the last feature map, with the last stage as a module pytorch-grad-cam can hook."""

    def __init__(self, lite0):
        super().__init__()
        self.net = lite0
        self.head = nn.Sequential(lite0._conv_head, lite0._bn1, nn.ReLU6())

    def forward(self, pixels, upto=None):
        n = self.net
        x = (pixels - 127.0) / 128.0
        x = torch.nn.functional.relu6(n._bn0(n._conv_stem(x)))
        for b in n._blocks:
            x = b(x)
        return self.head(x)


class OneSide(nn.Module):
    def __init__(self, features, other):
        super().__init__()
        self.features = features
        self.other = other

    def forward(self, x):
        p = self.features(x).mean(dim=(2, 3))
        p = p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (p * self.other).sum(dim=1)


def python_loop(features, query, hits, layer):
    from pytorch_grad_cam import GradCAM

    with torch.no_grad():
        pq = features(query).mean(dim=(2, 3))
        pq = pq / pq.norm(dim=1, keepdim=True)
    maps = 0
    for i in range(hits.shape[0]):
        hit = hits[i : i + 1]
        with torch.no_grad():
            ph = features(hit).mean(dim=(2, 3))
            ph = ph / ph.norm(dim=1, keepdim=True)
        for x, other in ((query, ph), (hit, pq)):
            model = OneSide(features, other).eval()
            with GradCAM(model=model, target_layers=[layer(model)]) as cam:
                for target in (lambda o: o, lambda o: 1.0 - o):
                    cam(input_tensor=x, targets=[target])
                    maps += 1
    return maps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", default=str(ROOT.parent / "shared/datasets/flowers/daisy"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(p for p in pathlib.Path(args.images).rglob("*.jpg"))[:11]
    if len(files) < 11:
        sys.exit(f"need 11 JPEGs under {args.images}, found {len(files)}")
    pixels = np.stack([reference.preprocess(f) for f in files]).transpose(0, 3, 1, 2).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "pixels.npy")
        np.save(npy, pixels)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        subprocess.run(
            ["cargo", "build", "--release", "--quiet", "-p", "lookalike-engine", "--example", "bench_explain"],
            check=True,
            cwd=ROOT,
        )
        exe = ROOT / "target" / "release" / "examples" / "bench_explain"
        out = subprocess.run([str(exe), str(WEIGHTS), npy], check=True, capture_output=True, text=True, env=env)
        ours = json.loads(out.stdout)

    lite0 = reference.load_lite0(str(WEIGHTS))
    features = Lite0Features(lite0).eval()
    x = torch.from_numpy(pixels)
    query, hits = x[:1], x[1:]
    layers = {"last": lambda m: m.features.head, "unit12": lambda m: m.features.net._blocks[10]}
    peer = {}
    for name, layer in layers.items():
        python_loop(features, query, hits[:1], layer)  # warm-up
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            maps = python_loop(features, query, hits, layer)
            best = min(best, time.perf_counter() - t)
        peer[f"{name}_pytorch_grad_cam_loop_s"] = best
        peer["maps"] = maps
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads",
        "torch": torch.__version__,
        **ours,
        **peer,
    }
    for name in layers:
        result[f"{name}_speedup_batched_vs_python"] = result[f"{name}_pytorch_grad_cam_loop_s"] / result[f"{name}_batched_s"]
        result[f"{name}_speedup_batched_vs_separate"] = result[f"{name}_separate_s"] / result[f"{name}_batched_s"]
    for method in ("occlusion", "integrated-gradients", "shapley"):
        # What a feature-level method adds to the search's Grad-CAM, as a fraction of it.
        key = f"last_{method}_batched_s"
        if key in result:
            result[f"last_{method}_vs_gradcam"] = result[key] / result["last_batched_s"]
    print(json.dumps(result, indent=2))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
