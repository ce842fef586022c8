#!/usr/bin/env bash
# Installs Debian's Chromium for the web UI's browser tests (tests/browser), as
# ../shared/guides/setup.md describes: playwright-core drives /usr/bin/chromium, and
# `npx playwright install` is never run (it would download a browser from the internet).
# Idempotent: does nothing when /usr/bin/chromium is there.
# Needs root (apt-get); everything comes from the Debian mirror this machine already uses.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: update only when needed.
if ! $SUDO apt-get install -y -qq chromium >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium >/dev/null
fi
test -x "$CHROMIUM"
echo "$("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
