#!/usr/bin/env python3
"""Benchmark: HTTP/1.1 requests per second and latency of a `wasi:http/proxy` handler,
examples/http-proxy-hello (`GET /`: `Hello, wasi:http!\\n`, 18 bytes, text/plain, with
Content-Length), served by Morgana on both targets, beside the reference runtime serving the
same component file (`wasmtime serve` 48.0.8) and beside nginx in the Linux microVM peer under
the same QEMU settings, all measured in one run with the same wrk settings.

  (a) Morgana, qemu target: IMAGE is `morgana build examples/http-proxy-hello --target qemu -o
      target/wasi-http-bench/http-proxy-hello.img`, run as
      `morgana run IMAGE --target qemu --accel tcg --listen 127.0.0.1:P --env GREETING=Hello`
      (TCG, -cpu max, -M microvm, the default 128M, QEMU user networking forwarding 127.0.0.1:P
      to port P of the VM, where the kernel serves the handler over morgana-http: a fresh
      pre-linked instance per request, as `wasmtime serve`; no --timeout, so no epoch ticks; no
      request log: the kernel prints its `Serving HTTP on` banner and errors only). Both QEMU
      command lines, (a)'s and (d)'s, are read from /proc and printed beside each other; their
      -accel, -cpu, -m and machine type are checked to be the same.
  (b) Morgana, unix target: `morgana run COMPONENT --listen 127.0.0.1:P --env GREETING=Hello`
      (wasmtime 48.0.8 inside morgana with wasmtime-wasi-http and hyper, as `wasmtime serve`;
      a fresh instance per request; the pooling allocator when the machine can reserve 2^42
      bytes, the probe `wasmtime serve` uses; epoch interruption off, as no --timeout is given;
      no request log). COMPONENT is
      `morgana build examples/http-proxy-hello -o target/wasi-http-bench/http-proxy-hello.wasm`,
      built here by a copy of target/release/morgana taken at the start.
  (c) `wasmtime serve -Scli --addr 127.0.0.1:P --env GREETING=Hello COMPONENT`, wasmtime-cli
      48.0.8, the same file: a fresh instance per request, the pooling allocator as it decides by
      default (the same 2^42-byte probe), no -W timeout (so no epoch interruption), no request
      log. `-Scli` because the handler (Rust std) imports wasi:cli/environment, which the bare
      proxy world lacks. Found as $WASMTIME, on PATH or in ~/.cargo/bin; installed with
      `cargo install wasmtime-cli@48.0.8 --locked` when no 48.0.8 is found (12 to 15 minutes on
      2 cores).
  (d) The Linux microVM peer (../shared/peers/linux-microvm, booted by run-peer.sh as the other
      HTTP benchmarks boot it): Debian's kernel as a PVH vmlinux with the peer's tuned arguments,
      -m 128M, TCG, -cpu max, -M microvm, user networking with a host port forward; its nginx
      initramfs (1 worker, access_log off, sendfile, keep-alive) with /www/index.html replaced by
      the 18 bytes of (b)'s `GET /` and text/plain as its only type (benches/linux_peer.py's
      derived_initrd: target/linux-microvm-peer/initrd-nginx-hello.cpio.gz). It is the peer of (a).

For each: start it, wait until `GET /` answers status 200 with exactly the 18 bytes (a TCP
connect, or any answer, is not enough: QEMU's forwarder accepts connections before the guest
listens, then drops them; 120 s at most), check the page again, record the raw response head
and the server's virtual size (a pooling allocator reserves terabytes up front), one warm-up
`wrk -t2 -c10 -d5s URL`, then `wrk -t2 -c10 -d10s --latency URL`, then stop it. Reported:
req/s, mean, p50, p99 latency, wrk's errors (non-2xx/3xx; socket connect/read/write/timeout),
bytes per response (wrk's bytes read / requests: headers + body), the server's CPU per request,
the CPU every process used meanwhile; ratios b/c (goal: >= 1.0) and a/d. Every server runs without RUST_BACKTRACE and
RUST_LIB_BACKTRACE (removed from this script's environment when set: with them, every wasmtime
error captures a host backtrace, which taxes wasmtime serve's request path more than morgana's).
The handler's panics and the servers' error lines on standard error are counted.

Usage: benches/wasi_http.py            (about a minute, plus wasmtime's install when missing;
                                        writes to target/wasi-http-bench/)
       benches/wasi_http.py --quick    (short runs, for trying it out: 2 s warm-up, 3 s measured)
Installs missing Debian packages with apt-get (needs root). All traffic is on loopback. Exits
with status 1 when a configuration could not be measured or a check failed (the report says
which), 2 when something it needs is missing.
"""

import collections
import ctypes
import hashlib
import os
import select
import shutil
import socket
import subprocess
import sys
import time

