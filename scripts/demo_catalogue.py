#!/usr/bin/env python3
"""The demo's data: a labelled product catalogue as PNG files, one folder per class.

The images are Zalando's Fashion-MNIST (MIT licence), as packaged by Debian in
`dataset-fashion-mnist`. The package is fetched with `apt-get download` (no root needed) and
unpacked with `dpkg -x`, unless it is already installed under /usr/share/datasets.

    demo_catalogue.py images --split train --per-class 150 --out index/demo/train
    demo_catalogue.py products --split test --per-class 200 --out index/demo/catalogue
    demo_catalogue.py make-way --collection index/catalogue --model index/demo/model \
        --aside index/demo/replaced-catalogue

`images` writes the first N images of each class of the split (in the split's order) to
OUT/CLASS/NNNNN.png, NNNNN being the image's index in the split; `--per-class 0` writes them all.

`products` makes a shop of the same images: product PNNNNN has three photos, the image itself
(OUT/CLASS/PNNNNN.png) and two augmented views of it, named as such (PNNNNN-view-flip.png, a
mirror image, and PNNNNN-view-zoom.png, its centre enlarged), and OUT/feed.csv describes every
product in the columns of a Google Merchant Center feed (id, title, image_link,
additional_image_link, price as "12.99 EUR", brand, availability, product_type) plus label,
stock and in_stock. Prices, brands and stock are drawn from a generator seeded by the product
index, so the same product always gets the same ones. `lookalike index import NAME OUT/feed.csv
--images-root OUT` imports it.

`make-way` gets a collection folder ready for the demo's trained model (see its help).
"""
import argparse
import csv
import gzip
import hashlib
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
INSTALLED = pathlib.Path("/usr/share/datasets/fashion-mnist")
FILES = {"train": "train", "test": "t10k"}
# Written into the collection folder by make demo before it imports the products' feed.
PRODUCTS_MARK = ".demo-products"


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


def load(split):
    """(images, labels) of a split: uint8 N×28×28 and N."""
    with tempfile.TemporaryDirectory() as tmp:
        src = fetch(tmp)
        prefix = FILES[split]
        return read_idx(src / f"{prefix}-images-idx3-ubyte.gz"), read_idx(src / f"{prefix}-labels-idx1-ubyte.gz")


