#!/usr/bin/env bash
# Raven's main job: installs missing Debian packages, builds, and runs ravend in the
# foreground. Without arguments it uses the state directory /var/lib/raven and, at
# first start, the built-in default configuration (NETCONF on 127.0.0.1:830) and
# prints a one-time admin password. Arguments are passed to ravend (see ravend -h).
# With --demo it starts the demo lab instead (demo/README.md): ravend in a network
# namespace with three strongSwan road warriors and the dashboard on
# https://127.0.0.1:8443/ui/; Ctrl-C tears it down.
# Usage: ./run.sh [ravend options]
#        ./run.sh --demo [--port N] [--password PW] [--duration S]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"

# the list's head builds and runs ravend; the demo lab adds strongSwan and its tools
if [ "${1:-}" = "--demo" ]; then
    packaging/install-deps.sh --demo
else
    packaging/install-deps.sh
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
if [ "${1:-}" = "--demo" ]; then
    shift
    exec /usr/bin/python3 demo/raven_demo.py --ravend build/daemon/ravend "$@"
fi
if [ $# -eq 0 ]; then
    set -- -d /var/lib/raven
fi
exec build/daemon/ravend -f "$@"
