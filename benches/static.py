#!/usr/bin/env python3
"""Benchmark: HTTP requests per second and latency of examples/static-site (the HTTP/1.1 server
library components/http-server, the static-site handler serving the directory
examples/static-site/site/ baked into the image, and components/syslog, composed by its
unikernel.toml) on both Morgana targets, beside the Linux microVM peer under the same QEMU
settings and beside nginx natively, all measured in one run with wrk on `GET /`, which is
site/index.html: exactly 612 bytes (nginx's welcome page has the same size, as in the Unikraft
paper's measurement).

  (a) Morgana, qemu target: `morgana run IMAGE --target qemu --accel tcg -p 127.0.0.1:P:8080`
      (TCG, -cpu max, -M microvm, the default 128M, QEMU user networking with a host port
      forward to the server's default port 8080). IMAGE is
      `morgana build examples/static-site --target qemu -o target/static-bench/static-site.img`,
      built once here. The request log (syslog without a collector: one line per request on
      stderr, which is QEMU's serial port 2) goes to target/static-bench/qemu.stderr.
  (b) Morgana, unix target: `morgana run COMPONENT --env PORT=P` (wasmtime inside morgana, on the
      host's loopback); COMPONENT is
      `morgana build examples/static-site -o target/static-bench/static-site.wasm`. Its request
      log goes to target/static-bench/unix.stderr.
  (c) The Linux microVM peer (../shared/peers/linux-microvm, started by run-peer.sh as
      benches/http_load.py does): Debian's kernel as a PVH vmlinux with the peer's tuned
      arguments, nginx (1 worker) in an initramfs, -m 128M, TCG, -cpu max, -M microvm, user
      networking with a host port forward. It serves ITS OWN 612-byte page (same size, other
      bytes).
  (d) nginx natively (Debian's), worker_processes 1, access_log off, sendfile, keep-alive, on a
      loopback port, with examples/static-site/site itself as its root.

For each: start it, wait until `GET /` answers, check the page ((a), (b), (d): exactly the bytes
of examples/static-site/site/index.html; (c): exactly the peer's 612-byte index.html), check
that it serves connections concurrently (10 keep-alive connections opened together each send
`GET /`, then a second one on the same connection; every one must get its 200 and page within
15 s; a server that serves one connection at a time, like examples/http-std, answers one of
them), one warm-up `wrk -t2 -c10 -d5s URL` (TCG translates code on first use), then
`wrk -t2 -c10 -d10s --latency URL`, then stop it. Reported: req/s, mean, p50, p99 latency,
wrk's errors (non-2xx/3xx responses; socket connect/read/write/timeout), bytes per response
(wrk's bytes read / requests: headers differ between servers), the time a fresh 11th
connection opened 3 s into the measured run waits for `GET /`, the CPU the server, wrk and
everything else on the machine used meanwhile, and for (a) and (b) the request log's
`"GET / HTTP/1.1" 200 612` lines against the responses wrk and this script counted. Ratios
a/c and b/d.

Then the smallest memory: `morgana run IMAGE --target qemu --accel tcg --memory NM -p ...`
bisected over 5..128 MiB (4 is tried when 5 serves; a run serves when `GET /` returns the page
within 60 s; the note says why the size below failed), and the
Linux peer's smallest -m that boots to READY and serves its page (benches/boot.py's search,
65..128 MiB; a boot that prints nothing for 12 s fails).

Usage: benches/static.py                        (about 2.5 minutes; writes to target/static-bench/)
       benches/static.py --quote-linux-memory   (quote the peer's smallest memory from its README
                                                 instead of searching it: about 40 s less)
Installs missing Debian packages with apt-get (needs root). All traffic is on loopback. Exits
with status 1 when a configuration could not be measured or a check failed (the report says
which), 2 when something it needs is missing.
"""

import glob
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.parse

