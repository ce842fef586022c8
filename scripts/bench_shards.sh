#!/usr/bin/env bash
# Search throughput and latency of a pgvector collection on 1 table and on 1, 2 and 3 shards
# (postgres_fdw), every server a private PostgreSQL on 127.0.0.1 of this one machine.
#
#   scripts/bench_shards.sh [POINTS] [SECONDS] [CLIENTS]     (defaults: 20000 10 4)
#
# The collection is made by `lookalike index create --store pgvector [--shards ...]` (zero-shot
# tiny backbone: only its dimension matters), filled with random unit vectors through the
# coordinator, and searched by pgbench with the very statement PgVectorStore runs (k = 10, one
# UNION ALL branch per shard), the query vector being a stored one picked at random. All the
# servers share this machine's cores: it measures the overhead of the layout, not a cluster.
set -euo pipefail
POINTS=${1:-20000}
SECONDS_EACH=${2:-10}
CLIENTS=${3:-4}
BIN=${LOOKALIKE_BIN:-target/release/lookalike}
PORTS=()
source "$(dirname "$0")/pg_local.sh"
trap pg_stop_all EXIT
psql_at() { $B/psql -X -q -At -h 127.0.0.1 -U postgres -p "$1" -c "$2"; }

echo "| layout | searches/s | mean ms | p99 ms |"
echo "|---|---:|---:|---:|"
for shards in 0 1 2 3; do
    base=$((56000 + shards * 10))
    pg_start "$WORK/pg$shards-c" $base
    list=()
    for i in $(seq 1 "$shards"); do
        pg_start "$WORK/pg$shards-s$i" $((base + i)); list+=("$(pg_url $((base + i)))")
    done
    data="$WORK/data$shards"
    args=(index create bench --model zero-shot --backbone tiny --data-dir "$data" --store pgvector --url "$(pg_url $base)")
    if [ "$shards" -gt 0 ]; then args+=(--shards "$(IFS=,; echo "${list[*]}")"); fi
    "$BIN" "${args[@]}" >/dev/null
    dim=$(psql_at $base "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'lookalike_bench'::regclass AND attname = 'embedding'")
    psql_at $base "INSERT INTO lookalike_bench (embedding)
        SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $dim) WHERE g > 0)::vector
        FROM generate_series(1, $POINTS) g" >/dev/null
    if [ "$shards" -eq 0 ]; then
        sources=(lookalike_bench)
    else
        sources=(); for i in $(seq 0 $((shards - 1))); do sources+=("lookalike_bench_p$i"); done
    fi
    branch() { echo "SELECT id, embedding <=> (SELECT e FROM q) AS distance, metadata FROM $1 ORDER BY embedding <=> (SELECT e FROM q) LIMIT 10"; }
    with="WITH q AS MATERIALIZED (SELECT embedding AS e FROM lookalike_bench WHERE id = :id)"
    {
        echo "\\set id random(1, $POINTS)"
        if [ "$shards" -eq 0 ]; then
            echo "BEGIN; SET LOCAL hnsw.ef_search = 64; $with $(branch lookalike_bench); COMMIT;"
        else
            q=""; for t in "${sources[@]}"; do q+="${q:+ UNION ALL }($(branch "$t"))"; done
            echo "$with $q;"
        fi
    } > "$WORK/q$shards.sql"
    if [ -n "${EXPLAIN:-}" ]; then
        psql_at $base "EXPLAIN VERBOSE $(tail -1 "$WORK/q$shards.sql" | sed -e 's/:id/1/g' -e 's/^BEGIN; SET LOCAL hnsw.ef_search = 64; //' -e 's/; COMMIT;$//' -e 's/;$//')" >&2
    fi
    out=$($B/pgbench -n -h 127.0.0.1 -U postgres -p $base -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" \
        -f "$WORK/q$shards.sql" -r -l --log-prefix="$WORK/log$shards" postgres 2>&1)
    tps=$(echo "$out" | awk '/^tps/ {print $3; exit}')
    mean=$(echo "$out" | awk '/latency average/ {print $4}')
    p99=$(cat "$WORK"/log$shards.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99)]/1000}')
    label=$([ "$shards" -eq 0 ] && echo "one table" || echo "$shards shard(s)")
    echo "| $label | ${tps%.*} | $mean | $p99 |"
    for d in "$WORK"/pg$shards-*; do "${AS[@]}" $B/pg_ctl -D "$d/data" -m immediate stop >/dev/null; done
done