def first_per_class(split, per_class, out):
    """Empties `out` and yields (index in the split, image, class name) for the first `per_class`
    images of each class of `split` (all when 0), each class's folder under `out` made."""
    out = pathlib.Path(out)
    images, labels = load(split)
    if out.exists():
        shutil.rmtree(out)
    limit = per_class if per_class > 0 else len(labels)
    counts = [0] * len(CLASSES)
    for i, (img, label) in enumerate(zip(images, labels)):
        if counts[label] >= limit:
            continue
        (out / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        yield i, img, CLASSES[label]
        counts[label] += 1
        if min(counts) >= limit:
            break


def write_images(split, per_class, out):
    """Writes the first `per_class` images of each class (all when 0); returns how many."""
    n = 0
    for i, img, cls in first_per_class(split, per_class, out):
        Image.fromarray(img).save(pathlib.Path(out) / cls / f"{i:05d}.png")
        n += 1
    return n


# A base price per class (EUR) and the brands a product may have.
BASE_PRICE = {"t-shirt": 15, "trouser": 40, "pullover": 35, "dress": 45, "coat": 90, "sandal": 30,
              "shirt": 25, "sneaker": 60, "bag": 50, "ankle-boot": 80}
BRANDS = ["Northwind", "Lumen", "Kestrel", "Marlow", "Oakline"]
FEED_COLUMNS = ["id", "title", "image_link", "additional_image_link", "price", "brand", "availability",
                "product_type", "label", "stock", "in_stock"]


def views(img):
    """The two augmented views of a 28×28 image, by name: a mirror image and its centre zoomed."""
    pil = Image.fromarray(img)
    zoom = pil.crop((3, 3, 25, 25)).resize(pil.size, Image.BILINEAR)
    return {"flip": pil.transpose(Image.FLIP_LEFT_RIGHT), "zoom": zoom}


def product_row(index, cls):
    """The feed row of product `index` (the image's index in the split) of class `cls`."""
    r = np.random.default_rng(index)
    stock = int(r.choice([0, 0, 1, 2, 3, 5, 8, 12, 20, 40]))
    price = BASE_PRICE[cls] * float(r.uniform(0.6, 1.6))
    pid = f"P{index:05d}"
    brand = BRANDS[int(r.integers(len(BRANDS)))]
    return {
        "id": pid,
        "title": f"{brand} {cls.replace('-', ' ')} {index}",
        "image_link": f"{cls}/{pid}.png",
        "additional_image_link": ",".join(f"{cls}/{pid}-view-{v}.png" for v in ("flip", "zoom")),
        "price": f"{round(price) - 0.01:.2f} EUR",
        "brand": brand,
        "availability": "in_stock" if stock > 0 else "out_of_stock",
        "product_type": f"Clothing & Accessories > {cls}",
        "label": cls,
        "stock": stock,
        "in_stock": "true" if stock > 0 else "false",
    }


def write_products(split, per_class, out):
    """Writes the first `per_class` images of each class as products (three photos each) and
    OUT/feed.csv; returns how many products."""
    out = pathlib.Path(out)
    rows = []
    for i, img, cls in first_per_class(split, per_class, out):
        row = product_row(i, cls)
        Image.fromarray(img).save(out / row["image_link"])
        for name, view in views(img).items():
            view.save(out / cls / f"{row['id']}-view-{name}.png")
        rows.append(row)
    with open(out / "feed.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FEED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def fingerprint(model_dir):
    """The fingerprint Lookalike records for a trained model folder (crates/engine, config.rs)."""
    h = hashlib.sha256(b"siamese\0")
    for name in ("model.json", "head.safetensors", "backbone.safetensors"):
        h.update((model_dir / name).read_bytes())
    return h.hexdigest()


def make_way(collection, model, aside):
    """Exit status 0 when COLLECTION may be (re)filled for MODEL: absent, or bound to it."""
    collection, model, aside = pathlib.Path(collection), pathlib.Path(model), pathlib.Path(aside)
    config = collection / "collection.json"
    if not collection.exists():
        return 0
    if not config.exists():
        sys.exit(f"{collection} exists but is not a collection (no collection.json): move it away and run make demo again")
    recorded = json.loads(config.read_text())["model"]
    path = recorded.get("path")
    if path is not None and pathlib.Path(path).resolve() == model.resolve():
        if recorded.get("fingerprint") != fingerprint(model):
            why = f"was built with an earlier training of {model}"
        elif not (collection / PRODUCTS_MARK).exists():
            why = "holds an earlier demo's catalogue (images, not products)"
        else:
            print(f"{collection} already uses {model}: completing it", file=sys.stderr)
            return 0
    elif path is None:
        why = "is a zero-shot collection, as an earlier make demo built it"
    else:
        sys.exit(
            f"{collection} uses the model {path}, not the demo's {model}: it is not the demo's, "
            "so make demo leaves it alone. Move it out of the way and run make demo again."
        )
    if aside.exists():
        shutil.rmtree(aside)
    aside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(collection), str(aside))
    print(f"{collection} {why}: moved it to {aside} (delete that when you like); building it again", file=sys.stderr)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("images", help="write Fashion-MNIST images, one folder per class")
    i.add_argument("--out", required=True)
    i.add_argument("--split", choices=sorted(FILES), default="test")
    i.add_argument("--per-class", type=int, default=50, help="images per class; 0: all of the split")
    pr = sub.add_parser("products", help="write Fashion-MNIST products (three photos each) and their feed")
    pr.add_argument("--out", required=True)
    pr.add_argument("--split", choices=sorted(FILES), default="test")
    pr.add_argument("--per-class", type=int, default=50, help="products per class; 0: all of the split")
    w = sub.add_parser(
        "make-way",
        help="move the old demo's collection aside",
        description="If COLLECTION is the demo's but bound to an older training of MODEL, or is zero-shot "
        "(what make demo built before it trained a model), or holds images but not the products of the demo's "
        "feed (an earlier make demo), move it to ASIDE (replacing an earlier one). "
        "If it already uses MODEL's current files, keep it. Refuse (exit 1) if it uses any other model.",
    )
    w.add_argument("--collection", required=True)
    w.add_argument("--model", required=True)
    w.add_argument("--aside", required=True)
    args = p.parse_args()
    if args.command == "images":
        n = write_images(args.split, args.per_class, args.out)
        print(f"wrote {n} Fashion-MNIST {args.split} images in {len(CLASSES)} classes to {args.out}", file=sys.stderr)
    elif args.command == "products":
        n = write_products(args.split, args.per_class, args.out)
        print(f"wrote {n} Fashion-MNIST {args.split} products (3 photos each) and {args.out}/feed.csv", file=sys.stderr)
    else:
        sys.exit(make_way(args.collection, args.model, args.aside))


if __name__ == "__main__":
    main()