import bench_http
import linux_peer
from bench_http import (alive, check_exact, copy_morgana, free_port, measure, PEER_DIR, PEER_SRC, PEER_TUNED_ARGS,
                        prepare_peer, print_cpu_table, print_notes, PROBE_TIMEOUT, progress, ROOT, side_notes,
                        start_morgana, tree, versions)

OUT = os.path.join(ROOT, "target", "wasi-http-bench")
EXAMPLE = "examples/http-proxy-hello"
PAGE = b"Hello, wasi:http!\n"  # its `GET /` with GREETING=Hello
GREETING = "GREETING=Hello"
WASMTIME_VERSION = "48.0.8"
PEER_MEMORY = "128M"  # the peer's -m, and morgana's default on qemu
PEER_SERVER = "nginx-hello"  # run-peer.sh boots initrd-nginx-hello.cpio.gz from the peer's directory
READY_TIMEOUT = 120  # seconds a server has to answer GET / with 200 and the 18 bytes
QEMU_SAME = ("-accel", "-cpu", "-m")  # QEMU options (a) and (d) must give alike (and -M's machine type)
POOLING_VSZ = 1 << 40  # a server reserving more address space than this runs a pooling allocator
MORGANA = os.path.join(OUT, "morgana")  # a copy of target/release/morgana, as static.py takes
QUICK_WARMUP = ["wrk", "-t2", "-c10", "-d2s"]
QUICK_MEASURE = ["wrk", "-t2", "-c10", "-d3s", "--latency"]
KEYS = "abcd"
BACKTRACE_VARS = ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")
CLOSED_PANIC = "the client takes the body: StreamError::Closed"  # examples/http-proxy-hello's expect()


def fail(message):
    print(f"wasi_http.py: {message}", file=sys.stderr)
    sys.exit(2)


def rel(text):
    return str(text).replace(ROOT + "/", "")


# ---------------------------------------------------------------------------------------------
# wasmtime


def wasmtime_version(exe):
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out or None


def ensure_wasmtime():
    """(path, `wasmtime --version`, how it was found) of a wasmtime 48.0.8: $WASMTIME, PATH,
    ~/.cargo/bin, this benchmark's own install; else installed with cargo (into ~/.cargo/bin, or
    into target/wasi-http-bench/wasmtime when ~/.cargo/bin holds another version)."""
    cargo_bin = os.path.expanduser("~/.cargo/bin/wasmtime")
    own_root = os.path.join(OUT, f"wasmtime-{WASMTIME_VERSION}")
    candidates = [("$WASMTIME", os.environ.get("WASMTIME")), ("PATH", shutil.which("wasmtime")),
                  ("~/.cargo/bin", cargo_bin), ("an earlier install by this benchmark", os.path.join(own_root, "bin", "wasmtime"))]
    seen = []
    for how, exe in candidates:
        if not exe or not os.path.exists(exe):
            continue
        version = wasmtime_version(exe)
        seen.append(f"{exe}: {version or 'no --version'}")
        if version and version.split()[1:2] == [WASMTIME_VERSION]:
            return exe, version, how
    if os.environ.get("WASMTIME"):
        fail(f"$WASMTIME is {os.environ['WASMTIME']}, not wasmtime {WASMTIME_VERSION} ({'; '.join(seen)})")
    root = own_root if os.path.exists(cargo_bin) else None  # never replace another version in ~/.cargo/bin
    cmd = ["cargo", "install", f"wasmtime-cli@{WASMTIME_VERSION}", "--locked"] + (["--root", root] if root else [])
    log = os.path.join(OUT, "wasmtime-install.log")
    progress(f"no wasmtime {WASMTIME_VERSION} found ({'; '.join(seen) or 'none at all'}); `{' '.join(rel(c) for c in cmd)}` "
             f"(12 to 15 minutes on 2 cores; its output in {rel(log)})...")
    began = time.monotonic()
    report = began + 60
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=OUT, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            time.sleep(1)
            if time.monotonic() >= report:
                report += 60
                lines = open(log, errors="replace").read().splitlines()
                compiled = sum(1 for l in lines if l.strip().startswith("Compiling "))
                last = next((l.strip() for l in reversed(lines) if l.strip()), "")
                progress(f"  installing wasmtime: {time.monotonic() - began:.0f} s, {compiled} crates compiled; `{last[:80]}`")
    if proc.returncode != 0:
        tail = open(log, errors="replace").read().strip().splitlines()[-5:]
        fail(f"`{' '.join(cmd)}` failed (status {proc.returncode}):\n  " + "\n  ".join(tail))
    exe = os.path.join(root, "bin", "wasmtime") if root else cargo_bin
    progress(f"installed {exe} in {time.monotonic() - began:.0f} s")
    return exe, wasmtime_version(exe), f"installed by this run in {time.monotonic() - began:.0f} s"


