#!/usr/bin/env python3
"""Vector index benchmark: Lookalike's embedded store against hnswlib, in the same run.

    .venv/bin/python scripts/bench_ann.py [--n 100000] [--dim 256] [--queries 1000] [--extra-fraction 0.1]
    .venv/bin/python scripts/bench_ann.py --vectors BASE.npy --query-vectors Q.npy --metric cosine \
        --out docs/benchmarks/ann-lite0.json

The data: by default an embedding-like set (a mixture of Gaussian clusters in a 32-dimensional
latent space, mapped to DIM dimensions by a random linear layer and a ReLU, as CNN embeddings
are) of N base vectors plus N x extra-fraction more; with --vectors, real embeddings (what
`lookalike embed` writes), the last extra-fraction of them held back as the extra. It is written
as .fvecs under bench-out/ann/, then
- hnswlib builds its index on the base vectors, with the same M, ef_construction and build
  threads, alone on the machine;
- `target/release/lookalike bench ann --extra ... --turns` builds the store (sled and the
  growing graph), alone too, then measures it unsealed, seals it into one segment, reopens,
  measures the sealed segment, measures memory in a fresh process (`bench reopen`), then adds
  the extra vectors unsealed and measures again;
- every measurement is --rounds rounds, Lookalike's and hnswlib's in turns (hnswlib's index
  grows by the extra vectors before the last phase), and each keeps its fastest round: both
  see the same minutes of a shared machine.
Measured: recall@10 against exact search (numpy here, the store's own in `bench ann`) and
single-thread queries per second per ef. Prints the tables and writes docs/benchmarks/ann.json.
The comparison that matters: queries per second at recall@10 >= 0.95.
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


def head_vectors(model_dir, pooled):
    """What a collection of a metric-head model stores for each pooled vector: w * e."""
    from safetensors.numpy import load_file

    if not (Path(model_dir) / "model.json").is_file():
        sys.exit(f"--head {model_dir}: no model.json there (a folder `lookalike train` wrote)")
    meta = json.loads((Path(model_dir) / "model.json").read_text())
    if meta.get("head") != "metric" or meta.get("training", {}).get("fine_tune", 0) != 0:
        sys.exit(f"{model_dir}: --head needs a metric head on a frozen backbone "
                 f"(head {meta.get('head')}, fine_tune {meta.get('training', {}).get('fine_tune')})")
    h = load_file(str(Path(model_dir) / "head.safetensors"))
    if h["input.mean"].shape[0] != pooled.shape[1]:
        sys.exit(f"--head {model_dir} takes {h['input.mean'].shape[0]}-dimensional pooled vectors, "
                 f"the vectors have {pooled.shape[1]}")
    x = (pooled - h["input.mean"]) / h["input.std"]
    e = np.maximum(x @ h["embed.weight"].T + h["embed.bias"], 0)
    w = np.logaddexp(0, h["pair.v"])  # softplus
    return (e * w).astype(np.float32)


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


def hnswlib_round(index, queries, truth, k, efs):
    """One round: recall@k and single-thread queries per second at each ef."""
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


def keep_fastest(best, runs):
    """Merges a round into the best so far (recall is the same in every round)."""
    if not best:
        return runs
    return [dict(b, qps=max(b["qps"], r["qps"])) for b, r in zip(best, runs)]


class Hnswlib:
    """The peer: hnswlib with the same M, ef_construction and build threads, queried on one
    thread. Built before Lookalike starts, so neither build shares the machine with the other."""

    def __init__(self, base, extra, m, efc, threads, space):
        import hnswlib

        self.base, self.extra, self.threads = base, extra, threads
        rss0 = rss_mib()
        self.index = hnswlib.Index(space=space, dim=base.shape[1])
        self.index.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=0)
        self.index.set_num_threads(threads)
        t = time.perf_counter()
        self.index.add_items(base, np.arange(len(base)))
        self.build_seconds = time.perf_counter() - t
        self.rss_growth = rss_mib() - rss0
        self.index.set_num_threads(1)
        path = ROOT / "bench-out" / "ann" / "hnswlib.bin"
        self.index.save_index(str(path))
        reopened = hnswlib.Index(space=space, dim=base.shape[1])
        t = time.perf_counter()
        reopened.load_index(str(path))
        self.reopen_seconds = time.perf_counter() - t
        del reopened
        self.extended = False
        self.runs = {}

    def turn(self, phase, queries, truth, truth_all, k, efs):
        """hnswlib's round beside Lookalike's round of `phase` (unsealed, sealed or extra)."""
        if phase == "extra" and not self.extended:
            self.index.resize_index(len(self.base) + len(self.extra))
            self.index.set_num_threads(self.threads)
            self.index.add_items(self.extra, np.arange(len(self.base), len(self.base) + len(self.extra)))
            self.index.set_num_threads(1)
            self.extended = True
        runs = hnswlib_round(self.index, queries, truth_all if phase == "extra" else truth, k, efs)
        self.runs[phase] = keep_fastest(self.runs.get(phase), runs)

    def report(self):
        return {
            "build_seconds": self.build_seconds,
            "reopen_seconds": self.reopen_seconds,
            "index_rss_growth_mib": self.rss_growth,
            "runs": self.runs.get("sealed", []),
            "runs_beside_unsealed": self.runs.get("unsealed", []),
            "extra_runs": self.runs.get("extra", []),
        }


def run_lookalike(cmd, on_turn):
    """Runs `bench ann --turns`: before each of its rounds, `on_turn(phase)` runs the peer's."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rest = []
    for line in proc.stdout:
        if line.startswith("{") and '"turn"' in line:  # one line; the report is pretty-printed
            on_turn(json.loads(line)["turn"])
            try:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            except BrokenPipeError:
                break  # it failed; its status and error output say why
        else:
            rest.append(line)
    if proc.wait() != 0:
        sys.exit(f"{cmd[0]} bench ann failed with status {proc.returncode}")
    return json.loads("".join(rest))


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
    ap.add_argument("--rounds", type=int, default=5,
                    help="query rounds per phase, Lookalike's and hnswlib's in turns; the "
                         "fastest of each is kept")
    ap.add_argument("--vectors", help="real base vectors (.npy): replaces the generated set")
    ap.add_argument("--query-vectors", help="real query vectors (.npy), with --vectors")
    ap.add_argument("--head", metavar="MODEL_DIR",
                    help="a trained model (metric head): --vectors and --query-vectors are its "
                         "backbone's pooled vectors, and the index holds w * e as its collections "
                         "do (e = ReLU(Linear((x - mean) / std)), w = softplus(v))")
    ap.add_argument("--metric", choices=["l2", "cosine"], default="l2")
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "lookalike"),
                    help="the lookalike binary to measure")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "ann.json"))
    args = ap.parse_args()

    work = ROOT / "bench-out" / "ann"
    work.mkdir(parents=True, exist_ok=True)
    if args.rounds < 1:
        sys.exit(f"--rounds {args.rounds}: at least one round is needed")
    if not Path(args.bin).is_file():
        sys.exit(f"{args.bin} is not there: build it first (make build)")
    if args.head and not args.vectors:
        sys.exit("--head needs --vectors (the backbone's pooled vectors)")
    if args.vectors:
        if not args.query_vectors:
            sys.exit("--vectors needs --query-vectors")
        for path in (args.vectors, args.query_vectors):
            if not Path(path).is_file():
                sys.exit(f"{path}: no such file (lookalike embed writes one; make bench-ann-real "
                         "makes both)")
        everything = np.load(args.vectors).astype(np.float32)
        queries = np.load(args.query_vectors).astype(np.float32)[: args.queries]
        if args.head:
            everything, queries = head_vectors(args.head, everything), head_vectors(args.head, queries)
        if everything.ndim != 2 or queries.ndim != 2 or everything.shape[1] != queries.shape[1]:
            sys.exit(f"{args.vectors} {everything.shape} and {args.query_vectors} "
                     f"{queries.shape} are not two tables of the same width")
        n_extra = int(len(everything) * args.extra_fraction / (1 + args.extra_fraction))
        args.n, args.dim = len(everything) - n_extra, everything.shape[1]
        name = Path(args.vectors).stem + ("-" + Path(args.head).name if args.head else "")
    else:
        n_extra = int(args.n * args.extra_fraction)
        everything, queries = make_data(args.n + n_extra, args.queries, args.dim)
        name = f"base-{args.n}+{n_extra}x{args.dim}"
    base, extra = everything[: args.n], everything[args.n :]
    bpath = work / f"{name}.fvecs"
    qpath = work / f"{name}-queries-{len(queries)}.fvecs"
    write_fvecs(bpath, everything)
    write_fvecs(qpath, queries)
    if args.metric == "cosine":
        # Unit vectors: cosine ranks as L2 does (hnswlib and the store normalise alike).
        unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        truth = exact(unit(base), unit(queries), args.k)
        truth_all = exact(unit(everything), unit(queries), args.k)
    else:
        truth = exact(base, queries, args.k)
        truth_all = exact(everything, queries, args.k)
    threads = os.cpu_count() or 1
    store = work / "store"
    if store.exists():
        import shutil
        shutil.rmtree(store)

    # hnswlib first, alone; then Lookalike builds alone; then each round of queries takes turns.
    peer = Hnswlib(base, extra, args.m, args.ef_construction, threads, args.metric)
    cmd = [args.bin, "bench", "ann", "--base", str(bpath),
           "--queries", str(qpath), "-k", str(args.k), "--metric", args.metric, "--m", str(args.m),
           "--ef-construction", str(args.ef_construction), "--extra", str(n_extra),
           "--dir", str(store), "--json", "--turns", "--rounds", str(args.rounds)]
    for ef in args.ef:
        cmd += ["--ef", str(ef)]
    ours = run_lookalike(
        cmd, lambda phase: peer.turn(phase, queries, truth, truth_all, args.k, args.ef))
    theirs = peer.report()

    fresh = ours.get("fresh_open") or {}
    print(f"{args.n} x {args.dim} ({args.metric}) sealed, then +{n_extra} unsealed; {len(queries)} queries, "
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
        "unsealed": ratio_line("unsealed", ours["mutable_runs"], theirs["runs_beside_unsealed"],
                               args.k),
        "sealed": ratio_line("sealed", ours["runs"], theirs["runs"], args.k),
        "extra": ratio_line(f"+{n_extra} unsealed", ours["extra_runs"], theirs["extra_runs"], args.k),
    }
    result = {"command": " ".join(sys.argv), "lookalike": ours, "hnswlib": theirs,
              "qps_ratio_at_recall_0.95": ratios}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
