#!/usr/bin/env python3
"""Benchmark: throughput of 64 MiB through the standard output and through a loopback TCP
connection, on the unix and qemu targets, beside the same program under `wasmtime run` 48.0.8.

The program is tests/fixtures/wasi-conformance (its `throughput` subcommand), composed once;
the qemu target boots its image (TCG, `-cpu max`, default 128M, the console channel).

  stdout   `throughput stdout N`: N bytes in 64 KiB writes, read by this script through a pipe.
           The figure is N over the wall time of the run less the wall time of the same run
           with N = 0 (start-up and exit are not throughput), medians of RUNS runs each.
  tcp      `throughput tcp N`: N bytes over a TCP connection to itself on 127.0.0.1, in 32 KiB
           writes each read whole before the next (both ends in the program's one thread, as a
           server and its own client would be); the program times it itself.

Usage: benches/wasi_io.py [RUNS]   (default 5). Exits non-zero when a configuration could not
be measured. Installs wasmtime-cli 48.0.8 with `cargo install` if missing (about 12 minutes).
"""

import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unix_run import ensure_wasmtime, WASMTIME_VERSION  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "wasi-conformance")
COMPONENT = os.path.join(FIXTURE, "target", "morgana", "wasi-conformance.wasm")
BYTES = 64 << 20


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "morgana"], cwd=ROOT, check=True)
    morgana = os.path.join(ROOT, "target", "release", "morgana")
    for target in ["unix", "qemu"]:
        subprocess.run([morgana, "build", FIXTURE, "--target", target], cwd=ROOT, check=True,
                       stderr=subprocess.DEVNULL)
    return morgana


def commands(morgana, wasmtime):
    return {
        f"wasmtime {WASMTIME_VERSION}": [wasmtime, "run", "-S", "inherit-network", COMPONENT],
        "morgana unix": [morgana, "run", COMPONENT, "--target", "unix", "--network", "--"],
        "morgana qemu": [morgana, "run", COMPONENT, "--target", "qemu", "--"],
    }


def timed_stdout(cmd, nbytes):
    """Wall seconds of one run writing `nbytes`, checking they all arrived."""
    start = time.perf_counter()
    done = subprocess.run(cmd + ["throughput", "stdout", str(nbytes)], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or len(done.stdout) != nbytes:
        raise RuntimeError(f"status {done.returncode}, {len(done.stdout)} of {nbytes} bytes")
    return elapsed


def tcp_rate(cmd):
    done = subprocess.run(cmd + ["throughput", "tcp", str(BYTES)], cwd=ROOT, capture_output=True, text=True)
    found = re.search(r"tcp: (\d+) bytes in (\d+) us", done.stdout)
    if done.returncode != 0 or not found or int(found.group(1)) != BYTES:
        raise RuntimeError(f"status {done.returncode}: {done.stdout.strip()} {done.stderr.strip()[-300:]}")
    return BYTES / int(found.group(2))  # bytes per microsecond = MB/s


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    wasmtime = ensure_wasmtime()
    morgana = build()
    results, failures = {}, []
    for name, cmd in commands(morgana, wasmtime).items():
        try:
            timed_stdout(cmd, 1 << 20)  # warm-up: caches, page cache, TCG's first translations
            empty = statistics.median(timed_stdout(cmd, 0) for _ in range(runs))
            full = statistics.median(timed_stdout(cmd, BYTES) for _ in range(runs))
            stdout_rate = BYTES / max(full - empty, 1e-6) / 1e6
            tcp = statistics.median(tcp_rate(cmd) for _ in range(runs))
            results[name] = (stdout_rate, tcp, empty, full)
        except RuntimeError as error:
            failures.append(f"{name}: {error}")

    print(f"64 MiB through stdout and through loopback TCP, medians of {runs} runs (MB/s = 10^6 bytes/s)")
    print("peer settings: wasmtime run -S inherit-network, default config, same component file")
    print("morgana qemu: QEMU TCG -cpu max, microvm, 128M, console channel over virtio-console")
    peer = results.get(f"wasmtime {WASMTIME_VERSION}")

    def versus(value, index):
        return f"{value / peer[index]:11.3f}x" if peer else f"{'-':>12}"

    print(f"{'runtime':<18} {'stdout MB/s':>12} {'vs wasmtime':>12} {'tcp MB/s':>10} {'vs wasmtime':>12}"
          f" {'run 0 B s':>10} {'run 64 MiB s':>13}")
    for name, (stdout_rate, tcp, empty, full) in results.items():
        print(f"{name:<18} {stdout_rate:12.1f} {versus(stdout_rate, 0)} {tcp:10.1f} {versus(tcp, 1)}"
              f" {empty:10.2f} {full:13.2f}")
    if failures:
        print("\ncould not measure:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
