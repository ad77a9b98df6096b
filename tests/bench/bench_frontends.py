#!/usr/bin/python3
"""What moving the management front ends into their own processes costs, in one run.

Runs bench_rest.py and bench_datastore.py against two builds, one after the other,
alternating (baseline, candidate, baseline, candidate with --rounds 2), and prints
the candidate's figures over the baseline's:

  REST small resource (GET /restconf/data/raven-vpn:pools, 16 connections)
      candidate req/s / baseline req/s                          goal >= 0.9
  commit of 10 000 pools + 10 000 authorization policies over NETCONF
      candidate ms / baseline ms (edit-config + commit)         goal <= 1.1
  single-leaf edit-commit, median (reported, no goal here)

The baseline is a build of the commit before the split (ravend with the front ends
in its own process), configured alike (RelWithDebInfo). Failures of either script
are printed with their output; rates come from wrk and times from ncclient, as each
script documents. The REST runs print their errors and timeouts with each rate;
this script's output is written to tests/bench/results/NAME-DATE.txt and each
REST run's to bench_frontends_rest-DATE.txt.

  git worktree add /tmp/raven-base <commit> && cmake -S /tmp/raven-base -B /tmp/raven-base/build \\
      -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/raven-base/build -j2
  /usr/bin/python3 tests/bench/bench_frontends.py --baseline /tmp/raven-base/build --build build
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(args, timeout):
    p = subprocess.run([sys.executable] + args, capture_output=True, text=True, timeout=timeout)
    if p.returncode:
        print(f"FAILED: {' '.join(args)} (exit {p.returncode})\n{p.stdout}\n{p.stderr}")
        return None
    return p.stdout


def rest(build, seconds):
    """The REST small resource's rate and its errors (non-2xx, socket errors,
    timeouts, from bench_rest.py's table)."""
    out = run([os.path.join(HERE, "bench_rest.py"), "--build", build, "--seconds", str(seconds), "--name",
               "bench_frontends_rest"], 900)
    if out is None:
        return None, None
    m = re.search(r"^ravend small\s+([0-9.]+)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    if not m:
        return None, None
    return float(m.group(1)), "non-2xx %s, errors %s, timeouts %s" % m.groups()[1:]


def datastore(build, pools, src):
    out = run([os.path.join(HERE, "bench_datastore.py"), "--ravend", os.path.join(build, "daemon", "ravend"),
               "--floor", os.path.join(build, "tests", "bench", "bench_ly_floor"), "--pools", str(pools),
               "--edits", "10", "--reps", "1"], 1800)
    if out is None:
        return None
    full = re.search(r"^full commit \(edit \+ commit\)\s+([0-9.]+)", out, re.M)
    single = re.search(r"single edit-commit: median ([0-9.]+) ms", out)
    return (float(full.group(1)) if full else None, float(single.group(1)) if single else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="build directory of the baseline commit")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--pools", type=int, default=10000)
    ap.add_argument("--name", default="bench_frontends", help="results file name (tests/bench/results/NAME-DATE.txt)")
    a = ap.parse_args()
    benchdeps.install()
    benchdeps.record(a.name)
    builds = {"baseline": os.path.abspath(a.baseline), "candidate": os.path.abspath(a.build)}
    res = {k: {"rest": [], "full": [], "single": []} for k in builds}
    for rnd in range(a.rounds):
        for name, b in builds.items():
            r, errs = rest(b, a.seconds)
            d = datastore(b, a.pools, name)
            print(f"round {rnd + 1} {name:<9}: REST small {r if r is not None else 'FAILED'} req/s ({errs or 'no figures'}); "
                  f"commit {d[0] if d and d[0] else 'FAILED'} ms; single edit-commit median "
                  f"{d[1] if d and d[1] else 'FAILED'} ms", flush=True)
            if r is not None:
                res[name]["rest"].append(r)
            if d and d[0]:
                res[name]["full"].append(d[0])
            if d and d[1]:
                res[name]["single"].append(d[1])

    def med(name, key):
        v = res[name][key]
        return statistics.median(v) if v else None

    print()
    print(f"{'figure':<44} {'baseline':>10} {'candidate':>10} {'ratio':>7}  goal")
    for key, label, unit, goal in (("rest", "REST small resource", "req/s", ">= 0.90"),
                                   ("full", f"commit {a.pools}+{a.pools} (edit + commit)", "ms", "<= 1.10"),
                                   ("single", "single-leaf edit-commit median", "ms", "")):
        b, c = med("baseline", key), med("candidate", key)
        ratio = f"{c / b:7.2f}" if b and c else "    n/a"
        bs, cs = (f"{v:10.1f}" if v else f"{'FAILED':>10}" for v in (b, c))
        print(f"{label + ' (' + unit + ')':<44} {bs} {cs} {ratio}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
