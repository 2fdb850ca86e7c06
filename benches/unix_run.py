#!/usr/bin/env python3
"""Benchmark: wall time of running the `hello` example on the unix target, beside the same
composed component under the reference runtime, `wasmtime run` (wasmtime-cli 48.0.8).

Three commands, each warmed up and then timed in alternation, all with wasmtime's compilation
cache warm (both sides use the default cache, ~/.cache/wasmtime):

  morgana run <manifest>   the whole user path: read the manifest, cargo's no-op check of the
                           crate, compose, then run
  morgana run <file.wasm>  the composed component, as `wasmtime run` takes it
  wasmtime run <file.wasm> the peer

Usage: benches/unix_run.py [RUNS]   (default 30). Installs wasmtime-cli 48.0.8 with
`cargo install` if it is missing (about 12 minutes on 2 cores).
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WASMTIME_VERSION = "48.0.8"


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, cwd=ROOT, **kwargs)


def ensure_wasmtime():
    exe = shutil.which("wasmtime") or os.path.expanduser("~/.cargo/bin/wasmtime")
    if os.path.exists(exe):
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        if WASMTIME_VERSION in out:
            return exe
    print(f"installing wasmtime-cli {WASMTIME_VERSION} (cargo install, slow)...", file=sys.stderr)
    sh("cargo", "install", f"wasmtime-cli@{WASMTIME_VERSION}", "--locked")
    return os.path.expanduser("~/.cargo/bin/wasmtime")


def time_once(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark command failed with status {done.returncode}: {' '.join(cmd)}")
    return elapsed * 1000.0


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    wasmtime = ensure_wasmtime()
    sh("cargo", "build", "--release", "--quiet", "--bin", "morgana")
    morgana = os.path.join(ROOT, "target", "release", "morgana")
    sh(morgana, "build", "examples/hello", stderr=subprocess.DEVNULL)
    composed = os.path.join(ROOT, "examples", "hello", "target", "morgana", "hello.wasm")

    commands = {
        "morgana run examples/hello (manifest)": [morgana, "run", "examples/hello", "--", "a", "b"],
        "morgana run hello.wasm": [morgana, "run", composed, "--", "a", "b"],
        f"wasmtime {WASMTIME_VERSION} run hello.wasm": [wasmtime, "run", composed, "a", "b"],
    }
    for cmd in commands.values():  # warm-up: fills the compilation cache, pages in binaries
        for _ in range(3):
            time_once(cmd)
    samples = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            samples[name].append(time_once(cmd))

    peer = statistics.median(samples[f"wasmtime {WASMTIME_VERSION} run hello.wasm"])
    print(f"hello on the unix target, {runs} runs each, wall time in ms (warm compilation cache)")
    print(f"{'command':<42} {'median':>8} {'min':>8} {'max':>8} {'vs wasmtime':>12}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<42} {median:8.1f} {min(values):8.1f} {max(values):8.1f} {median / peer:11.2f}x")


if __name__ == "__main__":
    main()
