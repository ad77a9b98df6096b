#!/usr/bin/env bash
# Raven's main job: installs missing Debian packages, builds, and runs ravend in the
# foreground. Without arguments it uses the state directory /var/lib/raven and, at
# first start, the built-in default configuration (NETCONF on 127.0.0.1:830) and
# prints a one-time admin password. Arguments are passed to ravend (see ravend -h).
# Usage: ./run.sh [ravend options]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"

packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
if [ $# -eq 0 ]; then
    set -- -d /var/lib/raven
fi
exec build/daemon/ravend -f "$@"