def start_wasmtime_serve(wasmtime, component, port, log):
    cmd = [wasmtime, "serve", "-Scli", "--addr", f"127.0.0.1:{port}", "--env", GREETING, component]
    out = open(log + ".stdout", "wb")
    err = open(log + ".stderr", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def stop():
        notes = []
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            notes.append("wasmtime serve did not exit within 10 s of SIGTERM; killed")
            proc.kill()
            proc.wait()
        out.close()
        err.close()
        return notes

    return {"url": f"http://127.0.0.1:{port}/", "pids": lambda: tree(proc.pid), "stop": stop,
            "alive": lambda: proc.poll() is None, "log": log, "cmd": " ".join(cmd), "proc": proc}


# ---------------------------------------------------------------------------------------------
# The peer: its nginx initramfs serving the 18 bytes


def peer_initrd(page):
    conf = ("user root;\nworker_processes 1;\ndaemon on;\npid /run/nginx.pid;\nerror_log /dev/null crit;\n"
            "events { worker_connections 1024; }\n"
            "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n"
            "  types { }\n  default_type text/plain;\n  server { listen 80 default_server; root /www; }\n}\n")
    linux_peer.derived_initrd(os.path.join(PEER_DIR, "initrd-nginx.cpio.gz"),
                              os.path.join(PEER_DIR, f"initrd-{PEER_SERVER}.cpio.gz"),
                              {"/etc/nginx/nginx.conf": conf.encode(), "/www/index.html": page})


def start_peer(port):
    srv, why = linux_peer.boot(PEER_SRC, PEER_DIR, PEER_SERVER, port, PEER_MEMORY, PEER_TUNED_ARGS)
    if not srv:
        return None, why
    pid = srv["pid"]
    return {"url": f"http://127.0.0.1:{port}/", "pids": lambda: [pid], "stop": srv["stop"],
            "alive": lambda: alive(pid), "boot_ms": srv["boot_ms"], "main_pid": pid}, None


# ---------------------------------------------------------------------------------------------
# Checks made before the warm-up


def response_head(url, timeout=5):
    """The raw head of one `GET /` (HTTP/1.1, keep-alive) and the body's length, or an error."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            data, deadline = b"", time.monotonic() + timeout
            while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + len(PAGE):
                if not select.select([s], [], [], max(deadline - time.monotonic(), 0))[0]:
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return {"error": str(e)}
    head, _, body = data.partition(b"\r\n\r\n")
    return {"head": head.decode("latin-1").split("\r\n"), "body": len(body)}


def vm_size(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def can_reserve(bits=42):
    """Whether this process can reserve 2^bits bytes of address space (PROT_NONE, no swap
    reservation): what wasmtime's probe for the pooling allocator amounts to."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE = 0x02, 0x20, 0x4000
    address = libc.mmap(None, 1 << bits, 0, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        return False
    libc.munmap(address, 1 << bits)
    return True


def before_checks(main_pid):
    def before(url):
        return {"head": response_head(url), "vsz": vm_size(main_pid()) if main_pid else None}
    return before


def stderr_lines(log):
    try:
        return [l.rstrip() for l in open(log + ".stderr", errors="replace") if l.strip()]
    except OSError:
        return None


def wait_ready(srv, timeout=READY_TIMEOUT):
    """Retries `GET /` (a fresh connection each time) until it answers status 200 with exactly
    the 18 bytes: a connection QEMU's forwarder accepts before the guest listens is dropped, and
    an answer of another status or body is not the server ready. Returns {seconds (None if it
    never did), tries, last (what the last failed try got), banner (seconds until `Serving HTTP
    on` was on the server's standard error, when it has a log)}."""
    began = time.monotonic()
    ready = {"seconds": None, "tries": 0, "last": None, "banner": None}

    def banner():
        if ready["banner"] is None and "log" in srv and any(
                l.startswith("Serving HTTP on") for l in stderr_lines(srv["log"]) or []):
            ready["banner"] = time.monotonic() - began

    while time.monotonic() - began < timeout:
        banner()
        if not srv["alive"]():
            ready["last"] = f"{ready['last']}; the server had exited" if ready["last"] else "the server had exited"
            return ready
        ready["tries"] += 1
        status, body = bench_http.get(srv["url"], timeout=2)
        if status == 200 and body == PAGE:
            ready["seconds"] = time.monotonic() - began
            banner()  # written meanwhile: then its time is an upper bound
            return ready
        ready["last"] = (f"status {status}, {len(body)}-byte body" if status is not None else f"error: {body}")
        time.sleep(0.1)
    return ready


def measure_ready(name, srv, main_pid):
    """`measure` of one side once `wait_ready` saw it serve the page; else a result noting that it
    never did (a failure), its log's last line and its stop's notes. main_pid() (or None) gives
    the process whose virtual size is recorded."""
    ready = wait_ready(srv)
    progress(f"{name}: " + (f"serves the 18 bytes after {ready['seconds']:.2f} s ({ready['tries']} tries)"
                            if ready["seconds"] is not None else f"never served them: {ready['last']}"))
    if main_pid:
        main_pid()  # once here, before a stop: a side may note its process (a's QEMU) on the way
    if ready["seconds"] is None:
        why = (f"never answered GET / with status 200 and the 18 bytes within {READY_TIMEOUT} s "
               f"({ready['tries']} tries; the last: {ready['last']})")
        if "log" in srv:
            tail = (stderr_lines(srv["log"]) or [])[-1:]
            why += f"; the last line of its standard error: `{tail[0] if tail else ''}`"
        result = {"name": name, "notes": [why] + srv["stop"](), "ready": ready}
        if "log" in srv:
            result["stderr"] = stderr_lines(srv["log"])
        return result
    result = measure(name, srv, check_exact(PAGE), before=before_checks(main_pid))
    result["ready"] = ready
    if "waited" in result:
        result["waited"] = ready["seconds"]  # from the start (for (d), from READY) to the first 200 with the page
    return result


def wrk_errors(run):
    """What went wrong in one wrk run (non-2xx/3xx answers, socket errors, its exit status), or ''."""
    wrong = []
    if run["non2xx"]:
        wrong.append(f"{run['non2xx']} non-2xx/3xx of {run['requests']} responses")
    if any(run["socket"].values()):
        wrong.append("socket errors " + ", ".join(f"{k} {n}" for k, n in run["socket"].items() if n))
    if run["status"] != 0:
        wrong.append(f"wrk's exit status {run['status']}")
    return "; ".join(wrong)


def qemu_args(pid):
    """The command line of QEMU process `pid` (from /proc), or None."""
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]
    except OSError:
        return None
    return [a.decode(errors="replace") for a in args] or None


def qemu_option(args, option):
    """The value of `option` in QEMU's `args` (for -M, its machine type), or None."""
    if not args or option not in args[:-1]:
        return None
    value = args[args.index(option) + 1]
    return value.split(",")[0] if option == "-M" else value


# ---------------------------------------------------------------------------------------------


def build(cmd):
    done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode == 0:
        return True, None
    lines = [l.strip() for l in done.stderr.splitlines() if l.strip()]
    first = next((l for l in lines if l.lower().startswith("error")), lines[0] if lines else f"status {done.returncode}")
    return False, first


def binary_staleness():
    """Source files (of the workspace's crates, not benches/examples/tests) changed after
    target/release/morgana was built, by modification time: a hint that it is not this tree."""
    release = os.path.join(ROOT, "target", "release", "morgana")
    built = os.path.getmtime(release)
    listed = subprocess.run(["git", "ls-files", "-m", "-o", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True).stdout.split()
    newer = []
    for path in listed:
        if path.startswith(("benches/", "examples/", "tests/", "docs/")) or not path.endswith((".rs", ".toml", ".lock", ".wit")):
            continue
        full = os.path.join(ROOT, path)
        if os.path.exists(full) and os.path.getmtime(full) > built:
            newer.append(path)
    return newer


def main():
    args = sys.argv[1:]
    if args not in ([], ["--quick"]):
        sys.exit(__doc__)
    quick = bool(args)
    if quick:
        bench_http.WARMUP, bench_http.MEASURE = QUICK_WARMUP, QUICK_MEASURE
    began = time.monotonic()
    # Not inherited by the servers: with RUST_BACKTRACE=1 every wasmtime error captures a host
    # backtrace, errors wasmtime serve makes and discards on its request path included (about 9%
    # of its req/s on the build machine, 2% of morgana's).
    backtrace_env = {name: os.environ.pop(name) for name in BACKTRACE_VARS if name in os.environ}
    os.makedirs(OUT, exist_ok=True)
    linux_peer.ensure_packages(progress)
    wasmtime, wasmtime_said, wasmtime_how = ensure_wasmtime()
    copy_morgana(MORGANA, fail)
    stale = binary_staleness()

    progress(f"building {EXAMPLE} for both targets...")
    component = os.path.join(OUT, "http-proxy-hello.wasm")
    image = os.path.join(OUT, "http-proxy-hello.img")
    ok, why = build([MORGANA, "build", EXAMPLE, "-o", component])
    if not ok:
        fail(f"`morgana build {EXAMPLE} -o {rel(component)}` failed: {why}")
    image_built = build([MORGANA, "build", EXAMPLE, "--target", "qemu", "-o", image])
    digest = hashlib.sha256(open(component, "rb").read()).hexdigest()
    progress("preparing the Linux peer's initramfs with nginx serving the 18 bytes...")
    prepare_peer()
    peer_initrd(PAGE)
    pooling_probe = can_reserve()
    load_before = open("/proc/loadavg").read().split()[:3]

    results = {}
    # (b) first: its page is what every other side must serve.
    progress("(b) Morgana unix...")
    port = free_port()
    srv = start_morgana(MORGANA, "unix", component, port, os.path.join(OUT, "unix"), port_env=None,
                        run_args=["--listen", f"127.0.0.1:{port}", "--env", GREETING])
    results["b"] = measure_ready("(b) Morgana unix", srv, lambda: srv["proc"].pid)
    results["b"]["cmd"] = srv["cmd"]
    results["b"]["stderr"] = stderr_lines(srv["log"])

    progress(f"(c) wasmtime serve {WASMTIME_VERSION}...")
    port = free_port()
    srv_c = start_wasmtime_serve(wasmtime, component, port, os.path.join(OUT, "wasmtime"))
    results["c"] = measure_ready("(c) wasmtime serve", srv_c, lambda: srv_c["proc"].pid)
    results["c"]["cmd"] = srv_c["cmd"]
    results["c"]["stderr"] = stderr_lines(srv_c["log"])

    progress("(d) Linux microVM peer with nginx (boots in a few seconds)...")
    srv_d, why = start_peer(free_port())
    if srv_d:
        qemu_d = qemu_args(srv_d["main_pid"])
        results["d"] = measure_ready("(d) Linux VM nginx", srv_d, None)
        results["d"]["boot_ms"] = srv_d["boot_ms"]
        results["d"]["qemu"] = qemu_d
    else:
        results["d"] = {"name": "(d) Linux VM nginx", "notes": [f"run-peer.sh failed: {why}"]}

    if image_built[0]:
        progress("(a) Morgana qemu...")
        port = free_port()
        srv_a = start_morgana(MORGANA, "qemu", image, port, os.path.join(OUT, "qemu"), guest_ports=(), port_env=None,
                              run_args=["--listen", f"127.0.0.1:{port}", "--env", GREETING])
        qemu_a = {}

        def qemu_pid():
            """QEMU, morgana's child: its command line is kept for the report."""
            for pid in tree(srv_a["proc"].pid)[1:]:
                args = qemu_args(pid)
                if args and os.path.basename(args[0]).startswith("qemu-system"):
                    qemu_a.setdefault("args", args)
                    return pid
            return None

        results["a"] = measure_ready("(a) Morgana qemu", srv_a, qemu_pid)
        results["a"]["cmd"] = srv_a["cmd"]
        results["a"]["qemu"] = qemu_a.get("args")
        results["a"]["stderr"] = stderr_lines(srv_a["log"])
    else:
        progress(f"(a) Morgana qemu: not measured: {image_built[1]}")
        results["a"] = {"name": "(a) Morgana qemu", "notes": [], "not_built": image_built[1]}

    load_after = open("/proc/loadavg").read().split()[:3]
    elapsed = time.monotonic() - began

    # -----------------------------------------------------------------------------------------
    v = versions()
    failures, notes = [], []
    warmup_cmd, measure_cmd = " ".join(bench_http.WARMUP), " ".join(bench_http.MEASURE)

    def pooling(key):
        vsz = (results[key].get("before") or {}).get("vsz")
        if vsz is None:
            return "?"
        return f"{'ON' if vsz > POOLING_VSZ else 'off'} (virtual size {vsz / (1 << 40):.2f} TiB after the first requests)"

    print("wasi:http benchmark: examples/http-proxy-hello (GET /, 18 bytes) served by Morgana on both targets vs "
          f"wasmtime serve {WASMTIME_VERSION} and a Linux microVM with nginx" + (" [--quick]" if quick else ""))
    print(f"  host      {v['cpu']}, {os.cpu_count()} CPUs, Linux {os.uname().release}, load average "
          f"{' '.join(load_before)} before, {' '.join(load_after)} after")
    print(f"  morgana   {v['commit']}{' (uncommitted changes)' if v['dirty'] else ''}, release build, copied to "
          f"{rel(MORGANA)} at the start"
          + (f"; WARNING: target/release/morgana is older than {len(stale)} changed source file(s) "
             f"({', '.join(stale[:4])}{', ...' if len(stale) > 4 else ''})" if stale else
             "; no changed source file is newer than it"))
    print(f"  wasmtime  {wasmtime_said} ({rel(wasmtime)}, {wasmtime_how})")
    print(f"  component {rel(component)}: {os.path.getsize(component)} bytes, sha256 {digest[:16]}..., served by (b) "
          "and (c) alike")
    print(f"  load      {v['wrk']}: warm-up `{warmup_cmd} URL`, then `{measure_cmd} URL` (reported); all on 127.0.0.1")
    print(f"  env       {' and '.join(BACKTRACE_VARS)} unset for every server"
          + (f" (this script was started with {', '.join(f'{k}={v}' for k, v in backtrace_env.items())}: removed, as "
             "a backtrace captured at every wasmtime error would tax the sides unequally)" if backtrace_env else ""))
    print(f"  probe     this machine can reserve 2^42 bytes of address space: {'yes' if pooling_probe else 'no'} "
          f"(the test wasmtime serve and morgana both make for the pooling allocator)")
    print(f"  (a)       `morgana build {EXAMPLE} --target qemu -o {rel(image)}`: "
          + (f"built ({os.path.getsize(image) / (1 << 20):.1f} MiB); " + rel(results['a'].get('cmd', '?'))
             if image_built[0] else f"FAILED: {image_built[1]}"))
    print(f"            {v['qemu']}, -M microvm, -accel tcg -cpu max, -m 128M (morgana's default), user networking "
          "forwarding 127.0.0.1:P to the VM's port P; the kernel serves the handler over morgana-http (HTTP/1.1, "
          "keep-alive), a fresh pre-linked instance per request; no --timeout (no epoch ticks); no request log")
    print(f"  (b)       {rel(results['b'].get('cmd', '?'))}")
    print(f"            wasmtime 48.0.8 inside morgana (wasmtime-wasi-http + hyper HTTP/1.1, keep-alive, tokio "
          "multi-threaded); a fresh instance per request from one pre-instantiation; pooling allocator "
          f"{pooling('b')}, chosen by the same 2^42-byte probe as wasmtime serve; no epoch interruption (no "
          "--timeout); no request log")
    print(f"  (c)       {rel(results['c'].get('cmd', '?'))}")
    print(f"            wasmtime serve's defaults: a fresh instance per request; pooling allocator {pooling('c')}, "
          "its own default; -Scli (the handler imports wasi:cli/environment); no -W timeout (no epoch "
          "interruption); no request log; it adds INSTANCE_ID to each instance's environment and prefixes the "
          "handler's output with `stderr [N] ::`")
    print(f"  (d)       Linux microVM peer: Debian {v['guest_kernel']} PVH vmlinux + `{PEER_TUNED_ARGS}`, its nginx "
          f"initramfs with /www/index.html = the 18 bytes, text/plain ({v['nginx']}, 1 worker, access_log off, "
          f"sendfile, keep-alive), -m {PEER_MEMORY}, -accel tcg -cpu max, -M microvm, user networking hostfwd"
          + (f"; booted to READY in {results['d']['boot_ms']} ms" if "boot_ms" in results["d"] else ""))
    print("  QEMU      the command lines of (a) and (d), read from /proc while they served:")
    for key in "ad":
        args = results[key].get("qemu")
        print(f"    ({key}) " + (" ".join(rel(a) for a in args) if args else "? (not read: it was not started or "
                                                                            "had exited)"))
    if results["a"].get("qemu") and results["d"].get("qemu"):
        differ = [o for o in QEMU_SAME + ("-M",)
                  if qemu_option(results["a"]["qemu"], o) != qemu_option(results["d"]["qemu"], o)]
        same = ", ".join(f"{o} {qemu_option(results['a']['qemu'], o)}" for o in QEMU_SAME + ("-M",) if o not in differ)
        print(f"            alike: {same or 'none of ' + ' '.join(QEMU_SAME + ('-M',))}")
        if differ:
            text = ", ".join(f"{o}: (a) {qemu_option(results['a']['qemu'], o)} vs (d) {qemu_option(results['d']['qemu'], o)}"
                             for o in differ)
            print(f"            DIFFERENT: {text}")
            failures.append(f"(a) and (d) do not run under the same QEMU settings: {text}")
        print("            (the rest differs by what each guest needs: the peer's -initrd, its console on -serial "
              "stdio; morgana's -M options (pit, pic, rtc, isa-serial), its console channel (virtio-serial), COM2 for the "
              "kernel's messages, isa-debug-exit for the exit status)")
    pages = ", ".join(f"({k}) {len(results[k]['page'])} B {'exact' if results[k]['page'] == PAGE else 'WRONG'}"
                      for k in KEYS if "page" in results[k])
    print(f"  pages     GET / body, expected exactly {PAGE!r}: {pages or 'none fetched'}")
    print()

    print("Response heads (one GET / before the warm-up; date values elided)")
    for key in KEYS:
        head = ((results[key].get("before") or {}).get("head") or {})
        if "head" in head:
            lines = [l if not l.lower().startswith("date:") else "date: ..." for l in head["head"]]
            print(f"  {results[key]['name']:<22} " + " | ".join(lines))
        elif "error" in head:
            print(f"  {results[key]['name']:<22} error: {head['error']}")
    print()

    print(f"Measured run ({measure_cmd.split('-d')[1].split()[0]}, 2 threads, 10 connections)")
    print(f"  {'server':<22} {'req/s':>9} {'mean':>8} {'p50':>8} {'p99':>8} {'B/resp':>7} {'CPU/req':>8} {'new conn':>9}  "
          "errors (non-2xx; connect/read/write/timeout)")
    ms = lambda x: "?" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")
    for key in KEYS:
        r = results[key]
        run = r.get("run")
        if "not_built" in r:
            print(f"  {r['name']:<22} not measured: {r['not_built']}")
            failures.append(f"{r['name']}: not measured: `morgana build {EXAMPLE} --target qemu` failed: "
                            f"{r['not_built'][:160]}{'...' if len(r['not_built']) > 160 else ''}")
            continue
        if not run or run["rps"] is None:
            print(f"  {r['name']:<22} not measured: {'; '.join(r['notes']) or (run or {}).get('text', '')[:200]}")
            failures.append(f"{r['name']}: not measured")
            continue
        per = run["bytes"] / run["requests"] if run["requests"] else float("nan")
        cpu = run["server_cpu"] / run["requests"] * 1e6 if run["requests"] else float("nan")
        p = r.get("probe", {})
        fresh = (f"{p['seconds'] * 1000:.1f}ms" if p.get("status") == 200 else
                 f"none{PROBE_TIMEOUT}s" if p.get("status") is None else f"st {p['status']}")
        s = run["socket"]
        errors = f"{run['non2xx']}; " + "/".join(str(s.get(k, 0)) for k in ("connect", "read", "write", "timeout"))
        print(f"  {r['name']:<22} {run['rps']:>9.0f} {ms(run['mean_ms']):>8} {ms(run['p50_ms']):>8} "
              f"{ms(run['p99_ms']):>8} {per:>7.0f} {cpu:>6.0f}us {fresh:>9}  {errors}")
    print("  latencies in ms (wrk); B/resp = wrk's bytes read / requests (headers + body); CPU/req = the server's")
    print("  CPU time (all its threads; for (d) the whole QEMU) / wrk's requests; new conn = time for GET / on an")
    print(f"  11th, fresh connection opened 3 s into the run (none{PROBE_TIMEOUT}s: no answer within {PROBE_TIMEOUT} s)")
    print()

    print("Start and warm-up run")
    print(f"  {'server':<22} {'banner after':>12} {'serves after':>12} {'tries':>5} {'first GET':>10} {'warm-up req/s':>14}")
    for key in KEYS:
        r = results[key]
        ready = r.get("ready")
        if not ready:
            continue
        banner = f"{ready['banner']:.2f} s" if ready["banner"] is not None else "-"
        serves = f"{ready['seconds']:.2f} s" if ready["seconds"] is not None else "never"
        first = f"{r['first_get'] * 1000:.1f} ms" if "first_get" in r else "-"
        w = r.get("warmup") or {}
        print(f"  {r['name']:<22} {banner:>12} {serves:>12} {ready['tries']:>5} {first:>10} "
              f"{w.get('rps') if w.get('rps') is not None else float('nan'):>14.0f}")
    print("  (from starting it (for (d), from READY): banner after = until `Serving HTTP on` was seen on its")
    print("  standard error (looked for before each try and after the last); serves after = until a GET / on a")
    print("  fresh connection was answered 200 with the 18 bytes, and the tries it took (one every 0.1 s; QEMU's")
    print("  forwarder accepts and drops connections before the guest listens), compilation included (both")
    print("  unix sides use wasmtime's compilation cache); first GET = the next GET /, timed)")
    print()

    busy_others = print_cpu_table(results, KEYS, "wrk")

    print("Ratios (measured run)")

    def ratio(x, y, what, goal=None):
        rx, ry = results[x].get("run"), results[y].get("run")
        if not rx or not ry or rx["rps"] is None or ry["rps"] is None:
            missing = [results[k]["name"] for k in (x, y) if not results[k].get("run") or results[k]["run"]["rps"] is None]
            print(f"  {what}: not measured ({', '.join(missing)} not measured)")
            return
        q = rx["rps"] / ry["rps"]
        invalid = [f"{results[k]['name']}'s run had errors ({wrk_errors(results[k]['run'])})" for k in (x, y)
                   if wrk_errors(results[k]["run"])]
        cpu_x, cpu_y = rx["server_cpu"] / rx["requests"], ry["server_cpu"] / ry["requests"]
        print(f"  {what}: req/s {rx['rps']:.0f} / {ry['rps']:.0f} = {q:.3f}; p50 {ms(rx['p50_ms'])} / "
              f"{ms(ry['p50_ms'])} ms = {rx['p50_ms'] / ry['p50_ms']:.2f}; p99 {ms(rx['p99_ms'])} / {ms(ry['p99_ms'])} ms"
              f" = {rx['p99_ms'] / ry['p99_ms']:.2f}; server CPU per request {cpu_x * 1e6:.0f} / {cpu_y * 1e6:.0f} us = "
              f"{cpu_x / cpu_y:.2f}")
        if invalid:
            print(f"       NOT VALID: {'; '.join(invalid)}")
        elif goal is not None:
            print(f"       goal req/s ratio >= {goal:.1f}: {'met' if q >= goal else 'NOT met'}")

    ratio("b", "c", f"b/c  Morgana unix vs wasmtime serve {WASMTIME_VERSION}, the same component file", goal=1.0)
    ratio("a", "d", "a/d  Morgana qemu vs Linux VM nginx, same QEMU accel/cpu/machine/-m, the same 18 bytes")
    print()

    for key in KEYS:
        r = results[key]
        side_notes(r, notes, failures)
        # Beyond side_notes: any wrk error, or a GET / after the run not answered 200, fails the run.
        for label in ("warmup", "run"):
            run = r.get(label)
            if run and wrk_errors(run):
                failures.append(f"{r['name']}: its {label} had errors: {wrk_errors(run)}")
        if "after" in r and r["after"][0] != 200:
            failures.append(f"{r['name']}: GET / right after the measured run: status {r['after'][0]}")
        if r.get("stderr") is not None:
            lines = r["stderr"]
            other = [l for l in lines if not l.startswith("Serving HTTP on")]
            panics = sum(1 for l in lines if "panicked at" in l)
            closed = sum(1 for l in lines if CLOSED_PANIC in l)
            workers = sum(1 for l in lines if l.startswith("worker failed"))
            served = sum((r[k] or {}).get("requests") or 0 for k in ("warmup", "run") if r.get(k))
            text = (f"{r['name']}: standard error has {len(lines)} line(s), {len(other)} besides the `Serving HTTP on` "
                    "banner (no request log)")
            if panics or workers:
                text += (f"; the handler panicked (trapped) {panics} time(s) in about {served} requests, "
                         f"{closed} of them `{CLOSED_PANIC}` (its write or flush of the 18-byte body after the "
                         "response was set), and the server reported "
                         f"{workers} `worker failed` trap(s) with backtraces")
            elif other:
                text += f": `{other[0]}`" + (f" ... `{other[-1]}`" if len(other) > 1 else "")
            errors = collections.Counter(l for l in other if l.startswith("error"))
            causes = collections.Counter(l.strip() for l in other if l.lstrip().startswith("0: "))
            if errors:
                text += ("; its error lines: " + ", ".join(f"{n} x `{l}`" for l, n in errors.most_common(3))
                         + (f", {len(errors) - 3} other kind(s)" if len(errors) > 3 else ""))
            if causes:
                text += ("; their first causes: " + ", ".join(f"{n} x `{l}`" for l, n in causes.most_common(3))
                         + (f", {len(causes) - 3} other kind(s)" if len(causes) > 3 else ""))
            notes.append(text)
    heads = {k: (results[k].get("before") or {}).get("head", {}).get("head") for k in "bc"}
    if heads["b"] and heads["c"]:
        names = lambda h: sorted(l.split(":")[0].lower() for l in h[1:])
        if names(heads["b"]) != names(heads["c"]):
            notes.append(f"the response heads of (b) and (c) have different header names: {names(heads['b'])} vs "
                         f"{names(heads['c'])}")
    traps = {k: sum(1 for l in results[k].get("stderr") or [] if CLOSED_PANIC in l) for k in "bc"}
    if traps["b"] or traps["c"]:
        morgana_errors = sum(1 for l in results["b"].get("stderr") or [] if l.startswith("error"))
        notes.append(f"the `{CLOSED_PANIC}` traps ((b) {traps['b']}, (c) {traps['c']}) while wrk saw no error: the "
                     "responses were complete, so the handler's body stream was closed after the host had its 18 "
                     "Content-Length bytes and dropped the body, before the handler's last `flush` (which "
                     "examples/http-proxy-hello `expect`s to succeed): a race of the handler with the host's body "
                     "task. Each costs its server a trap, too few to move the figures"
                     + (f"; morgana printed {morgana_errors} error line(s) for them (its unix server drops a "
                        "handler's failure once the response is set), wasmtime serve a `worker failed` per trap"
                        if traps["b"] else ""))
    if failures:
        notes.append("this run exits with status 1, as a configuration could not be measured or a check failed: "
                     + "; ".join(f.split(": `morgana build")[0] + (" (its image does not build: see the table)"
                                                                      if ": `morgana build" in f else "")
                                 for f in failures))
    print_notes("wasi_http.py", notes, busy_others, elapsed, OUT, failures)


if __name__ == "__main__":
    main()
