#!/usr/bin/env python3
"""Benchmark: `lookalike serve` under load, 16 concurrent clients on a 10,000-image collection.

    .venv/bin/python scripts/bench_server.py [--model index/demo/model | --model zero-shot]
        [--clients 16] [--searches 1000] [--explained 100] [--k 10] [--explain-k 10]
        [--method gradcam] [--no-mixed] [--json docs/benchmarks/server.json]

What it does, in order:
- Writes all 10,000 Fashion-MNIST test images to bench-out/server/images/CLASS/ (once), and 200
  training-split images (20 per class) to bench-out/server/outside/ as queries that are not in
  the collection.
- Builds the collection `fashion` of the 10,000 images in bench-out/server/data with the CLI
  (`index create`, `index add`), bound to the given model (default: the demo's trained model
  when present, else zero-shot). The built collection is kept and reused while it is complete
  and bound to the same model files.
- Starts `lookalike serve --data-dir bench-out/server/data --bind 127.0.0.1:0` and reads the
  address from the line it prints; its stderr goes to bench-out/server/server.stderr.log.
- Warm-up (not counted): one search per client, then 2 explained searches.
- Phase 1: CLIENTS threads, each with its own keep-alive connection, send SEARCHES searches
  (multipart upload of a PNG, k=K), alternating a query from the collection and one from outside.
- Phase 2: the same threads send EXPLAINED explained searches (multipart, k=EXPLAIN_K,
  method=METHOD: every hit explained), same query mix.
- Phase 3 (mixed; --no-mixed skips it): the same requests again, interleaved, one explained
  search every 11 requests, to see what explanations do to the searches beside them.
- Every request's latency (send to last byte of the body) and status are kept. Any non-2xx
  answer, connection error or malformed answer is a failure: each is printed (route, status,
  body) with the end of the server's stderr, and the script exits 1 without touching --json.
- Stops the server (SIGINT, then SIGKILL after 30 s), prints the table and writes --json.

The binary is $LOOKALIKE_BIN (default target/release/lookalike). Only the standard library (and
Pillow/numpy, through demo_catalogue.py, for writing the images) is used.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import pathlib
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import demo_catalogue  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "fashion"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def lookalike():
    return os.environ.get("LOOKALIKE_BIN", str(ROOT / "target" / "release" / "lookalike"))


def images(folder):
    return sorted(p for p in folder.rglob("*.png"))


def write_once(folder, split, per_class, expected):
    stamp = folder.with_name(folder.name + ".done")
    if stamp.exists() and len(images(folder)) == expected:
        return
    n = demo_catalogue.write_images(split, per_class, folder)
    if n != expected:
        sys.exit(f"wrote {n} {split} images to {folder}, expected {expected}")
    stamp.write_text(f"{n}\n")
    log(f"wrote {n} Fashion-MNIST {split} images to {folder}")


def model_identity(model):
    """What a complete cached collection must record: (model path or None, fingerprint or None)."""
    if model == "zero-shot":
        return None, None  # the zero-shot fingerprint depends on the weights file; checked by path
    path = pathlib.Path(model).resolve()
    return str(path), demo_catalogue.fingerprint(path)


def build_collection(out, model, expected):
    """Creates and fills the collection unless a complete one for the same model is cached."""
    data = out / "data"
    stamp = out / "collection.done"
    want_path, want_fp = model_identity(model)
    config = data / NAME / "collection.json"
    if config.exists():
        rec = json.loads(config.read_text())["model"]
        same = rec.get("path") == want_path and (want_fp is None or rec.get("fingerprint") == want_fp)
        if same and stamp.exists() and json.loads(stamp.read_text()).get("images") == expected:
            log(f"reusing the collection in {data / NAME} ({expected} images, model {model})")
            return json.loads(stamp.read_text())
        if not same:
            log(f"the cached collection in {data / NAME} is bound to another model: building it again")
            shutil.rmtree(data / NAME)
    stamp.unlink(missing_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    bin_ = lookalike()
    t0 = time.perf_counter()
    if not config.exists():
        subprocess.run([bin_, "index", "create", NAME, "--model", model, "--data-dir", str(data)], check=True)
    subprocess.run([bin_, "index", "add", NAME, str(out / "images"), "--data-dir", str(data), "-q"], check=True)
    seconds = time.perf_counter() - t0
    info = subprocess.run(
        [bin_, "index", "info", NAME, "--data-dir", str(data)], check=True, capture_output=True, text=True
    ).stdout
    m = re.search(r"vectors\s+(\d+)\s+×\s+(\d+)", info)
    if not m or int(m.group(1)) != expected:
        sys.exit(f"the collection does not hold {expected} images:\n{info}")
    done = {"images": expected, "dimension": int(m.group(2)), "model": model, "build_s": round(seconds, 1)}
    stamp.write_text(json.dumps(done) + "\n")
    log(f"built the collection in {seconds:.1f} s")
    return done


class Server:
    def __init__(self, data, log_path):
        self.stderr_path = log_path
        self.stderr = open(log_path, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [lookalike(), "serve", "--data-dir", str(data), "--bind", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.line = None
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                if self.line is None and "http://" in line:
                    self.line = line.strip()
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(180) or self.line is None:
            self.stop()
            sys.exit(f"the server printed no address (exit status {self.proc.returncode}):\n{self.stderr_tail()}")
        self.startup_s = time.perf_counter() - t0
        m = re.search(r"http://([^/:\s]+):(\d+)", self.line)
        self.host, self.port = m.group(1), int(m.group(2))
        log(f"server: {self.line} ({self.startup_s:.1f} s after start)")

    def peak_rss_mib(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            return None

    def stderr_tail(self, n=40):
        self.stderr.flush()
        lines = pathlib.Path(self.stderr_path).read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log("the server did not stop within 30 s of SIGINT: killing it")
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode


def multipart(fields, image):
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="query.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    """One keep-alive connection, as one browser tab would hold."""

    def __init__(self, host, port, timeout):
        self.args = (host, port, timeout)
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            host, port, timeout = self.args
            self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.getheader("connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return resp.status, data
        except Exception:
            self.conn.close()
            self.conn = None
            raise


def plan(kind, queries, fields, check):
    """The i-th request of a phase of one kind: (kind, query name, image bytes, fields, check)."""
    return lambda i: (kind, *queries[i % len(queries)], fields, check)


def run_phase(n, clients, address, request, timeout):
    """n requests, request(i) each, from `clients` threads; returns (records, wall seconds)."""
    route = f"/api/collections/{NAME}/search"
    counter = iter(range(n))
    lock = threading.Lock()
    records = []

    def worker():
        client = Client(*address, timeout)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            kind, query_name, image, fields, check = request(i)
            body, ctype = multipart(fields, image)
            t0 = time.perf_counter()
            status, error, data = None, None, b""
            try:
                status, data = client.request("POST", route, body, {"Content-Type": ctype})
            except Exception as e:  # a refused, reset or timed-out connection is a failure too
                error = f"{type(e).__name__}: {e}"
            ms = (time.perf_counter() - t0) * 1000
            if error is None and 200 <= status < 300:
                error = check(data)
            rec = {"kind": kind, "i": i, "query": query_name, "ms": ms, "status": status, "error": error,
                   "bytes": len(data)}
            if error is not None:
                rec["body"] = data[:2000].decode("utf-8", "replace")
            with lock:
                records.append(rec)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    return records, time.perf_counter() - t0


def check_hits(k, explained):
    def check(data):
        try:
            answer = json.loads(data)
        except ValueError as e:
            return f"not JSON: {e}"
        hits = answer.get("hits")
        if not isinstance(hits, list) or len(hits) != k:
            return f"expected {k} hits, got {None if hits is None else len(hits)}"
        if explained and not all(isinstance(h.get("explanation"), dict) for h in hits):
            return "a hit has no explanation"
        return None

    return check


def percentile(values, q):
    """Nearest rank: the smallest value with at least q % of the values at or below it."""
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 100))
    return s[int(rank) - 1]


def summary(records, wall):
    ok = [r["ms"] for r in records if r["error"] is None]
    return {
        "requests": len(records),
        "failures": sum(r["error"] is not None for r in records),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(records) / wall, 2),
        "p50_ms": round(percentile(ok, 50), 1) if ok else None,
        "p90_ms": round(percentile(ok, 90), 1) if ok else None,
        "p99_ms": round(percentile(ok, 99), 1) if ok else None,
        "max_ms": round(max(ok), 1) if ok else None,
        "mean_ms": round(sum(ok) / len(ok), 1) if ok else None,
        "mean_response_kib": round(sum(r["bytes"] for r in records) / len(records) / 1024, 1) if records else None,
    }


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "os": platform.platform()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "bench-out" / "server"), help="work folder (images, collection, logs)")
    default_model = ROOT / "index" / "demo" / "model"
    p.add_argument(
        "--model",
        default=str(default_model) if (default_model / "model.json").exists() else "zero-shot",
        help="a trained model folder or zero-shot (default: index/demo/model when present)",
    )
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--searches", type=int, default=1000)
    p.add_argument("--explained", type=int, default=100)
    p.add_argument("--k", type=int, default=10, help="hits per search")
    p.add_argument("--explain-k", type=int, default=10, help="hits per explained search, each explained")
    p.add_argument("--method", default="gradcam")
    p.add_argument("--timeout", type=float, default=300, help="client socket timeout, seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-mixed", dest="mixed", action="store_false",
                   help="skip phase 3 (the same requests again, interleaved)")
    p.add_argument("--json", default=str(ROOT / "docs" / "benchmarks" / "server.json"))
    args = p.parse_args()
    if args.model != "zero-shot":
        args.model = str(pathlib.Path(args.model).resolve())

    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_once(out / "images", "test", 0, 10_000)
    write_once(out / "outside", "train", 20, 200)
    collection = build_collection(out, args.model, 10_000)

    rng = random.Random(args.seed)
    inside = rng.sample(images(out / "images"), 500)
    outside = images(out / "outside")
    queries = []
    for a, b in zip(inside, outside * 3):
        queries += [(str(a.relative_to(out)), a.read_bytes()), (str(b.relative_to(out)), b.read_bytes())]

    version = subprocess.run([lookalike(), "--version"], capture_output=True, text=True).stdout.strip()
    load_before = os.getloadavg()
    server = Server(out / "data", out / "server.stderr.log")
    failures = []
    result = None
    s_rec, e_rec, m_rec = [], [], []
    try:
        address = (server.host, server.port)
        c = Client(*address, args.timeout)
        status, data = c.request("GET", f"/api/collections/{NAME}")
        if status != 200 or json.loads(data).get("images") != 10_000:
            sys.exit(f"GET /api/collections/{NAME}: {status} {data[:500]!r}")

        search = {"k": str(args.k)}
        explain = {"k": str(args.explain_k), "method": args.method}
        check_s, check_e = check_hits(args.k, False), check_hits(args.explain_k, True)
        log(f"warm-up: {args.clients} searches and 2 explained searches (not counted)")
        w1, ws1 = run_phase(args.clients, args.clients, address, plan("warm-up search", queries[::-1], search, check_s), args.timeout)
        w2, ws2 = run_phase(2, 2, address, plan("warm-up explained", queries[::-1], explain, check_e), args.timeout)
        failures += [r for r in w1 + w2 if r["error"] is not None]

        log(f"phase 1: {args.searches} searches (k={args.k}) from {args.clients} clients")
        s_plan = plan("search", queries, search, check_s)
        s_rec, s_wall = run_phase(args.searches, args.clients, address, s_plan, args.timeout)
        log(f"phase 2: {args.explained} explained searches (k={args.explain_k}, {args.method}) from {args.clients} clients")
        e_plan = plan("explained", queries[1::7], explain, check_e)
        e_rec, e_wall = run_phase(args.explained, args.clients, address, e_plan, args.timeout)
        m_rec, m_wall = [], None
        if args.mixed:
            # the same requests again, interleaved: explained ones spread evenly among the searches
            total = args.searches + args.explained
            every = total / max(args.explained, 1)
            explained_at = {int(j * every) for j in range(args.explained)}
            order, si, ei = [], 0, 0
            for i in range(total):
                if i in explained_at and ei < args.explained:
                    order.append(("mixed: explained", ei, e_plan))
                    ei += 1
                else:
                    order.append(("mixed: search", si, s_plan))
                    si += 1

            def mixed(i):
                kind, j, p = order[i]
                return (kind, *p(j)[1:])

            log(f"phase 3 (mixed): the same {args.searches} searches and {args.explained} explained searches, "
                f"interleaved, from {args.clients} clients")
            m_rec, m_wall = run_phase(total, args.clients, address, mixed, args.timeout)
        failures += [r for r in s_rec + e_rec + m_rec if r["error"] is not None]
        # a fresh connection: the server closes idle keep-alive ones
        status, metrics = Client(*address, args.timeout).request("GET", "/metrics")
        (out / "metrics.txt").write_bytes(metrics)
        rss = server.peak_rss_mib()
        result = {
            "command": "make bench-server  (.venv/bin/python scripts/bench_server.py)",
            "binary": version,
            "binary_path": lookalike(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": {**machine(), "load_average_1m_before": round(load_before[0], 2),
                        "load_average_1m_after": round(os.getloadavg()[0], 2)},
            "collection": {"name": NAME, "images": 10_000, "source": "Fashion-MNIST test split (all)", **collection},
            "queries": "alternately one of 500 random collection images and one of 200 Fashion-MNIST train images "
            "(not in the collection), uploaded as 28x28 PNG (multipart/form-data)",
            "clients": args.clients,
            "warm_up": {"search": summary(w1, ws1), "explained": summary(w2, ws2)},
            "search": {"k": args.k, **summary(s_rec, s_wall)},
            "explained": {"k": args.explain_k, "method": args.method, "every_hit_explained": True, **summary(e_rec, e_wall)},
            "mixed": None if not args.mixed else {
                "requests": len(m_rec),
                "wall_s": round(m_wall, 2),
                "throughput_rps": round(len(m_rec) / m_wall, 2),
                "search": summary([r for r in m_rec if r["kind"] == "mixed: search"], m_wall),
                "explained": summary([r for r in m_rec if r["kind"] == "mixed: explained"], m_wall),
            },
            "server": {"command": "lookalike serve --data-dir bench-out/server/data --bind 127.0.0.1:0",
                       "settings": "defaults: 2 workers, 2 search slots, 1 heavy slot, 60 s timeout",
                       "startup_s": round(server.startup_s, 2), "peak_rss_mib": rss},
        }
    finally:
        code = server.stop()
    (out / "requests.json").write_text(json.dumps([{k: v for k, v in r.items()} for r in (s_rec + e_rec + m_rec)], indent=0))
    if code not in (0, -signal.SIGINT, 130):
        failures.append({"kind": "server", "error": f"the server exited with status {code} on SIGINT"})
    if result is not None:
        (out / "last-run.json").write_text(json.dumps(result, indent=2) + "\n")
    if failures:
        log(f"\n{len(failures)} FAILED REQUESTS:")
        for r in failures[:20]:
            log(f"  {r.get('kind')} #{r.get('i')} POST /api/collections/{NAME}/search query={r.get('query')} "
                f"status={r.get('status')} {r.get('ms', 0):.0f} ms: {r['error']}\n    body: {r.get('body', '')[:500]}")
        log(f"server stderr ({server.stderr_path}), last lines:\n{server.stderr_tail()}")
        sys.exit(1)

    print(f"\n{result['binary']}, model {args.model}, {args.clients} clients, "
          f"{os.cpu_count()} cores ({result['machine']['cpu']})")
    print(f"{'kind':<28} {'requests':>8} {'failures':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for label, s in ((f"search (k={args.k})", result["search"]),
                     (f"explained (k={args.explain_k}, {args.method})", result["explained"])):
        print(f"{label:<28} {s['requests']:>8} {s['failures']:>8} {s['throughput_rps']:>8.2f} "
              f"{s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f}")
    if result["mixed"]:
        m = result["mixed"]
        print(f"mixed phase: {m['requests']} requests in {m['wall_s']:.1f} s ({m['throughput_rps']:.2f} req/s)")
        for label, s in (("  of which searches", m["search"]), ("  of which explained", m["explained"])):
            print(f"{label:<28} {s['requests']:>8} {s['failures']:>8} {'':>8} {s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f}")
    print(f"load average (1 min) before/after: {load_before[0]:.2f} / {result['machine']['load_average_1m_after']:.2f}")
    print(f"server: up in {server.startup_s:.1f} s, peak RSS {rss} MiB; collection built in "
          f"{collection.get('build_s')} s (cached between runs)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
