#!/usr/bin/env python3
"""Benchmark: `lookalike embed` against PyTorch eager on the same JPEG folder, in one run.

Both sides run EfficientNet-Lite0 with the same pretrained weights, decode every JPEG, resize
and crop it (Resize(256) + CenterCrop(224)), batch it and run the forward pass. Model loading is
excluded on both sides; decoding is included. Runs alternate (ours, peer, ours, peer, ...) and
the best of each is kept, so background noise hits both alike.

On a machine with a CUDA GPU it also measures both on CUDA and checks that Lookalike's CPU and
CUDA vectors agree within 1e-3.

    .venv/bin/python scripts/bench_embed.py [--images DIR] [--limit N] [--repeats R] [--json OUT]
        [--bin PATH]
"""
import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import reference  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "lookalike"
WEIGHTS = ROOT / "weights" / "efficientnet-lite0.safetensors"
EXTENSIONS = {".jpg", ".jpeg"}


def jpeg_folder(src, limit, tmp):
    """The first `limit` JPEGs under src (sorted), linked into one folder both sides read."""
    files = sorted(p for p in pathlib.Path(src).rglob("*") if p.suffix.lower() in EXTENSIONS)[:limit]
    if not files:
        sys.exit(f"no JPEG files under {src}")
    folder = pathlib.Path(tmp) / "images"
    folder.mkdir()
    for i, f in enumerate(files):
        os.symlink(f.resolve(), folder / f"{i:06d}{f.suffix.lower()}")
    return folder, sorted(folder.iterdir())


def run_ours(folder, out, device, batch):
    cmd = [str(BIN), "embed", str(folder), "--out", str(out), "--json", "--device", device, "--batch-size", str(batch)]
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(f"lookalike embed failed:\n{res.stderr}")
    summary = json.loads(res.stdout)
    return {"images_per_second": summary["images_per_second"], "seconds": summary["seconds"], "process_seconds": wall}


def run_peer(model, files, device, batch):
    """PyTorch eager: PIL decode + torchvision transforms + forward, batched, no autograd."""
    start = time.perf_counter()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(files), batch):
            chunk = [reference.preprocess(f) for f in files[i : i + batch]]
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).float().to(device)
            outs.append(model.pooled(x).cpu())
        if device != "cpu":
            torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"images_per_second": len(files) / seconds, "seconds": seconds}, torch.cat(outs).numpy()


def best(runs):
    return max(runs, key=lambda r: r["images_per_second"])


def main():
    default = ROOT.parent / "shared" / "datasets" / "flowers"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=str(default), help="a folder of JPEG files (default: ../shared/datasets/flowers)")
    p.add_argument("--limit", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--bin", default=str(BIN), help="the lookalike binary (default: target/release/lookalike)")
    args = p.parse_args()
    global BIN
    BIN = pathlib.Path(args.bin)
    for need in (BIN, WEIGHTS):
        if not need.exists():
            sys.exit(f"{need} is missing: run `make setup` first")
    if not pathlib.Path(args.images).is_dir():
        sys.exit(f"{args.images} is not a folder of JPEG images; pass --images DIR")

    torch.set_grad_enabled(False)
    model = reference.load_lite0(str(WEIGHTS))
    results = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()},
        "torch": torch.__version__,
        "batch_size": args.batch_size,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder, files = jpeg_folder(args.images, args.limit, tmp)
        results["images"] = len(files)
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            model = model.to(device)
            ours, peer = [], []
            out = pathlib.Path(tmp) / f"ours-{device}.npy"
            for _ in range(args.repeats):
                ours.append(run_ours(folder, out, device, args.batch_size))
                r, peer_vectors = run_peer(model, files, device, args.batch_size)
                peer.append(r)
            o, q = best(ours), best(peer)
            ours_vectors = np.load(out)
            results[device] = {
                "lookalike": o,
                "pytorch_eager": q,
                "speedup": o["images_per_second"] / q["images_per_second"],
                "ms_per_image": {"lookalike": 1000 / o["images_per_second"], "pytorch_eager": 1000 / q["images_per_second"]},
                # Includes the JPEG decoders' own differences (zune-jpeg vs libjpeg-turbo).
                "max_abs_diff_vs_peer": float(np.abs(ours_vectors - peer_vectors).max()),
            }
            shutil.copy(out, pathlib.Path(tmp) / f"keep-{device}.npy")
        if "cuda" in devices:
            a = np.load(pathlib.Path(tmp) / "keep-cpu.npy")
            b = np.load(pathlib.Path(tmp) / "keep-cuda.npy")
            diff = float(np.abs(a - b).max())
            results["cpu_vs_cuda_max_abs_diff"] = diff
            results["cpu_vs_cuda_agree"] = diff <= 1e-3

    print(json.dumps(results, indent=2))
    for device in ("cpu", "cuda"):
        if device in results:
            r = results[device]
            print(
                f"{device}: lookalike {r['lookalike']['images_per_second']:.1f} img/s "
                f"({r['ms_per_image']['lookalike']:.1f} ms/img), PyTorch eager "
                f"{r['pytorch_eager']['images_per_second']:.1f} img/s ({r['ms_per_image']['pytorch_eager']:.1f} ms/img): "
                f"{r['speedup']:.2f}x",
                file=sys.stderr,
            )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if "cpu_vs_cuda_agree" in results and not results["cpu_vs_cuda_agree"]:
        sys.exit("CPU and CUDA vectors differ by more than 1e-3")


if __name__ == "__main__":
    main()
