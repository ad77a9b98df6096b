#!/usr/bin/python3
"""The crypto-only bound of ESP per crypto backend: one core sealing packets of
64 and 1400 bytes with one pre-keyed context (tests/bench/esp_gen bound), for
OpenSSL EVP as the dataplane used it before (the raw EVP loop, "evp-raw"),
through the backend interface (dataplane/esp_crypto.h) with the OpenSSL EVP
backend ("openssl") and with intel-ipsec-mb in bursts of 64 ("ipsec-mb").

Rates are packets per CPU-second of the sealing thread (CLOCK_THREAD_CPUTIME_ID),
so that a machine shared with other work skews them less than wall time would;
the variants run alternately, ROUNDS times each, and the medians are compared.
Writes its output to tests/bench/results/bench_esp_crypto-DATE.txt.

    tests/bench/bench_esp_crypto.py [--build build] [--seconds 1] [--rounds 5] [--cipher gcm128]
"""
import argparse
import json
import os
import statistics
import subprocess

import benchdeps


def run(esp_gen, size, seconds, cipher, variant):
    cmd = ["taskset", "-c", "1", esp_gen, "bound", str(size), str(seconds), cipher]
    if variant != "evp-raw":
        cmd.append(variant)
    r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return r["packets"] / r["cpu_seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(benchdeps.ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cipher", default="gcm128")
    a = ap.parse_args()
    benchdeps.record("bench_esp_crypto")
    esp_gen = os.path.join(a.build, "tests", "bench", "esp_gen")
    print("load average before: %s" % open("/proc/loadavg").read().strip())
    variants = ("evp-raw", "openssl", "ipsec-mb")
    for size in (64, 1400):
        rates = {v: [] for v in variants}
        for r in range(a.rounds):
            for v in variants:
                rates[v].append(run(esp_gen, size, a.seconds, a.cipher, v))
            print("%s %4d B round %d: %s" % (a.cipher, size, r + 1,
                                             ", ".join("%s %.0f kpps" % (v, rates[v][-1] / 1e3) for v in variants)))
        med = {v: statistics.median(rates[v]) for v in variants}
        print("%s %4d B median per CPU-second: %s" % (a.cipher, size, ", ".join(
            "%s %.0f kpps (%.2f Gbit/s)" % (v, med[v] / 1e3, med[v] * size * 8 / 1e9) for v in variants)))
        print("%s %4d B ipsec-mb / evp-raw = %.2f, ipsec-mb / openssl backend = %.2f" %
              (a.cipher, size, med["ipsec-mb"] / med["evp-raw"], med["ipsec-mb"] / med["openssl"]))
    print("load average after: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
