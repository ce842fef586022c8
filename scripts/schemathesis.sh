#!/usr/bin/env bash
# The HTTP API against its own OpenAPI document, fuzzed by Schemathesis:
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]        (default 30; `make schemathesis`)
#
# A zero-shot collection `shop` of 3 products of 4 generated photos each, imported from a
# Merchant Center feed, is served on a free loopback port with an admin key, and Schemathesis
# (.venv-schemathesis) generates requests for every operation of /openapi.json: the document's
# examples, its boundary cases (coverage) and random ones (fuzzing), valid and not. Two passes:
# one with every parameter generated (collection names included, so mostly unknown ones), then
# one on the collection's own routes with `name` = shop and `product` = P1, so that the
# generated bodies reach the search, explain, import and update code. It fails on any 5xx and on
# any answer that breaks the document (status code, content type, headers, body schema).
# Everything lives in a temporary folder; the JUnit reports go to bench-out/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES=${1:-30}
BIN=${LOOKALIKE_BIN:-target/release/lookalike}
SCH=.venv-schemathesis/bin/schemathesis
ADMIN=schemathesis-admin-key
[ -x "$BIN" ] || { echo "no $BIN: run make build first" >&2; exit 1; }
[ -x "$SCH" ] || { echo "no $SCH: run make schemathesis" >&2; exit 1; }
WORK=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# 12 images in 3 products of 4, and the feed that brings them.
.venv/bin/python - "$WORK/images" <<'PY'
import sys, pathlib
from PIL import Image, ImageDraw
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True)
for i in range(12):
    img = Image.new("RGB", (64, 64), (20 * i % 255, 90, 200 - 10 * i))
    d = ImageDraw.Draw(img)
    d.ellipse((8 + i, 8, 40 + i, 40 + i), fill=(250, 240 - 15 * i, 30))
    img.save(out / f"p{i // 4}-{i % 4}.png")
with open(out / "feed.csv", "w") as f:
    f.write("id,image_link,additional_image_link,price,brand,availability,in_stock\n")
    for p in range(3):
        more = ",".join(f"p{p}-{v}.png" for v in (1, 2, 3))
        f.write(f'P{p},p{p}-0.png,"{more}",{10 + 20 * p}.99 EUR,acme,in_stock,{str(p != 1).lower()}\n')
PY
"$BIN" index create shop --model zero-shot --backbone tiny --data-dir "$WORK/data" >/dev/null
"$BIN" index import shop "$WORK/images/feed.csv" --images-root "$WORK/images" --data-dir "$WORK/data" -q

port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve --data-dir "$WORK/data" --bind "127.0.0.1:$port" --admin-key "$ADMIN" \
    >"$WORK/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

mkdir -p bench-out/schemathesis
cat >"$WORK/known.toml" <<'TOML'
[parameters]
"path.name" = "shop"
"path.product" = "P1"
TOML
run() { # report-name [extra options]
    local report=$1; shift
    "$SCH" "$@" run "http://127.0.0.1:$port/openapi.json" \
        --header "X-API-Key: $ADMIN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$MAX_EXAMPLES" --seed 1 --workers 1 --request-timeout 90 \
        --report junit --report-junit-path "bench-out/schemathesis/$report.xml" "${EXTRA[@]}"
}
status=0
echo "=== pass 1: every operation, every parameter generated"
EXTRA=(); run all || status=$?
echo "=== pass 2: the collection's routes, on the collection shop and its product P1"
EXTRA=(--include-path-regex '^/api/collections/\{name\}')
run shop --config-file "$WORK/known.toml" || status=$?
if [ "$status" != 0 ]; then
    echo "--- the server's log (last 40 lines)" >&2
    tail -n 40 "$WORK/serve.log" >&2
fi
exit "$status"
