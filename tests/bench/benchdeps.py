"""The benchmarks' Debian packages: packaging/install-deps.sh --bench installs the
[bench] section of packaging/debian-packages.txt (nginx-light, wrk, perf) with the
rest of the list, so that a benchmark runs on a fresh machine like the tests do."""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def install():
    subprocess.run([os.path.join(ROOT, "packaging", "install-deps.sh"), "--bench"], check=True)


class _Tee:
    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    def write(self, text):
        self.stream.write(text)
        self.log.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()
        self.log.flush()

    def fileno(self):
        return self.stream.fileno()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def record(name, out_dir=None):
    """Copies everything the benchmark prints from here on (stdout and stderr)
    to tests/bench/results/NAME-YYYY-MM-DD.txt (or OUT_DIR, or $RAVEN_BENCH_RESULTS), after a header
    with the date, the machine's CPU model and core count, the commit and the
    command line. Returns the file's path. The results the bench README quotes
    are such files, committed."""
    import datetime
    import sys

    # RAVEN_BENCH_RESULTS: another directory for every benchmark a runner starts (bench_table.py --quick)
    out_dir = out_dir or os.environ.get("RAVEN_BENCH_RESULTS") or os.path.join(ROOT, "tests", "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    path = os.path.join(out_dir, "%s-%s.txt" % (name, now.strftime("%Y-%m-%d")))
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    log = open(path, "a")
    log.write("# %s  %s\n# cpu: %s, %d cores\n# commit: %s\n# command: %s\n" %
              (name, now.strftime("%Y-%m-%d %H:%M:%S UTC"), cpu_model(), os.cpu_count() or 0, commit,
               " ".join(sys.argv)))
    log.flush()
    sys.stdout = _Tee(sys.stdout, log)
    sys.stderr = _Tee(sys.stderr, log)
    return path
