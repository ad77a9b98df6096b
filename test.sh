#!/usr/bin/env bash
# Runs the whole Raven test suite on this machine: installs missing Debian packages,
# builds with AddressSanitizer/UndefinedBehaviorSanitizer (and -Werror under CI),
# runs the unit, YANG, integration tests and each fuzzer briefly.
# Usage: ./test.sh            (as root on Debian 12)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"

packaging/install-deps.sh

jobs=$(nproc)
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON

# Main build: gcc with sanitizers; the integration tests run this ravend.
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DRAVEN_SANITIZE=ON -DRAVEN_WERROR="$werror" >/dev/null
cmake --build build-test -j "$jobs"

# Fuzz build: clang + libFuzzer.
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRAVEN_FUZZ=ON -DRAVEN_WERROR="$werror" >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_all

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd build-test && ctest --output-on-failure -j "$jobs") 2>&1 | tee -a "$log" || status=1
(cd build-fuzz && ctest --output-on-failure -L fuzz) 2>&1 | tee -a "$log" || status=1

# one closing line for the whole suite (ctest prints one per build)
total=$({ grep -Eo 'tests failed out of [0-9]+' "$log" || true; } | awk '{s += $5} END {print s + 0}')
failed=$({ grep -Eo '[0-9]+ tests failed out of' "$log" || true; } | awk '{s += $1} END {print s + 0}')
[ "$total" -gt 0 ] || status=1
[ "$failed" -eq 0 ] || status=1
echo "raven: $((total - failed)) passed, $failed failed"
exit $status
