#!/usr/bin/env bash
# Installs every Debian package listed in packaging/debian-packages.txt that is not yet
# installed. Safe to run repeatedly; does nothing when all are present.
# Usage: install-deps.sh [--bench]   (--bench adds the list's [bench] section)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sections=" "
for a in "$@"; do
    case "$a" in
        --bench) sections+="bench " ;;
        *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
    esac
done
# the packages of the unnamed head of the list and of each section asked for
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/debian-packages.txt" | grep -v '^$' |
    awk -v want="$sections" '/^\[.*\]$/ { sec = substr($0, 2, length($0) - 2); next }
                             sec == "" || index(want, " " sec " ") { print }')
missing=()
for p in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages and not root; run as root or install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The dashboard's browser test drives Debian's Chromium with playwright-core from
# npm (tests/e2e/package-lock.json); it is installed here, never at test time, and
# never downloads a browser of its own.
e2e="$here/../tests/e2e"
if [ -f "$e2e/package-lock.json" ] && [ ! -d "$e2e/node_modules/playwright-core" ]; then
    if ! command -v npm >/dev/null; then
        echo "install-deps: npm is needed for tests/e2e (Node.js 20 or later)" >&2
        exit 1
    fi
    echo "install-deps: npm ci in tests/e2e"
    (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
fi
