#!/usr/bin/env bash
# Installs PostgreSQL 15 from Debian and builds pgvector 0.8.0 from Debian trixie's source
# package (bookworm has no pgvector package), as ../shared/guides/setup.md describes.
# Idempotent: does nothing when the server binaries and the vector extension are there.
# Needs root (apt-get); everything comes from the Debian mirror this machine already uses.
set -euo pipefail

PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
PG_CONFIG=$PG_BIN/pg_config
EXT_DIR=/usr/share/postgresql/$PG_VERSION/extension

# openssl makes the TLS tests' certificates; postgres_fdw (the shards) ships with postgresql-15.
if [ -x "$PG_BIN/initdb" ] && [ -f "$EXT_DIR/vector.control" ] && [ -f "$EXT_DIR/postgres_fdw.control" ] \
    && command -v openssl >/dev/null; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql-$PG_VERSION postgresql-server-dev-$PG_VERSION openssl dpkg-dev make gcc >/dev/null
if [ -f "$EXT_DIR/vector.control" ]; then exit 0; fi

# Debian's own cluster is not used: tests start private servers on loopback.
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true

MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '/^URIs:/ {print $2} /^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) print $i}' \
    | grep -v security | sed -n 1p || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/etc/sources.list.d"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${MIRROR%/} trixie main" \
    > "$WORK/etc/sources.list"
APT=(apt-get -qq -o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$WORK/etc/sources.list"
     -o "Dir::Etc::SourceParts=$WORK/etc/sources.list.d"
     -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache")
"${APT[@]}" update
(cd "$WORK" && "${APT[@]}" source --download-only pgvector >/dev/null \
    && dpkg-source -x --no-check pgvector_*.dsc src >/dev/null)
make -s -C "$WORK/src" PG_CONFIG=$PG_CONFIG >/dev/null
$SUDO make -s -C "$WORK/src" install PG_CONFIG=$PG_CONFIG >/dev/null
test -f "$EXT_DIR/vector.control"
echo "PostgreSQL $PG_VERSION with pgvector $(grep default_version $EXT_DIR/vector.control | cut -d"'" -f2) installed"
