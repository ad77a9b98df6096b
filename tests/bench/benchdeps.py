"""The benchmarks' Debian packages: packaging/install-deps.sh --bench installs the
[bench] section of packaging/debian-packages.txt (nginx-light, wrk, perf) with the
rest of the list, so that a benchmark runs on a fresh machine like the tests do."""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def install():
    subprocess.run([os.path.join(ROOT, "packaging", "install-deps.sh"), "--bench"], check=True)
