#!/usr/bin/env python3
"""Benchmark: `lookalike index import` of a feed whose images a local HTTP server serves,
against `lookalike index add` of the same files, in one run.

Both sides index the same N JPEGs (generated, seeded) into a fresh zero-shot collection with
the same backbone, batch size and thumbnails, from a cold start of the binary (model loading
included on both sides, as a user sees it). The import fetches every image over HTTP from
Python's threaded `http.server` on 127.0.0.1 (`--allow-private-urls`), hashes it, keeps it
under the collection's `feed-images/` (fsynced), then embeds it; `index add` reads the files
from disk. Runs alternate (add, import, add, import, ...) and the best of each side is kept.

    .venv/bin/python scripts/bench_import.py [--images 1000] [--backbone efficientnet-lite0]
        [--repeats 2] [--json docs/benchmarks/import.json]
"""
import argparse
import json
import pathlib
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "lookalike"


def generate(folder: pathlib.Path, n: int) -> None:
    rng = np.random.default_rng(16)
    folder.mkdir(parents=True)
    for i in range(n):
        base = rng.integers(0, 255, size=(1, 1, 3))
        yy, xx = np.mgrid[0:240, 0:320]
        img = (base + 60 * np.sin(xx / (5 + i % 13))[..., None] + 40 * np.cos(yy / 9)[..., None]
               + rng.normal(0, 12, size=(240, 320, 3)))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env=None) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN), *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--backbone", default="efficientnet-lite0")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json")
    a = p.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        images = work / "images"
        generate(images, a.images)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", str(images)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        feed = work / "feed.csv"
        with feed.open("w") as f:
            f.write("id,title,image_link,price,availability\n")
            for i, path in enumerate(sorted(images.iterdir())):
                f.write(f"P{i},Item {i},http://127.0.0.1:{port}/{path.name},{i % 90}.99 EUR,in stock\n")
        times = {"add": [], "import": []}
        for r in range(a.repeats):
            for side in ("add", "import"):
                data = work / f"data-{side}-{r}"
                create = ["index", "create", "c", "--model", "zero-shot", "--backbone", a.backbone,
                          "--data-dir", str(data)]
                subprocess.run([str(BIN), *create], check=True, stdout=subprocess.DEVNULL)
                if side == "add":
                    t = run(["index", "add", "c", str(images), "--data-dir", str(data), "-q"])
                else:
                    t = run(["index", "import", "c", str(feed), "--data-dir", str(data), "-q",
                             "--allow-private-urls"])
                times[side].append(t)
                print(f"{side}: {a.images / t:.1f} images/s ({t:.1f} s)", flush=True)
        server.terminate()
        best = {k: min(v) for k, v in times.items()}
        out = {
            "images": a.images,
            "backbone": a.backbone,
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
            "add_images_per_s": a.images / best["add"],
            "import_images_per_s": a.images / best["import"],
            "ratio": best["add"] / best["import"],
            "runs_s": times,
        }
        print(json.dumps(out, indent=1))
        if a.json:
            pathlib.Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
