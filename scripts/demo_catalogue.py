#!/usr/bin/env python3
"""Writes a small labelled product catalogue as PNG files, one folder per class.

The images are Zalando's Fashion-MNIST (MIT licence), as packaged by Debian in
`dataset-fashion-mnist`. The package is fetched with `apt-get download` (no root needed) and
unpacked with `dpkg -x`, unless it is already installed under /usr/share/datasets.
"""
import argparse
import gzip
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
INSTALLED = pathlib.Path("/usr/share/datasets/fashion-mnist")


def fetch(tmp):
    if (INSTALLED / "t10k-images-idx3-ubyte.gz").exists():
        return INSTALLED
    cmd = ["apt-get", "download", "dataset-fashion-mnist"]
    if subprocess.run(cmd, cwd=tmp, capture_output=True).returncode != 0:
        # The package lists may be missing on a fresh machine.
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
    deb = next(pathlib.Path(tmp).glob("dataset-fashion-mnist_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(pathlib.Path(tmp) / "root")], check=True)
    return pathlib.Path(tmp) / "root" / INSTALLED.relative_to("/")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=50)
    args = p.parse_args()
    out = pathlib.Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        src = fetch(tmp)
        images = read_idx(src / "t10k-images-idx3-ubyte.gz")
        labels = read_idx(src / "t10k-labels-idx1-ubyte.gz")
    if out.exists():
        shutil.rmtree(out)
    counts = [0] * len(CLASSES)
    for i, (img, label) in enumerate(zip(images, labels)):
        if counts[label] >= args.per_class:
            continue
        folder = out / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:05d}.png")
        counts[label] += 1
        if min(counts) >= args.per_class:
            break
    print(f"wrote {sum(counts)} Fashion-MNIST images in {len(CLASSES)} classes to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
