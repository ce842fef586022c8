#!/usr/bin/env bash
# The HTTP API against its own OpenAPI document, fuzzed by Schemathesis:
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]        (default 30; `make schemathesis`)
#
# A zero-shot collection `shop` of 12 generated images, with product ids and prices, is served on
# a free loopback port with an admin key, and Schemathesis (.venv-schemathesis) generates requests
# for every operation of /openapi.json: the document's examples, its boundary cases (coverage)
# and random ones (fuzzing), valid and not. It fails on any 5xx and on any answer that breaks the
# document (status code, content type, headers, body schema). Everything lives in a temporary
# folder; the report (JUnit) is written to bench-out/schemathesis/.
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

# 12 images in 3 products of 4, as a shop's feed would bring them.
.venv/bin/python - "$WORK/images" <<'PY'
import sys, pathlib
from PIL import Image, ImageDraw
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True)
for i in range(12):
    img = Image.new("RGB", (64, 64), (20 * i % 255, 90, 200 - 10 * i))
    d = ImageDraw.Draw(img)
    d.ellipse((8 + i, 8, 40 + i, 40 + i), fill=(250, 240 - 15 * i, 30))
    img.save(out / f"p{i // 4}-{i % 4}.png")
PY
"$BIN" index create shop --model zero-shot --backbone tiny --data-dir "$WORK/data" >/dev/null
"$BIN" index add shop "$WORK/images" --data-dir "$WORK/data" -q

port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve --data-dir "$WORK/data" --bind "127.0.0.1:$port" --admin-key "$ADMIN" \
    >"$WORK/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

mkdir -p bench-out/schemathesis
status=0
"$SCH" run "http://127.0.0.1:$port/openapi.json" \
    --header "X-API-Key: $ADMIN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" --seed 1 --workers 1 --request-timeout 60 \
    --report junit --report-junit-path bench-out/schemathesis/junit.xml || status=$?
if [ "$status" != 0 ]; then
    echo "--- the server's log (last 40 lines)" >&2
    tail -n 40 "$WORK/serve.log" >&2
fi
exit "$status"
