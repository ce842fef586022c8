#!/usr/bin/env python3
"""Vector index benchmark: Lookalike's embedded store against hnswlib, in the same run.

    .venv/bin/python scripts/bench_ann.py [--n 100000] [--dim 256] [--queries 1000] [--extra-fraction 0.1]

Makes an embedding-like dataset (a mixture of Gaussian clusters in a 32-dimensional latent space,
mapped to DIM dimensions by a random linear layer and a ReLU, as CNN embeddings are) of N base
vectors plus N x extra-fraction more, writes it as .fvecs under bench-out/ann/, then
- runs `target/release/lookalike bench ann --extra ...`: it builds the store from the first N
  (sled + hnsw_rs), measures it unsealed (the mutable graph, searched through its snapshot), seals the graph into one segment, reopens, measures
  the sealed segment, measures memory in a fresh process (`bench reopen`), then adds the extra
  vectors unsealed and measures again (recall@10 against exact search, single-thread queries per
  second per ef);
- runs hnswlib with the same M, ef_construction and build threads on the first N, its queries on
  one thread, then adds the extra vectors and measures again.
Prints the tables and writes docs/benchmarks/ann.json. Recall is against the same exact
neighbours (computed here with numpy). The comparison that matters: queries per second at
recall@10 >= 0.95.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_fvecs(path, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    out = np.empty((n, d + 1), dtype=np.float32)
    out[:, 0] = np.array([d], dtype=np.int32).view(np.float32)[0]
    out[:, 1:] = x
    out.tofile(path)


def make_data(n, nq, dim, seed=0):
    rng = np.random.default_rng(seed)
    latent, clusters = 32, 200
    centres = rng.normal(size=(clusters, latent)).astype(np.float32)
    proj = rng.normal(size=(latent, dim)).astype(np.float32) / np.sqrt(latent)

    def draw(m):
        c = rng.integers(0, clusters, size=m)
        z = centres[c] + 0.35 * rng.normal(size=(m, latent)).astype(np.float32)
        x = np.maximum(z @ proj, 0) + 0.05 * rng.normal(size=(m, dim)).astype(np.float32)
        return x.astype(np.float32)

    return draw(n), draw(nq)


def exact(base, queries, k):
    out = []
    bn = (base * base).sum(1)
    for i in range(0, len(queries), 100):
        q = queries[i : i + 100]
        d = bn[None, :] - 2 * q @ base.T
        out.append(np.argsort(d, axis=1)[:, :k])
    return np.concatenate(out)


def rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hnswlib_runs(index, queries, truth, k, efs):
    runs = []
    for ef in efs:
        index.set_ef(max(ef, k))
        t = time.perf_counter()
        # One query per call, as a search server answers them (batching would hide the
        # per-query overhead that Lookalike's numbers include).
        labels = np.empty((len(queries), k), dtype=np.int64)
        for i, q in enumerate(queries):
            labels[i] = index.knn_query(q[None, :], k=k)[0][0]
        secs = time.perf_counter() - t
        recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(labels, truth)])
        runs.append({"ef": ef, "recall": float(recall), "qps": len(queries) / secs})
    return runs


def run_hnswlib(base, extra, queries, truth, truth_all, k, m, efc, efs, threads):
    import hnswlib

    rss0 = rss_mib()
    index = hnswlib.Index(space="l2", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=0)
    index.set_num_threads(threads)
    t = time.perf_counter()
    index.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - t
    rss1 = rss_mib()
    index.set_num_threads(1)
    runs = hnswlib_runs(index, queries, truth, k, efs)
    path = ROOT / "bench-out" / "ann" / "hnswlib.bin"
    index.save_index(str(path))
    reopened = hnswlib.Index(space="l2", dim=base.shape[1])
    t = time.perf_counter()
    reopened.load_index(str(path))
    reopen = time.perf_counter() - t
    del reopened
    extra_runs = []
    if len(extra):
        index.resize_index(len(base) + len(extra))
        index.set_num_threads(threads)
        index.add_items(extra, np.arange(len(base), len(base) + len(extra)))
        index.set_num_threads(1)
        extra_runs = hnswlib_runs(index, queries, truth_all, k, efs)
    return {
        "build_seconds": build,
        "reopen_seconds": reopen,
        "index_rss_growth_mib": rss1 - rss0,
        "runs": runs,
        "extra_runs": extra_runs,
    }


def at_recall(runs, target=0.95):
    ok = [r for r in runs if r["recall"] >= target]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def ratio_line(name, ours, theirs, k):
    a, b = at_recall(ours), at_recall(theirs)
    if not (a and b):
        print(f"{name}: recall@{k} >= 0.95 not reached by both")
        return None
    r = a["qps"] / b["qps"]
    print(f"{name} at recall@{k} >= 0.95: lookalike {a['qps']:.0f} q/s (ef {a['ef']}), "
          f"hnswlib {b['qps']:.0f} q/s (ef {b['ef']}): ratio {r:.2f}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--extra-fraction", type=float, default=0.1)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", type=int, nargs="*", default=[16, 32, 64, 128, 256])
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "ann.json"))
    args = ap.parse_args()

    work = ROOT / "bench-out" / "ann"
    work.mkdir(parents=True, exist_ok=True)
    n_extra = int(args.n * args.extra_fraction)
    everything, queries = make_data(args.n + n_extra, args.queries, args.dim)
    base, extra = everything[: args.n], everything[args.n :]
    bpath = work / f"base-{args.n}+{n_extra}x{args.dim}.fvecs"
    qpath = work / f"queries-{args.queries}.fvecs"
    write_fvecs(bpath, everything)
    write_fvecs(qpath, queries)
    truth = exact(base, queries, args.k)
    truth_all = exact(everything, queries, args.k)
    threads = os.cpu_count() or 1
    store = work / "store"
    if store.exists():
        import shutil
        shutil.rmtree(store)

    cmd = [str(ROOT / "target/release/lookalike"), "bench", "ann", "--base", str(bpath),
           "--queries", str(qpath), "-k", str(args.k), "--metric", "l2", "--m", str(args.m),
           "--ef-construction", str(args.ef_construction), "--extra", str(n_extra),
           "--dir", str(store), "--json"]
    for ef in args.ef:
        cmd += ["--ef", str(ef)]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    theirs = run_hnswlib(base, extra, queries, truth, truth_all, args.k, args.m,
                         args.ef_construction, args.ef, threads)

    fresh = ours.get("fresh_open") or {}
    print(f"{args.n} x {args.dim} (l2) sealed, then +{n_extra} unsealed; {args.queries} queries, "
          f"k={args.k}, M={args.m}, ef_construction={args.ef_construction}, build on {threads} "
          f"threads, queries on 1")
    print(f"{'':>10} {'build s':>8} {'reopen s':>9} {'index MiB':>10}")
    print(f"{'lookalike':>10} {ours['build_seconds']:8.1f} {fresh.get('seconds', float('nan')):9.2f}"
          f" {fresh.get('rss_growth_searched_mib', float('nan')):10.0f}"
          f"   (sealing {ours['seal_seconds']:.1f} s, segment {ours['sealed_bytes'] / 2**20:.0f} MiB,"
          f" peak RSS while building {ours['peak_rss_mib']:.0f} MiB)")
    print(f"{'hnswlib':>10} {theirs['build_seconds']:8.1f} {theirs['reopen_seconds']:9.2f}"
          f" {theirs['index_rss_growth_mib']:10.0f}")
    print(f"{'ef':>6} {'unsealed':>16} {'sealed':>16} {'hnswlib':>16} {'+extra ours':>16} {'+extra hnswlib':>16}")
    cell = lambda r: f"{r['recall']:.4f} {r['qps']:6.0f}" if r else ""
    for i, ef in enumerate(args.ef):
        get = lambda runs: runs[i] if i < len(runs) else None
        print(f"{ef:>6} {cell(get(ours['mutable_runs'])):>16} {cell(get(ours['runs'])):>16} "
              f"{cell(get(theirs['runs'])):>16} {cell(get(ours['extra_runs'])):>16} "
              f"{cell(get(theirs['extra_runs'])):>16}")
    ratios = {
        "hnsw_rs_alone": ratio_line("unsealed", ours["mutable_runs"], theirs["runs"], args.k),
        "sealed": ratio_line("sealed", ours["runs"], theirs["runs"], args.k),
        "extra": ratio_line(f"+{n_extra} unsealed", ours["extra_runs"], theirs["extra_runs"], args.k),
    }
    result = {"command": " ".join(sys.argv), "lookalike": ours, "hnswlib": theirs,
              "qps_ratio_at_recall_0.95": ratios}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