import boot
import linux_peer
from bench_http import (check_exact, copy_morgana, free_port, get, MEASURE, measure, PEER_DIR, PEER_TUNED_ARGS,
                        prepare_peer, print_cpu_table, print_notes, PROBE_TIMEOUT, progress, ROOT, side_notes,
                        start_morgana, start_nginx, start_peer, tree, versions, wait_answers, WARMUP)

OUT = os.path.join(ROOT, "target", "static-bench")
EXAMPLE = os.path.join(ROOT, "examples", "static-site")
SITE = os.path.join(EXAMPLE, "site")
PAGE_BYTES = 612
PEER_MEMORY = "128M"  # the peer's -m, and morgana's default for an image whose manifest sets none
MEMORY_RANGE = (4, 128)  # MiB searched for the image: (4, 128]
MEMORY_SERVE_TIMEOUT = 60  # seconds a run at a given memory has to answer GET / with the page
PEER_MEMORY_RANGE = (64, 128)  # as benches/boot.py searches it
PEER_QUOTED_MEMORY = 96  # ../shared/peers/linux-microvm/README.md, nginx
CONCURRENT = 10  # connections of the concurrency check, as many as wrk's
CONCURRENT_TIMEOUT = 15
# The log line of one `GET /` served with the page (combined log format, through syslog to stderr).
LOG_MATCH = f'"GET / HTTP/1.1" 200 {PAGE_BYTES} '.encode()
# A copy of target/release/morgana taken at the start, so that a rebuild during the run cannot
# change it under us.
MORGANA = os.path.join(OUT, "morgana")


