#!/usr/bin/env bash
# Installs the Debian packages of packaging/debian-packages.txt that are not yet
# installed: the list's head (building and running ravend: ./run.sh), and the sections
# asked for. Safe to run repeatedly; does nothing when all are present.
# Usage: install-deps.sh [--demo] [--test] [--bench]
#   --demo   the demo lab's packages (./run.sh --demo)
#   --test   the test suite's peers and tools, and tests/e2e's npm modules (./test.sh,
#            which asks for --demo too: the tests include the demo lab)
#   --bench  the benchmarks' own tools, with the demo and test sections' packages
#            (the peers they drive) but not the npm modules (the benchmark scripts
#            ask for it)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sections=" "
npm=no
for a in "$@"; do
    case "$a" in
        --demo) sections+="demo " ;;
        --test) sections+="test "; npm=yes ;;
        --bench) sections+="demo test bench " ;;
        *) echo "usage: $0 [--demo] [--test] [--bench]" >&2; exit 2 ;;
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
# npm (tests/e2e/package-lock.json); it is installed here with the test section,
# never at test time, and never downloads a browser of its own.
[ "$npm" = yes ] || exit 0
e2e="$here/../tests/e2e"
if [ -f "$e2e/package-lock.json" ] && [ ! -d "$e2e/node_modules/playwright-core" ]; then
    if ! command -v npm >/dev/null; then
        echo "install-deps: npm is needed for tests/e2e (Node.js 20 or later)" >&2
        exit 1
    fi
    echo "install-deps: npm ci in tests/e2e"
    (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
fi
