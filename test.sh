#!/usr/bin/env bash
# Runs the whole Raven test suite on this machine: installs missing Debian packages,
# builds with AddressSanitizer/UndefinedBehaviorSanitizer (and -Werror under CI),
# runs the unit, YANG, integration tests and each fuzzer briefly.
# Usage: ./test.sh            (as root on Debian 12)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"

# the build's and the main job's packages, the demo lab's (the tests include it), the
# test peers and tools
packaging/install-deps.sh --demo --test

jobs=$(nproc)
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON

# Main build: gcc with sanitizers; the integration tests run this ravend.
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DRAVEN_SANITIZE=ON -DRAVEN_TESTS=ON -DRAVEN_WERROR="$werror" >/dev/null
cmake --build build-test -j "$jobs"

# The main job's build (./run.sh), without sanitizers: a second ravend build of
# the same session arena version, which test_restart.py takes sessions over with
# (an upgrade).
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAVEN_TESTS=ON -DRAVEN_WERROR="$werror" >/dev/null
cmake --build build -j "$jobs" --target ravend raven-netconfd raven-restd
export RAVEND_ALT="$root/build/daemon/ravend"

# Fuzz build: clang + libFuzzer.
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRAVEN_FUZZ=ON -DRAVEN_TESTS=ON -DRAVEN_WERROR="$werror" >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_all

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
(cd build-test && ctest --output-on-failure -j "$jobs") || status=1
(cd build-fuzz && ctest --output-on-failure -L fuzz) || status=1

# One closing line for the whole suite, counting test cases (pytest, cmocka and
# yang cases inside each ctest test; a fuzzer counts as one).
counts=$(/usr/bin/python3 - build-test/Testing/Temporary/LastTest.log build-fuzz/Testing/Temporary/LastTest.log <<'PY'
import re, sys
passed = failed = 0
for path in sys.argv[1:]:
    try:
        text = open(path, errors="replace").read()
    except OSError:
        continue
    # ctest's log holds each test's output between "Output:" and "Test Passed/Failed"
    for block in re.split(r"\n[0-9]+/[0-9]+ Testing: ", text)[1:]:
        name = block.split("\n", 1)[0].strip()
        ok = "Test Passed." in block
        p = f = None
        m = re.findall(r"(?:(\d+) failed, )?(\d+) passed(?:, \d+ \w+)* in [0-9.]+s", block)   # pytest
        if m:
            f, p = (int(m[-1][0] or 0), int(m[-1][1]))
            f = f if f else (0 if ok else max(1, f))
        m = re.search(r"\[  PASSED  \] (\d+) test", block)                                  # cmocka
        if m:
            p = int(m.group(1))
            m2 = re.search(r"\[  FAILED  \] (\d+) test", block)
            f = int(m2.group(1)) if m2 else (0 if ok else 1)
        m = re.search(r"^(\d+) passed, (\d+) failed$", block, re.M)                        # yang/check.sh
        if m:
            p, f = int(m.group(1)), int(m.group(2))
        if p is None:
            p, f = (1, 0) if ok else (0, 1)
        passed += p
        failed += f
print(passed, failed)
PY
)
read -r passed failed <<<"$counts"
[ "${failed:-1}" -eq 0 ] && [ "${passed:-0}" -gt 0 ] || status=1
echo "raven: ${passed:-0} passed, ${failed:-0} failed"
exit $status