def fail(message):
    print(f"static.py: {message}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# The concurrency check


def read_response(sock, deadline):
    """One HTTP/1.1 response with a Content-Length: (status, body) or (None, why)."""
    data = b""
    length = None
    head_end = -1
    while True:
        if head_end < 0:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                head = data[:head_end].decode("latin-1").split("\r\n")
                try:
                    status = int(head[0].split()[1])
                except (IndexError, ValueError):
                    return None, f"bad status line {head[0]!r}"
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length is None:
                    return None, "no Content-Length"
        if head_end >= 0 and len(data) >= head_end + 4 + length:
            return status, data[head_end + 4:head_end + 4 + length]
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            return None, "no answer"
        try:
            chunk = sock.recv(65536)
        except OSError as e:
            return None, str(e)
        if not chunk:
            return None, "connection closed"
        data += chunk


def concurrency(url, expected, n=CONCURRENT, timeout=CONCURRENT_TIMEOUT):
    """Opens n connections, sends `GET /` on every one, reads every answer; then once more on the
    same connections (keep-alive). Returns {"rounds": [(answered, seconds)], "why": first failure}."""
    address = urllib.parse.urlsplit(url)
    result = {"rounds": [], "why": None}
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection((address.hostname, address.port), timeout=timeout))
        for _ in range(2):
            began = time.monotonic()
            for s in socks:
                s.sendall(f"GET / HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode())
            deadline = began + timeout
            answered = 0
            for i, s in enumerate(socks):
                status, body = read_response(s, deadline)
                if status == 200 and body == expected:
                    answered += 1
                elif result["why"] is None:
                    result["why"] = (f"connection {i + 1}: " + (body if status is None else
                                     f"status {status}, {len(body)}-byte body"))
            result["rounds"].append((answered, time.monotonic() - began))
    except OSError as e:
        result["why"] = result["why"] or f"{type(e).__name__}: {e}"
    finally:
        for s in socks:
            s.close()
    return result


# ---------------------------------------------------------------------------------------------
# Memory


def serves_in(image, mib, page, detail):
    """Whether the image, given `mib` MiB, answers GET / with the page within 60 s."""
    srv = start_morgana(MORGANA, "qemu", image, free_port(), os.path.join(OUT, f"memory-{mib}M"),
                        ["--memory", f"{mib}M"])
    ok = False
    if wait_answers(srv["url"], srv["alive"], timeout=MEMORY_SERVE_TIMEOUT) is not None:
        status, body = get(srv["url"], timeout=10)
        ok = status == 200 and body == page
    exited = srv["proc"].poll()
    srv["stop"]()
    tail = open(srv["log"] + ".stderr", errors="replace").read().strip().splitlines()
    detail[mib] = (ok, exited, tail[-1] if tail else "")
    progress(f"  {mib} MiB: {'serves' if ok else 'does not serve'}")
    return ok


# ---------------------------------------------------------------------------------------------


def process_cpu():
    """{pid: (name, CPU-seconds)} of every process on the machine."""
    hz = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = open(stat).read()
            name = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            found[int(stat.split("/")[2])] = (name, (int(fields[11]) + int(fields[12])) / hz)
        except (OSError, ValueError, IndexError):
            pass
    return found


def log_counts(log):
    """(lines of `GET /` served with the page, other lines) of a Morgana server's stderr."""
    served, other = 0, []
    try:
        for line in open(log + ".stderr", "rb"):
            if LOG_MATCH in line:
                served += 1
            elif line.strip():
                other.append(line.decode(errors="replace").rstrip())
    except OSError:
        return None, []
    return served, other


def build(cmd):
    done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        errors = [l for l in done.stderr.splitlines() if l.startswith("error")] or done.stderr.splitlines()[-3:]
        fail(f"`{' '.join(cmd).replace(ROOT + '/', '')}` failed (status {done.returncode}):\n  " + "\n  ".join(errors))


def main():
    args = sys.argv[1:]
    if args not in ([], ["--quote-linux-memory"]):
        sys.exit(__doc__)
    quote_linux_memory = bool(args)
    began = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    linux_peer.ensure_packages(progress)
    page = open(os.path.join(SITE, "index.html"), "rb").read()
    if len(page) != PAGE_BYTES:
        fail(f"examples/static-site/site/index.html is {len(page)} bytes, not {PAGE_BYTES}: the comparison "
             "with nginx's page no longer holds")
    copy_morgana(MORGANA, fail)
    progress("building examples/static-site for both targets...")
    component = os.path.join(OUT, "static-site.wasm")
    image = os.path.join(OUT, "static-site.img")
    build([MORGANA, "build", "examples/static-site", "-o", component])
    build([MORGANA, "build", "examples/static-site", "--target", "qemu", "-o", image])
    prepare_peer()
    peer_page = open(os.path.join(PEER_DIR, "index.html"), "rb").read()
    load_before = open("/proc/loadavg").read().split()[:3]
    cpu_before = process_cpu()
    wall_before = time.monotonic()
    mine = set()  # the servers' processes, not counted among the others

    results = {}

    def with_concurrency(expected):
        return lambda url: concurrency(url, expected)

    progress("(a) qemu target...")
    srv = start_morgana(MORGANA, "qemu", image, free_port(), os.path.join(OUT, "qemu"))
    mine |= set(srv["pids"]())
    results["a"] = measure("(a) static-site qemu", srv, check_exact(page), before=with_concurrency(page))
    results["a"]["log"] = log_counts(srv["log"])
    results["a"]["cmd"] = srv["cmd"]

    progress("(b) unix target...")
    srv = start_morgana(MORGANA, "unix", component, free_port(), os.path.join(OUT, "unix"))
    mine |= set(srv["pids"]())
    results["b"] = measure("(b) static-site unix", srv, check_exact(page), before=with_concurrency(page))
    results["b"]["log"] = log_counts(srv["log"])
    results["b"]["cmd"] = srv["cmd"]

    progress("(c) Linux microVM peer (boots in a few seconds)...")
    if len(peer_page) != PAGE_BYTES:
        results["c"] = {"name": "(c) Linux VM nginx", "notes": [f"the peer's index.html is {len(peer_page)} bytes, "
                                                                 f"not {PAGE_BYTES}"]}
    else:
        srv, why = start_peer(free_port(), PEER_MEMORY)
        if srv:
            mine |= set(srv["pids"]())
            results["c"] = measure("(c) Linux VM nginx", srv, check_exact(peer_page),
                                   before=with_concurrency(peer_page))
            results["c"]["boot_ms"] = srv["boot_ms"]
        else:
            results["c"] = {"name": "(c) Linux VM nginx", "notes": [f"run-peer.sh failed: {why}"]}

    progress("(d) native nginx...")
    srv = start_nginx(os.path.join(OUT, "nginx"), free_port(), SITE)
    mine |= set(srv["pids"]())
    results["d"] = measure("(d) native nginx", srv, check_exact(page), before=with_concurrency(page))

    wall_measuring = time.monotonic() - wall_before
    cpu_after = process_cpu()
    mine |= set(tree(os.getpid()))
    busiest = sorted(((cpu - cpu_before[pid][1], name) for pid, (name, cpu) in cpu_after.items()
                      if pid in cpu_before and pid not in mine), reverse=True)[:4]

    progress(f"smallest memory of the image: bisecting {MEMORY_RANGE[0] + 1}..{MEMORY_RANGE[1]} MiB "
             f"(a run serves when GET / returns the page within {MEMORY_SERVE_TIMEOUT} s)...")
    detail = {}
    min_image, _ = boot.smallest(lambda n: serves_in(image, n, page, detail), *MEMORY_RANGE)
    if quote_linux_memory:
        min_peer = None
    else:
        progress(f"smallest memory of the Linux peer (nginx; {PEER_MEMORY_RANGE[0] + 1}..{PEER_MEMORY_RANGE[1]} "
                 "MiB; a failed boot waits 12 s)...")
        min_peer, _ = boot.smallest(lambda n: boot.peer_serves("nginx", n, peer_page), *PEER_MEMORY_RANGE)

    load_after = open("/proc/loadavg").read().split()[:3]
    elapsed = time.monotonic() - began

    # -----------------------------------------------------------------------------------------
    v = versions()
    rel = lambda text: text.replace(ROOT + "/", "")
    failures = []

    print(f"Static-site benchmark: examples/static-site (GET /, the {PAGE_BYTES}-byte site/index.html) on Morgana's "
          "two targets vs a Linux microVM and native nginx")
    print(f"  host      {v['cpu']}, {os.cpu_count()} CPUs, Linux {os.uname().release}, load average "
          f"{' '.join(load_before)} before, {' '.join(load_after)} after")
    runs = [results[k]["run"] for k in "abcd" if results[k].get("run")]
    if runs:
        others = sum(max(r["other_cpu"], 0) for r in runs)
        wall = sum(r["wall"] for r in runs)
        print(f"  quiet?    during the {len(runs)} measured wrk runs ({wall:.0f} s) other processes used {others:.0f} "
              f"CPU-s = {others / wall * 100:.0f}% of one CPU (of {os.cpu_count()}), steal "
              f"{sum(r['steal'] for r in runs):.1f} s; busiest others over the {wall_measuring:.0f} s of the four "
              "servers: " + (", ".join(f"{name} {cpu / wall_measuring * 100:.0f}%" for cpu, name in busiest
                                 if cpu / wall_measuring >= 0.01) or "none above 1% of a CPU"))
    print(f"  morgana   {v['commit']}{' (uncommitted changes)' if v['dirty'] else ''}, release build")
    print(f"  load      {v['wrk']}: warm-up `{' '.join(WARMUP)} URL`, then `{' '.join(MEASURE)} URL` (reported); "
          "all on 127.0.0.1")
    print(f"  (a)       {rel(results['a'].get('cmd', '?'))}")
    print(f"            = {v['qemu']}, -M microvm, -accel tcg -cpu max, -m 128M (default), user networking hostfwd")
    print(f"  (b)       {rel(results['b'].get('cmd', '?'))}   (wasmtime inside morgana, host loopback)")
    print(f"  (c)       Linux microVM peer: Debian {v['guest_kernel']} PVH vmlinux + `{PEER_TUNED_ARGS}`, nginx "
          f"initramfs (1 worker), -m {PEER_MEMORY}, -accel tcg -cpu max, -M microvm, user networking hostfwd"
          + (f"; booted to READY in {results['c']['boot_ms']} ms" if "boot_ms" in results["c"] else ""))
    print(f"  (d)       {v['nginx']}, native, worker_processes 1, access_log off, keep-alive, root "
          f"{rel(SITE)}")
    same = all(results[k].get("page") == page for k in "abd")
    print(f"  pages     GET / body: (a) {len(results['a'].get('page', b''))} B, (b) {len(results['b'].get('page', b''))} B, "
          f"(d) {len(results['d'].get('page', b''))} B, exactly site/index.html: {'yes' if same else 'NO'}; "
          f"(c) {len(results['c'].get('page', b''))} B, the peer's own page, exactly its index.html: "
          f"{'yes' if results['c'].get('page') == peer_page else 'NO'}")
    print()

    print("Measured run (10 s, 2 threads, 10 connections)")
    print(f"  {'server':<22} {'req/s':>9} {'mean':>8} {'p50':>8} {'p99':>8} {'B/resp':>7} {'new conn':>9}  "
          "errors (non-2xx; connect/read/write/timeout)")
    ms = lambda x: "?" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")
    for key in "abcd":
        r = results[key]
        run = r.get("run")
        if not run or run["rps"] is None:
            print(f"  {r['name']:<22} no measurement: {'; '.join(r['notes']) or (run or {}).get('text', '')[:200]}")
            failures.append(f"{r['name']}: not measured")
            continue
        per = run["bytes"] / run["requests"] if run["requests"] else float("nan")
        p = r.get("probe", {})
        fresh = (f"{p['seconds'] * 1000:.1f}ms" if p.get("status") == 200 else
                 f"none{PROBE_TIMEOUT}s" if p.get("status") is None else f"st {p['status']}")
        s = run["socket"]
        errors = f"{run['non2xx']}; " + "/".join(str(s.get(k, 0)) for k in ("connect", "read", "write", "timeout"))
        print(f"  {r['name']:<22} {run['rps']:>9.0f} {ms(run['mean_ms']):>8} {ms(run['p50_ms']):>8} "
              f"{ms(run['p99_ms']):>8} {per:>7.0f} {fresh:>9}  {errors}")
    print("  latencies in ms (wrk); B/resp = wrk's bytes read / requests (headers + body); new conn = time for")
    print(f"  GET / on an 11th, fresh connection opened 3 s into the run (none{PROBE_TIMEOUT}s: no answer within "
          f"{PROBE_TIMEOUT} s)")
    print()

    print("Ratios (measured run)")

    def ratio(x, y, what):
        rx, ry = results[x].get("run"), results[y].get("run")
        if not rx or not ry or rx["rps"] is None or ry["rps"] is None:
            print(f"  {what}: n/a (a run failed)")
            return
        print(f"  {what}: req/s {rx['rps']:.0f} / {ry['rps']:.0f} = {rx['rps'] / ry['rps']:.3f}; "
              f"p50 {ms(rx['p50_ms'])} / {ms(ry['p50_ms'])} ms = {rx['p50_ms'] / ry['p50_ms']:.2f}")

    ratio("a", "c", "a/c  static-site VM vs Linux VM nginx, same QEMU accel/cpu/machine/-m")
    ratio("b", "d", "b/d  static-site unix target vs native nginx, same file")
    print()

    print(f"Concurrency: {CONCURRENT} keep-alive connections opened together, GET / on each, then again on the same "
          f"connections; answered with the page within {CONCURRENT_TIMEOUT} s")
    for key in "abcd":
        r = results[key]
        c = r.get("before")
        if not c:
            continue
        rounds = ", ".join(f"{a}/{CONCURRENT} in {t * 1000:.0f} ms" for a, t in c["rounds"])
        ok = len(c["rounds"]) == 2 and all(a == CONCURRENT for a, _ in c["rounds"])
        print(f"  {r['name']:<22} {rounds or 'none'}: {'serves them concurrently' if ok else 'NOT all answered'}"
              + (f" ({c['why']})" if c["why"] else ""))
        if not ok and key in "ab":
            failures.append(f"{r['name']}: not every one of {CONCURRENT} concurrent connections was answered "
                            f"({c['why']})")
    print()

    print("Start-up and warm-up")
    print(f"  {'server':<22} {'answers after':>13} {'first GET':>10} {'warm-up req/s':>14}")
    for key in "abcd":
        r = results[key]
        if "waited" not in r:
            continue
        w = r.get("warmup") or {}
        print(f"  {r['name']:<22} {r['waited']:>11.2f} s {r['first_get'] * 1000:>7.1f} ms "
              f"{w.get('rps') if w.get('rps') is not None else float('nan'):>14.0f}")
    print("  (answers after = from starting it (for (c), from READY) to the first answer to GET /; first GET = the")
    print("  next GET /, timed)")
    print()

    busy_others = print_cpu_table(results, "abcd", "wrk")

    print("Smallest memory (-m) that serves GET /")
    below = detail.get(min_image - 1) if isinstance(min_image, int) else None
    why_below = ""
    if below:
        _, exited, last = below
        why_below = (f"; at {min_image - 1} MiB: " + (f"morgana exited with status {exited}" if exited is not None
                                                       else "no answer within 60 s") + (f", `{last}`" if last else ""))
    refused = [re.search(r"at least (\d+) MiB", last) for _, exited, last in detail.values() if exited == 2]
    refused = max((int(m.group(1)) for m in refused if m), default=None)
    print(f"  static-site image      {min_image if min_image is not None else 'none'} MiB  (morgana run --memory, "
          f"bisected over {MEMORY_RANGE[0] + 1}..{MEMORY_RANGE[1]}{why_below}"
          + (f"; morgana itself refuses below {refused} MiB, the image's end + 4 MiB" if refused else "") + ")")
    if min_image is None:
        failures.append(f"the image did not serve even with {MEMORY_RANGE[1]} MiB: {detail.get(MEMORY_RANGE[1])}")
    if quote_linux_memory:
        print(f"  Linux peer (nginx)     {PEER_QUOTED_MEMORY} MiB  (quoted from the peer's README, not measured)")
    else:
        print(f"  Linux peer (nginx)     {min_peer if min_peer is not None else 'none'} MiB  (READY and its page served; "
              f"benches/boot.py's search over {PEER_MEMORY_RANGE[0] + 1}..{PEER_MEMORY_RANGE[1]})")
    print()

    notes = []
    for key in "abcd":
        r = results[key]
        side_notes(r, notes, failures)
        if r.get("log") and r.get("run") and r.get("warmup"):
            served, other = r["log"]
            counted = sum(r[k]["requests"] or 0 for k in ("warmup", "run"))
            # This script's own GET /s: the first answer, the page check, 2 rounds of the
            # concurrency check, the fresh connection, the GET after the run.
            ours_ = 1 + 1 + 2 * CONCURRENT + 1 + 1
            extra = (served or 0) - counted - ours_
            notes.append(f"{r['name']}: the request log has {served} `{LOG_MATCH.decode().strip()}` lines; wrk counted "
                         f"{counted} responses in its 2 runs and this script made {ours_} requests: "
                         f"{extra:+d} (0 to +20 expected: wrk does not count the answers in flight when it stops"
                         f", 10 connections x 2 runs)" + ("" if extra >= 0 else ": LOG LINES MISSING"))
            if extra < 0:
                failures.append(f"{r['name']}: {-extra} request log lines missing")
            if other:
                notes.append(f"{r['name']}: {len(other)} other stderr line(s), e.g. `{other[0]}`"
                             + (f" ... `{other[-1]}`" if len(other) > 1 else ""))
    print_notes("static.py", notes, busy_others, elapsed, OUT, failures)


if __name__ == "__main__":
    main()
