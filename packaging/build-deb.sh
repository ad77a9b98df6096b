#!/usr/bin/env bash
# Builds Raven's Debian package from this tree: copies the tree's files (those git
# tracks or would, build directories left out) to a scratch directory with
# packaging/debian as debian/, runs `dpkg-buildpackage -b -us -uc` there (no tests:
# DEB_BUILD_OPTIONS=nocheck; parallel=2 unless DEB_BUILD_OPTIONS says otherwise) and
# puts the .deb files in OUT_DIR (default: the current directory).
# Needs the [test] section's package tools (debhelper, dpkg-dev) and the build
# dependencies (the list's head): packaging/install-deps.sh --test.
# Usage: packaging/build-deb.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
scratch=$(mktemp -d /tmp/raven-deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
src="$scratch/raven"
mkdir "$src"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$src"
else
    tar -C "$root" --exclude='./build*' --exclude='./tests/e2e/node_modules' -cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -r "$src/packaging/debian" "$src/debian"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck parallel=2}"
(cd "$src" && dpkg-buildpackage -b -us -uc)
cp "$scratch"/*.deb "$scratch"/*.buildinfo "$scratch"/*.changes "$out"/
ls "$out"/raven_*.deb
