#!/usr/bin/env bash
# Search throughput and latency through `lookalike serve` over a pgvector collection: one table
# and 1, 2, 3 shards (postgres_fdw), each with 1 and 2 serve processes behind the clients'
# round robin. Every PostgreSQL and every server is a process on this one machine, over
# loopback: it measures what the layout costs here, not what n machines give.
#
#   scripts/bench_serve_pg.sh [IMAGES] [SECONDS] [CLIENTS]     (defaults: 2000 15 8)
#   LAYOUTS="0 3" scripts/bench_serve_pg.sh ...                  (0: one table, n: n shards)
#
# The collection (zero-shot tiny backbone) holds IMAGES generated 32 x 32 PNGs added with
# `index add`; each search is a multipart upload of one of them (k = 10), so it includes the
# query's embedding. Each server: `serve --pg URL` on an empty folder, --search-slots 2.
set -euo pipefail
IMAGES=${1:-2000}
SECONDS_EACH=${2:-15}
CLIENTS=${3:-8}
BIN=${LOOKALIKE_BIN:-target/release/lookalike}
PY=${PYTHON:-.venv/bin/python}
SERVERS=()
source "$(dirname "$0")/pg_local.sh"
cleanup() {
    for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done
    pg_stop_all
}
trap cleanup EXIT

"$PY" - "$WORK/images" "$IMAGES" <<'PYEOF'
import random, sys, pathlib
from PIL import Image, ImageDraw
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(0)
for i in range(n):
    d = out / f"c{i % 10}"; d.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (32, 32), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x, y = rng.randrange(28), rng.randrange(28)
        draw.rectangle([x, y, x + rng.randrange(4, 16), y + rng.randrange(4, 16)],
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    img.save(d / f"{i:05d}.png")
PYEOF

cat > "$WORK/load.py" <<'PYEOF'
import http.client, random, sys, threading, time, pathlib, json
addrs, seconds, clients, images = sys.argv[1].split(","), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
files = [p.read_bytes() for p in sorted(pathlib.Path(images).rglob("*.png"))]
lat, errors, lock = [], [0], threading.Lock()
def body(png):
    b = "bench-boundary"
    return b, (f"--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n"
               f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{b}\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n10\r\n--{b}--\r\n".encode()
def run(c):
    rng = random.Random(c)
    conns = [http.client.HTTPConnection(*a.split(":")) for a in addrs]
    n, end = c, time.time() + seconds
    while time.time() < end:
        at = n % len(conns); conn = conns[at]; n += 1
        b, data = body(rng.choice(files))
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/collections/bench/search", data, {"Content-Type": f"multipart/form-data; boundary={b}"})
            r = conn.getresponse(); text = r.read(); ok = r.status == 200
            if not ok and errors[0] == 0:
                print(f"first error: {r.status} {text[:300]!r}", file=sys.stderr)
        except Exception as e:
            ok = False
            if errors[0] == 0:
                print(f"first error: {e!r}", file=sys.stderr)
            conns[at] = http.client.HTTPConnection(*addrs[at].split(":"))  # a fresh connection
        dt = time.perf_counter() - t
        with lock:
            (lat.append(dt) if ok else errors.__setitem__(0, errors[0] + 1))
threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
t0 = time.time(); [t.start() for t in threads]; [t.join() for t in threads]; wall = time.time() - t0
lat.sort()
print(json.dumps({"searches_per_s": len(lat) / wall, "mean_ms": 1000 * sum(lat) / max(len(lat), 1),
                  "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else None, "errors": errors[0], "n": len(lat)}))
PYEOF

echo "| layout | serve processes | searches/s | mean ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for shards in ${LAYOUTS:-0 1 2 3}; do
    base=$((57000 + shards * 10))
    pg_start "$WORK/pg$shards-c" $base
    list=()
    for i in $(seq 1 "$shards"); do
        pg_start "$WORK/pg$shards-s$i" $((base + i)); list+=("$(pg_url $((base + i)))")
    done
    data="$WORK/made$shards"
    args=(index create bench --model zero-shot --backbone tiny --data-dir "$data" --store pgvector --url "$(pg_url $base)")
    if [ "$shards" -gt 0 ]; then args+=(--shards "$(IFS=,; echo "${list[*]}")"); fi
    "$BIN" "${args[@]}" >/dev/null
    "$BIN" index add bench "$WORK/images" --data-dir "$data" -q >/dev/null
    for procs in 1 2; do
        addrs=()
        for s in $(seq 1 "$procs"); do
            dir="$WORK/serve$shards-$s"; mkdir -p "$dir"
            "$BIN" serve --pg "$(pg_url $base)" --data-dir "$dir" --bind 127.0.0.1:0 --instance "s$s" \
                > "$dir/out" 2> "$dir/err" &
            SERVERS+=($!)
            until grep -qs "http://" "$dir/out"; do sleep 0.2; done
            addrs+=("$(grep -o '127.0.0.1:[0-9]*' "$dir/out" | head -1)")
        done
        # Warm-up, not counted.
        "$PY" "$WORK/load.py" "$(IFS=,; echo "${addrs[*]}")" 2 "$CLIENTS" "$WORK/images" >/dev/null
        r=$("$PY" "$WORK/load.py" "$(IFS=,; echo "${addrs[*]}")" "$SECONDS_EACH" "$CLIENTS" "$WORK/images")
        label=$([ "$shards" -eq 0 ] && echo "one table" || echo "$shards shard(s)")
        echo "$r" | "$PY" -c "import json,sys; r=json.load(sys.stdin); print(f\"| $label | $procs | {r['searches_per_s']:.0f} | {r['mean_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |\")"
        for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
        SERVERS=()
    done
    for d in "$WORK"/pg$shards-*; do "${AS[@]}" $B/pg_ctl -D "$d/data" -m immediate stop >/dev/null; done
done
