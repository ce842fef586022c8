# Private PostgreSQL 15 servers on 127.0.0.1 for the benchmark scripts (bench_shards.sh,
# bench_serve_pg.sh): `source` it after setting `set -euo pipefail`. It makes the temporary
# folder $WORK, readable by the postgres user when run as root (initdb refuses root), and gives
#   pg_start DIR PORT   a new cluster in DIR/data, trust auth, fsync off, listening on PORT
#   pg_url PORT         its URL
#   pg_stop_all         stops every cluster under $WORK and removes $WORK (for the EXIT trap)
B=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; AS=(runuser -u postgres --); fi

pg_stop_all() {
    for d in "$WORK"/pg*; do
        [ -d "$d/data" ] && "${AS[@]}" $B/pg_ctl -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}

pg_start() { # dir port
    mkdir -p "$1"; [ ${#AS[@]} -gt 0 ] && chown postgres "$1"
    "${AS[@]}" $B/initdb -D "$1/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    "${AS[@]}" $B/pg_ctl -D "$1/data" -w -l "$1/log" \
        -o "-c listen_addresses=127.0.0.1 -p $2 -k $1 -c fsync=off -c shared_buffers=256MB" start >/dev/null
}

pg_url() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }
