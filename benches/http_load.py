#!/usr/bin/env python3
"""Benchmark: HTTP requests per second and latency of examples/http-std (a std::net HTTP/1.1
server compiled to wasm32-wasip2) on both Morgana targets, beside the Linux microVM peer under
the same QEMU settings and beside nginx natively, all measured in one run with wrk.

  (a) Morgana, qemu target: `morgana run IMAGE --target qemu --accel tcg --env PORT=8080
      -p 127.0.0.1:P:8080` (TCG, -cpu max, -M microvm, 128M, QEMU user networking with a host
      port forward). IMAGE is `morgana build examples/http-std --target qemu -o ...`, built once
      here, which is what `morgana run examples/http-std --target qemu` builds and boots.
  (b) Morgana, unix target: `morgana run COMPONENT --env PORT=P` (wasmtime inside morgana, on the
      host's loopback); COMPONENT is `morgana build examples/http-std -o ...`.
  (c) The Linux microVM peer (../shared/peers/linux-microvm): Debian's kernel as a PVH vmlinux
      with the peer's tuned arguments, nginx (1 worker) in an initramfs, -m 128M, TCG, -cpu max,
      -M microvm, user networking with a host port forward. It serves ITS OWN 612-byte page,
      not http-std's 125 bytes.
  (d) nginx natively (Debian's), worker_processes 1, access_log off, keep-alive, on a loopback
      port, serving a file with exactly the bytes http-std's `/` returns (fetched from (b)).

For each: start it, wait until `GET /` answers, check the page (http-std: status 200, the body
contains "Hello from a unikernel", the same bytes on both targets; the peer: its 612-byte page;
nginx: the bytes fetched from (b)), one warm-up `wrk -t2 -c10 -d5s URL` (TCG translates code on
first use), then `wrk -t2 -c10 -d10s --latency URL`, then stop it. Reported: req/s, mean, p50,
p99 latency, wrk's errors (non-2xx/3xx responses; socket connect/read/write/timeout), bytes per
response (wrk's bytes read / requests: headers differ between servers), the time a fresh 11th
connection opened 3 s into the measured run waits for `GET /`, and the CPU the server, wrk and
everything else used meanwhile. http-std serves one connection at a time and wrk's connections
stay open, so it answers only one of the 10 and the other 9 (and the fresh one) wait in the
listen backlog until wrk closes them; wrk counts none of that as errors, and the latency it
reports covers answered requests only. Its request log (stdout) is counted against wrk's count.

Also, for (b) and (d), a second measured run with the server's threads and wrk all pinned to
CPU 0: with one connection served, http-std's throughput is a ping-pong whose cost on two CPUs is
mostly cross-CPU wake-ups.

Usage: benches/http_load.py              (about 90 s; writes to target/http-bench/)
Installs missing Debian packages with apt-get (needs root). All traffic is on loopback.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import linux_peer
from bench_http import (MEASURE, PEER_DIR, PEER_TUNED_ARGS, PROBE_TIMEOUT, ROOT, WARMUP, check_exact, free_port,
                        measure, prepare_peer, print_notes, progress, side_notes, start_morgana, start_nginx,
                        start_peer, versions)

OUT = os.path.join(ROOT, "target", "http-bench")
MEMORY = "128M"
MARKER = b"Hello from a unikernel"
# A copy of target/release/morgana taken at the start, so that a rebuild during the run cannot
# change it under us.
MORGANA = os.path.join(OUT, "morgana")


def ensure_packages():
    linux_peer.ensure_packages(progress)


def check_http_std(expected=None):
    def check(status, body):
        if status != 200:
            return f"status {status} ({body!r:.80})"
        if MARKER not in body:
            return f"body lacks {MARKER!r}: {body!r:.80}"
        if expected is not None and body != expected:
            return f"body differs from the unix target's ({len(body)} vs {len(expected)} bytes)"
        return None
    return check


def served_lines(log):
    try:
        return sum(1 for line in open(log + ".stdout", "rb") if line.startswith(b"http-std: GET / -> 200"))
    except OSError:
        return None


def main():
    if len(sys.argv) > 1:
        sys.exit(__doc__)
    began = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    ensure_packages()
    shutil.copy2(os.path.join(ROOT, "target", "release", "morgana"), MORGANA) if os.path.exists(
        os.path.join(ROOT, "target", "release", "morgana")) else sys.exit("build first: cargo build --release")
    progress("building examples/http-std for both targets...")
    component = os.path.join(OUT, "http-std.wasm")
    image = os.path.join(OUT, "http-std.img")
    for cmd in ([MORGANA, "build", "examples/http-std", "-o", component],
                [MORGANA, "build", "examples/http-std", "--target", "qemu", "-o", image]):
        done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    prepare_peer()
    load_before = open("/proc/loadavg").read().split()[:3]

    results = {}
    # (b) first: its page is the reference for (a) and (d).
    progress("(b) unix target...")
    srv = start_morgana(MORGANA, "unix", component, free_port(), os.path.join(OUT, "unix"))
    results["b"] = measure("(b) Morgana unix", srv, check_http_std(), pinned=True)
    results["b"]["served"] = served_lines(srv["log"])
    results["b"]["cmd"] = srv["cmd"]
    page = results["b"].get("page") or b""
    if MARKER not in page:
        progress("the unix target did not serve the page; using PAGE from examples/http-std/src/main.rs")
        source = open(os.path.join(ROOT, "examples", "http-std", "src", "main.rs")).read()
        page = re.search(r'const PAGE: &str = "(.*)";', source).group(1).encode().decode("unicode_escape").encode()

    progress("(a) qemu target...")
    srv = start_morgana(MORGANA, "qemu", image, free_port(), os.path.join(OUT, "qemu"),
                        ["--memory", MEMORY, "--env", "PORT=8080"])
    results["a"] = measure("(a) Morgana qemu", srv, check_http_std(page))
    results["a"]["served"] = served_lines(srv["log"])
    results["a"]["cmd"] = srv["cmd"]

    progress("(c) Linux microVM peer (boots in a few seconds)...")
    peer_page = open(os.path.join(PEER_DIR, "index.html"), "rb").read()
    srv, why = start_peer(free_port(), MEMORY)
    if srv:
        results["c"] = measure("(c) Linux VM nginx", srv, check_exact(peer_page))
        results["c"]["boot_ms"] = srv["boot_ms"]
    else:
        results["c"] = {"name": "(c) Linux VM nginx", "notes": [f"run-peer.sh failed: {why}"]}

    progress("(d) native nginx...")
    www = os.path.join(OUT, "nginx", "www")
    os.makedirs(www, exist_ok=True)
    open(os.path.join(www, "index.html"), "wb").write(page)
    srv = start_nginx(os.path.join(OUT, "nginx"), free_port(), www)
    results["d"] = measure("(d) native nginx", srv, check_exact(page), pinned=True)

    load_after = open("/proc/loadavg").read().split()[:3]
    elapsed = time.monotonic() - began

    # -----------------------------------------------------------------------------------------
    v = versions()
    qemu_version, nginx_version, wrk_version, cpu = v["qemu"], v["nginx"], v["wrk"], v["cpu"]
    commit, dirty, guest_kernel = v["commit"], v["dirty"], v["guest_kernel"]

    print("HTTP benchmark: examples/http-std on Morgana's two targets vs a Linux microVM and native nginx")
    print(f"  host      {cpu}, {os.cpu_count()} CPUs, Linux {os.uname().release}, load average "
          f"{' '.join(load_before)} before, {' '.join(load_after)} after")
    print(f"  morgana   {commit}{' (uncommitted changes)' if dirty else ''}, release build")
    print(f"  load      {wrk_version}: warm-up `{' '.join(WARMUP)} URL`, then `{' '.join(MEASURE)} URL` (reported); "
          "all on 127.0.0.1")
    print(f"  (a)       {results['a'].get('cmd', '?').replace(ROOT + '/', '')}")
    print(f"            = {qemu_version}, -M microvm, -accel tcg -cpu max, -m {MEMORY}, user networking hostfwd")
    print(f"  (b)       {results['b'].get('cmd', '?').replace(ROOT + '/', '')}   (wasmtime inside morgana, host loopback)")
    print(f"  (c)       Linux microVM peer: Debian {guest_kernel} PVH vmlinux + `{PEER_TUNED_ARGS}`, nginx initramfs "
          f"(1 worker), -m {MEMORY}, -accel tcg -cpu max, -M microvm, user networking hostfwd"
          + (f"; booted to READY in {results['c']['boot_ms']} ms" if "boot_ms" in results["c"] else ""))
    print(f"  (d)       {nginx_version}, native, worker_processes 1, access_log off, keep-alive, loopback")
    sizes = {k: len(r.get("page", b"")) for k, r in results.items()}
    print(f"  pages     GET / body: (a) {sizes['a']} B, (b) {sizes['b']} B, (d) {sizes['d']} B (the same bytes: "
          f"{'yes' if results['a'].get('page') == results['b'].get('page') == results['d'].get('page') else 'NO'}); "
          f"(c) {sizes['c']} B, the peer's own page: NOT the same size")
    print()

    print("Measured run (10 s, 2 threads, 10 connections)")
    print(f"  {'server':<24} {'req/s':>9} {'mean':>9} {'p50':>9} {'p99':>9} {'B/resp':>7} {'new conn':>9}  "
          f"{'errors (non-2xx; connect/read/write/timeout)':<46}")
    for key in "abcd":
        r = results[key]
        run = r.get("run")
        if not run or run["rps"] is None:
            print(f"  {r['name']:<24} no measurement: {'; '.join(r['notes']) or (run or {}).get('text', '')[:200]}")
            continue
        per = run["bytes"] / run["requests"] if run["requests"] else float("nan")
        p = r.get("probe", {})
        fresh = (f"{p['seconds'] * 1000:.1f}ms" if p.get("status") == 200 else
                 f"none{PROBE_TIMEOUT}s" if p.get("status") is None else f"st {p['status']}")
        s = run["socket"]
        errors = (f"{run['non2xx']}; " + "/".join(str(s.get(k, 0)) for k in ("connect", "read", "write", "timeout")))
        ms = lambda v: f"{v:.3f}" if v is not None and v < 10 else (f"{v:.1f}" if v is not None else "?")
        print(f"  {r['name']:<24} {run['rps']:>9.0f} {ms(run['mean_ms']):>9} {ms(run['p50_ms']):>9} "
              f"{ms(run['p99_ms']):>9} {per:>7.0f} {fresh:>9}  {errors}")
    for key in "bd":
        run = results[key].get("pinned")
        if run and run["rps"] is not None:
            s_ = run["socket"]
            print(f"  {results[key]['name'] + ', 1 CPU':<24} {run['rps']:>9.0f} {run['mean_ms']:>9.3f} {run['p50_ms']:>9.3f} "
                  f"{run['p99_ms']:>9.3f} {run['bytes'] / run['requests']:>7.0f} {'':>9}  {run['non2xx']}; "
                  + "/".join(str(s_.get(k, 0)) for k in ("connect", "read", "write", "timeout")))
    print("  `, 1 CPU`: a second measured run with the server's threads and wrk all on CPU 0 (taskset). http-std's one")
    print("  connection is a ping-pong between wrk and the server; on two CPUs each request pays a cross-CPU wake-up")
    print("  (expensive in a VM whose idle CPUs halt), on one it does not")
    print("  latencies in ms (wrk, answered requests only); B/resp = wrk's bytes read / requests (headers + body);")
    print(f"  new conn = time for GET / on an 11th, fresh connection opened 3 s into the run (none{PROBE_TIMEOUT}s: no answer "
          f"within {PROBE_TIMEOUT} s)")
    print()

    print("Warm-up run (5 s, req/s) and CPU-seconds used during the measured run (2 CPUs: at most 2 per second)")
    print(f"  {'server':<20} {'warm-up req/s':>13}   {'wall s':>6} {'server':>7} {'wrk':>6} {'others':>7} {'irq':>6} {'steal':>6}")
    busy_others = []
    for key in "abcd":
        r = results[key]
        w, run = r.get("warmup"), r.get("run")
        if not w or not run:
            continue
        others = max(run["other_cpu"], 0)
        busy_others.append(others / run["wall"])
        print(f"  {r['name']:<20} {w['rps'] if w['rps'] is not None else float('nan'):>13.0f}   {run['wall']:>6.1f} "
              f"{run['server_cpu']:>7.1f} {run['wrk_cpu']:>6.1f} {others:>7.1f} {run['irq']:>6.1f} {run['steal']:>6.1f}")
    print("  (server = the server's processes, QEMU included; others = the machine's user+system time minus server,")
    print("  wrk and this script: anything else that ran meanwhile; irq = the machine's irq+softirq time, where")
    print("  loopback TCP is partly handled)")
    print()

    print("Ratios (measured run)")

    def ratio(x, y, what, latency=False):
        rx, ry = results[x].get("run"), results[y].get("run")
        if not rx or not ry or rx["rps"] is None or ry["rps"] is None:
            print(f"  {what}: n/a (a run failed)")
            return
        print(f"  {what}: req/s {rx['rps']:.0f} / {ry['rps']:.0f} = {rx['rps'] / ry['rps']:.3f}"
              + (f"; p50 {rx['p50_ms']:.3f} / {ry['p50_ms']:.3f} ms = {rx['p50_ms'] / ry['p50_ms']:.2f}" if latency
                 else ""))

    ratio("a", "c", f"a/c  Morgana VM vs Linux VM, same QEMU accel/cpu/machine (page {sizes['a']} B vs {sizes['c']} B)")
    ratio("b", "d", f"b/d  Morgana unix target vs native nginx (same {sizes['b']}-byte page)")
    rb, rd = results["b"].get("pinned"), results["d"].get("pinned")
    if rb and rd and rb["rps"] and rd["rps"]:
        print(f"  b/d  the same, both pinned with wrk to CPU 0: req/s {rb['rps']:.0f} / {rd['rps']:.0f} = "
              f"{rb['rps'] / rd['rps']:.3f}")
    ratio("a", "b", "a/b  Morgana qemu target vs unix target (same page; the cost of TCG + user networking)",
          latency=True)
    print("  (latency ratios only where both sides serve one connection at a time: see the notes)")
    print()

    notes = []
    for key in "abcd":
        r = results[key]
        # This benchmark reports what went wrong but fails on none of it.
        side_notes(r, notes, [], labels=("warmup", "run", "pinned"))
        if r.get("served") is not None and r.get("run") and r.get("warmup"):
            counted = sum((r[k]["requests"] or 0) for k in ("warmup", "run", "pinned") if r.get(k))
            notes.append(f"{r['name']}: http-std logged {r['served']} `GET / -> 200` lines; wrk counted {counted} "
                         f"responses in its {2 + ('pinned' in r)} runs, + 3 checks and 1 fresh connection by this script; the rest "
                         "(about 10 per wrk run) are the requests of wrk's waiting connections, answered only after "
                         "wrk had closed them. The server logs one line per request to stdout"
                         + (" (QEMU's serial port)" if key == "a" else "") + ", nginx none")
    notes.append("http-std answers one connection at a time and wrk keeps its 10 connections open, so one "
                 "connection gets every answer and the others sit in the listen backlog (for (a), in QEMU's user "
                 "network and the guest's TCP backlog) until wrk stops; `new conn` shows a newcomer's fate. wrk "
                 "counts a request as a timeout only when its answer arrives late, never for one that is not "
                 "answered, so these are not in its errors, and its latencies are those of the one connection "
                 "served: they are not comparable with nginx's, which serves all 10 at once (and wrk's latency "
                 "figures include its correction for coordinated omission, which assumes all 10 are served).")
    print_notes("http_load.py", notes, busy_others, elapsed, OUT)


if __name__ == "__main__":
    main()
