#!/usr/bin/env python3
"""Benchmark: TLS on examples/https-site (components/http-server built with its `tls` feature,
components/tls -- rustls with ring, inside a wasm component -- the static-site handler and
components/syslog; the private key held by the host, which signs handshakes through
morgana:crypto/signing, and records sealed and opened by the host through morgana:crypto/aead:
RustCrypto's AES-GCM on AES-NI on unix, its portable ChaCha20-Poly1305 in the soft-float kernel,
the server choosing the suite the host runs fastest), on both Morgana targets, beside nginx + OpenSSL natively and inside the
Linux microVM peer under the same QEMU settings, all measured in one run:

  1. full handshakes per second: a new TLS connection per request (`GET /` over HTTP/1.0, the
     612-byte page), no resumption, TLS 1.3 and TLS 1.2 apart, 5 s each after a 1 s warm-up
     (s_time runs whole seconds: 6 s each in fact); and the server's CPU time per
     handshake (on 2 CPUs the client takes a large share: the CPU per handshake is the figure
     that does not depend on it);
  2. bulk throughput: one 64 MiB file downloaded over one TLS connection (curl), from the request
     to the last byte: the median of 3 downloads after a checked one; under QEMU (seconds each)
     the one checked download, timed;
  3. keep-alive requests per second of the 612-byte page over HTTPS: `wrk -t2 -c10 -d10s
     --latency` after a 3 s warm-up.

The sides:
  (a) Morgana, qemu target: `morgana run IMAGE --target qemu --accel tcg --memory 512M
      -p 127.0.0.1:P:P --env HTTPS_PORT=P --env HTTP_ADDR=off --env HTTPS_TICKETS=off
      --key site=CERT,KEY`, IMAGE from `morgana build examples/https-site --target qemu`
      (and the bulk variant's image for 2.). When an image does not build (a kernel without
      morgana:crypto cannot link it), the error is printed and its configurations are marked
      failed.
  (b) Morgana, unix target: the same `morgana run` of the composed component
      (`morgana build examples/https-site -o target/tls-bench/https-site.wasm`) on the host's
      loopback, without the qemu flags.
  (c) The Linux microVM peer (../shared/peers/linux-microvm): its PVH vmlinux and tuned
      arguments, -M microvm, -accel tcg -cpu max, -m 512M, user networking with a host port
      forward; its nginx initramfs (benches/linux_peer.py) with the certificate and key, an
      HTTPS server block on the guest's port 80 and the same files as (d).
  (d) nginx + OpenSSL natively (Debian's), worker_processes 1, on a loopback port.

Same on every side: one ECDSA P-256 leaf certificate (CN and SAN localhost, SAN 127.0.0.1)
signed by an ECDSA P-256 test CA, both made with openssl at the start of each run in
target/tls-bench/tls/; the server sends the leaf only, clients trust the CA. TLS 1.2 and 1.3
enabled; tickets off (Morgana: HTTPS_TICKETS=off; nginx: ssl_session_tickets off,
ssl_session_cache off). Morgana's TLS component keeps a session-ID cache (TLS 1.3: stateful
tickets) that cannot be turned off, so no resumption must come from the client never offering a
session. Every request is logged: Morgana through components/syslog to its standard error (a
file), nginx with access_log to a file, one line per request on both.

The handshake client is `openssl s_time -new -www /` (4 processes at once, each timed by this
script), not h2load: h2load --h1 opens a new connection when the server answers
`Connection: close`, but on the same OpenSSL object, which offers the previous session, and it has
no flag against that; the run shows it (against an nginx that allows resumption, with
$ssl_session_reused in its log, beside s_time -new, which resumes none).

The bulk file: a 1 MiB block of seeded pseudo-random bytes repeated 64 times, in
target/tls-bench/site/ beside a copy of the page. Morgana's kv stores are baked at build, so (a)
and (b) serve it from a variant application, target/tls-bench/https-bulk/unikernel.toml: the
https-site manifest with absolute component paths, that directory as [kv.site] and the
benchmark's key. Its whole 64 MiB body crosses the morgana:http/handler interface in one piece;
a configuration that cannot serve it counts as failed, with the error. (c) generates the file
in the guest at boot from the block.

Also printed: the https-site image's size beside MirageOS's Bitcoin Piñata (a quoted constant),
when the image builds.

Usage: benches/tls.py            (about 3 minutes; writes to target/tls-bench/)
       benches/tls.py --quick    (short runs, for trying it out: about 2 minutes)
Installs missing Debian packages with apt-get (needs root). All traffic is on loopback. Exits
with status 1 when a configuration could not be measured or a check failed (the report says
which), 2 when something it needs is missing or the https-site component does not build.
"""

import hashlib
import os
import random
import re
import shutil
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.request

import bench_http
import linux_peer
from bench_http import (PEER_DIR, PEER_SRC, PEER_TUNED_ARGS, ROOT, alive, copy_morgana, cpu_seconds, free_port,
                        machine_busy, prepare_peer, print_notes, progress, run_wrk, terminate, tree, versions)

OUT = os.path.join(ROOT, "target", "tls-bench")
TLS_DIR = os.path.join(OUT, "tls")
CA, CA_KEY = os.path.join(TLS_DIR, "ca.pem"), os.path.join(TLS_DIR, "ca.key")
CERT, KEY = os.path.join(TLS_DIR, "site.pem"), os.path.join(TLS_DIR, "site.key")
EXAMPLE = os.path.join(ROOT, "examples", "https-site")
PAGE_FILE = os.path.join(ROOT, "examples", "static-site", "site", "index.html")
PAGE_BYTES = 612
SITE = os.path.join(OUT, "site")  # index.html + big.bin: the bulk variant's kv store, nginx's root
VARIANT = os.path.join(OUT, "https-bulk")
BIG_NAME, BLOCK_BYTES, BLOCKS, SEED = "big.bin", 1 << 20, 64, 20261207
BIG_BYTES = BLOCK_BYTES * BLOCKS
QEMU_MEMORY = "512M"  # (a) and (c): room for the 64 MiB file and its copies
HANDSHAKE_CLIENTS = 4
PINATA = ("MirageOS Bitcoin Piñata", 4_000_000)  # its unikernel image, as quoted: 4 MB
MORGANA = os.path.join(OUT, "morgana")  # a copy of target/release/morgana, as static.py takes
PEER_SERVER = "nginx-tls"  # run-peer.sh boots initrd-nginx-tls.cpio.gz from the peer's directory
TOOLS = {"openssl": "openssl", "h2load": "nghttp2-client"}

DEFAULT = {"hs_warmup": 1, "hs_seconds": 5, "bulk_runs": 3, "wrk_warmup": 3, "wrk_seconds": 10}
QUICK = {"hs_warmup": 1, "hs_seconds": 3, "bulk_runs": 1, "wrk_warmup": 2, "wrk_seconds": 3}

# The lines one request leaves in a request log (Morgana's combined log line, and nginx's format
# below, which writes the same fields first).
LOG_HANDSHAKE = f'"GET / HTTP/1.0" 200 {PAGE_BYTES} '.encode()
LOG_PAGE = f'"GET / HTTP/1.1" 200 {PAGE_BYTES} '.encode()
LOG_BIG = f'"GET /{BIG_NAME} HTTP/1.1" 200 {BIG_BYTES} '.encode()
NGINX_LOG_FORMAT = ("'$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent "
                    "$ssl_protocol $ssl_cipher $ssl_session_reused'")


def fail(message, status=2):
    print(f"tls.py: {message}", file=sys.stderr)
    sys.exit(status)


def rel(text):
    return str(text).replace(ROOT + "/", "")


# ---------------------------------------------------------------------------------------------
# Set-up: packages, the certificate, the bulk file, the variant application, builds


def ensure_tools():
    missing = sorted({package for tool, package in TOOLS.items() if not shutil.which(tool)})
    if not missing:
        return
    if os.geteuid() != 0:
        fail(f"missing {', '.join(missing)}; run: apt-get install -y {' '.join(missing)}")
    progress(f"installing {' '.join(missing)} with apt-get...")
    subprocess.run(["apt-get", "install", "-y", *missing], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def make_certificate():
    """A fresh ECDSA P-256 test CA and a P-256 leaf it signs, for localhost and 127.0.0.1."""
    shutil.rmtree(TLS_DIR, ignore_errors=True)
    os.makedirs(TLS_DIR)
    ext = os.path.join(TLS_DIR, "leaf.ext")
    open(ext, "w").write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                         "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    csr = os.path.join(TLS_DIR, "site.csr")
    for cmd in (["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", CA_KEY],
                ["req", "-x509", "-new", "-key", CA_KEY, "-sha256", "-days", "7", "-subj", "/CN=Morgana TLS benchmark CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-out", CA],
                ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", KEY],
                ["req", "-new", "-key", KEY, "-subj", "/CN=localhost", "-out", csr],
                ["x509", "-req", "-in", csr, "-CA", CA, "-CAkey", CA_KEY, "-CAcreateserial", "-days", "7",
                 "-sha256", "-extfile", ext, "-out", CERT]):
        done = subprocess.run(["openssl", *cmd], capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"openssl {' '.join(cmd[:2])} failed: {done.stderr.strip()}")
    text = subprocess.run(["openssl", "x509", "-in", CERT, "-noout", "-text"], capture_output=True, text=True).stdout
    curve = re.search(r"NIST CURVE: (\S+)", text)
    return f"ECDSA {curve.group(1) if curve else '?'} leaf (CN localhost, SAN localhost, 127.0.0.1), ecdsa-with-SHA256 " \
           "by an ECDSA P-256 test CA; the server sends the leaf only"


def make_site():
    """target/tls-bench/site: the page and the 64 MiB file; returns the file's SHA-256."""
    os.makedirs(SITE, exist_ok=True)
    shutil.copyfile(PAGE_FILE, os.path.join(SITE, "index.html"))
    block = random.Random(SEED).randbytes(BLOCK_BYTES)
    digest = hashlib.sha256(block * BLOCKS).hexdigest()
    big = os.path.join(SITE, BIG_NAME)
    def on_disk():
        with open(big, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()

    if not os.path.exists(big) or on_disk() != digest:
        with open(big + ".part", "wb") as f:  # else left as it is, so that nothing is rebuilt for it
            for _ in range(BLOCKS):
                f.write(block)
        os.replace(big + ".part", big)
    for path in (OUT, SITE):
        os.chmod(path, 0o755)
    for name in os.listdir(SITE):
        os.chmod(os.path.join(SITE, name), 0o644)
    return block, digest


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def toml_dump(doc):
    """The tables and values unikernel.toml uses: top-level values, [table], [table.name]."""
    lines = [f"{k} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if not isinstance(v, dict):
            continue
        flat = {n: x for n, x in v.items() if not isinstance(x, dict)}
        if flat or not v:
            lines += ["", f"[{k}]"] + [f"{n} = {toml_value(x)}" for n, x in flat.items()]
        for n, x in v.items():
            if isinstance(x, dict):
                lines += ["", f"[{k}.{n}]"] + [f"{m} = {toml_value(y)}" for m, y in x.items()]
    return "\n".join(lines) + "\n"


def write_variant():
    """The bulk variant: examples/https-site/unikernel.toml with its component paths absolute,
    target/tls-bench/site as [kv.site] and the benchmark's certificate as [keys.site]."""
    manifest = tomllib.load(open(os.path.join(EXAMPLE, "unikernel.toml"), "rb"))
    manifest["name"] = "https-bulk"
    for component in manifest.get("components", {}).values():
        if "path" in component:
            component["path"] = os.path.normpath(os.path.join(EXAMPLE, component["path"]))
    if "site" not in manifest.get("kv", {}):
        fail("examples/https-site/unikernel.toml has no [kv.site]: the bulk variant cannot replace it")
    manifest["kv"]["site"] = {"dir": SITE}
    manifest["keys"] = {"site": {"certificate": CERT, "key": KEY}}
    os.makedirs(VARIANT, exist_ok=True)
    text = ("# Written by benches/tls.py: examples/https-site serving target/tls-bench/site (the page and a\n"
            "# 64 MiB file) with the benchmark's certificate.\n" + toml_dump(manifest))
    open(os.path.join(VARIANT, "unikernel.toml"), "w").write(text)


def build(args):
    """Runs `morgana build ARGS`; (True, None) or (False, its error lines)."""
    done = subprocess.run([MORGANA, "build", *args], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True)
    if done.returncode == 0:
        return True, None
    errors = [l for l in done.stderr.splitlines() if l.startswith("error")] or done.stderr.strip().splitlines()[-3:]
    return False, f"`morgana build {rel(' '.join(args))}` failed (status {done.returncode}): " + " ".join(errors)


# ---------------------------------------------------------------------------------------------
# HTTPS on loopback

SSL_CONTEXT = None


def get(url, timeout=5):
    """(status, body) of one GET over HTTPS trusting only the benchmark's CA, or (None, error)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),  # loopback only, never a proxy
                                         urllib.request.HTTPSHandler(context=SSL_CONTEXT))
    return bench_http.get(url, timeout, opener)


def wait_answers(url, alive_, timeout):
    began = time.monotonic()
    last = None
    while time.monotonic() - began < timeout:
        if not alive_():
            return None, last
        status, body = get(url, timeout=5)
        if status is not None:
            return time.monotonic() - began, None
        last = body
        time.sleep(0.2)
    return None, last


def negotiated(port, flags):
    """What `openssl s_client -brief FLAGS` negotiates with the server: version, cipher suite,
    key exchange, signature, whether the chain verifies against the CA."""
    done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", CA, "-brief", *flags],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    fields = dict(re.findall(r"^([A-Za-z ]+): (.+)$", done.stdout + done.stderr, re.M))
    return {"version": fields.get("Protocol version"), "cipher": fields.get("Ciphersuite"),
            "kx": (fields.get("Server Temp Key") or "?").split(",")[0], "sig": fields.get("Signature type"),
            "hash": fields.get("Hash used"), "verify": fields.get("Verification"),
            "peer": fields.get("Peer certificate")}


PROBES = [("hs13", ["-tls1_3"]), ("hs12", ["-tls1_2"]), ("default", [])]


# ---------------------------------------------------------------------------------------------
# The servers. Each start returns (server, None) or (None, why); a server is a dict: url, port,
# pids(), alive(), stop() -> notes, log (a file of request-log lines, or None), what.


def start_morgana(target, artifact, port, log, qemu_args=()):
    """https-site (or its bulk variant) on `target`, serving HTTPS only on `port` (the same port
    inside the VM) with the test certificate, tickets off."""
    run_args = ["--env", f"HTTPS_PORT={port}", "--env", "HTTP_ADDR=off", "--env", "HTTPS_TICKETS=off",
                "--key", f"site={CERT},{KEY}"]
    srv = bench_http.start_morgana(MORGANA, target, artifact, port, log, ("--memory", QEMU_MEMORY, *qemu_args),
                                   guest_ports=(str(port),), port_env=None, run_args=run_args, scheme="https")
    proc = srv["proc"]

    def peak_rss():
        try:
            return int(re.search(r"VmHWM:\s+(\d+) kB", open(f"/proc/{proc.pid}/status").read()).group(1)) * 1024
        except (OSError, AttributeError):
            return None

    return dict(srv, port=port, log=log + ".stderr", stdout=log + ".stdout", cmd=rel(srv["cmd"]),
                peak_rss=peak_rss if target == "unix" else None), None


def nginx_http_block(listen, root, log, resumable=False):
    """The http{} block both nginx sides run (the guest's listens on its port 80)."""
    resumption = ("ssl_session_cache shared:tls_bench:1m; ssl_session_tickets on;" if resumable else
                  "ssl_session_cache off; ssl_session_tickets off;")
    return f"""http {{
  log_format tls {NGINX_LOG_FORMAT};
  access_log {log} tls;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  types {{ text/html html; }} default_type application/octet-stream;
  ssl_protocols TLSv1.2 TLSv1.3; {resumption}
  ssl_certificate {{cert}}; ssl_certificate_key {{key}};
  server {{ listen {listen} ssl default_server; root {root}; }}
}}
"""


def start_nginx(workdir, port, resumable=False):
    """Native nginx: 1 worker, HTTPS on 127.0.0.1:port, root target/tls-bench/site, every
    request logged to workdir/access.log."""
    os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
    os.chmod(workdir, 0o755)
    conf, pidfile, tmp = (os.path.join(workdir, n) for n in ("nginx.conf", "nginx.pid", "tmp"))
    access = os.path.join(workdir, "access.log")
    for path in (pidfile, access):
        if os.path.exists(path):
            os.remove(path)
    http = nginx_http_block(f"127.0.0.1:{port}", SITE, access, resumable).replace("{cert}", CERT).replace("{key}", KEY)
    http = http.replace("http {\n", f"http {{\n  client_body_temp_path {tmp}; proxy_temp_path {tmp}; "
                        f"fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n", 1)
    open(conf, "w").write(f"worker_processes 1;\ndaemon on;\npid {pidfile};\nerror_log {workdir}/error.log crit;\n"
                          f"events {{ worker_connections 1024; }}\n{http}")
    done = subprocess.run(["nginx", "-c", conf, "-p", workdir + "/", "-e", os.path.join(workdir, "error.log")],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"nginx did not start: {done.stderr.strip()}"
    deadline = time.monotonic() + 10
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.05)
    master = int(open(pidfile).read())

    def peak_rss():
        total = 0
        for pid in tree(master):
            try:
                total = max(total, int(re.search(r"VmHWM:\s+(\d+) kB", open(f"/proc/{pid}/status").read()).group(1)))
            except (OSError, AttributeError):
                pass
        return total * 1024 or None

    return {"url": f"https://127.0.0.1:{port}/", "port": port, "pids": lambda: tree(master), "alive": lambda: alive(master),
            "stop": lambda: [] if terminate(master) else [f"nginx {master} still running 10 s after SIGTERM"],
            "log": access, "peak_rss": peak_rss}, None


def peer_initrd(block):
    """initrd-nginx-tls.cpio.gz in the peer's directory: its nginx initramfs with the certificate
    and key, the page and the block, nginx.conf serving HTTPS on port 80, and the 64 MiB file
    made from the block before nginx starts."""
    http = nginx_http_block("80", "/www-tls", "/var/log/nginx/access.log")
    http = http.replace("{cert}", "/etc/nginx/tls/site.pem").replace("{key}", "/etc/nginx/tls/site.key")
    conf = ("user root;\nworker_processes 1;\ndaemon on;\npid /run/nginx.pid;\nerror_log /var/log/nginx/error.log crit;\n"
            "events { worker_connections 1024; }\n" + http)
    files = {"/etc/nginx/nginx.conf": conf.encode(), "/etc/nginx/tls/site.pem": open(CERT, "rb").read(),
             "/etc/nginx/tls/site.key": open(KEY, "rb").read(), "/www-tls/index.html": open(PAGE_FILE, "rb").read(),
             "/www-tls/block.bin": block}
    make_big = (f"i=0; while [ $i -lt {BLOCKS} ]; do cat /www-tls/block.bin; i=$((i+1)); done > /www-tls/{BIG_NAME}\n"
                "busybox rm /www-tls/block.bin")
    linux_peer.derived_initrd(os.path.join(PEER_DIR, "initrd-nginx.cpio.gz"),
                              os.path.join(PEER_DIR, f"initrd-{PEER_SERVER}.cpio.gz"), files, make_big)


def start_peer(port):
    srv, why = linux_peer.boot(PEER_SRC, PEER_DIR, PEER_SERVER, port, QEMU_MEMORY, PEER_TUNED_ARGS)
    if not srv:
        return None, f"run-peer.sh: {why}"
    pid = srv["pid"]
    return {"url": f"https://127.0.0.1:{port}/", "port": port, "pids": lambda: [pid], "alive": lambda: alive(pid),
            "stop": srv["stop"], "log": None, "peak_rss": None, "boot_ms": srv["boot_ms"]}, None


# ---------------------------------------------------------------------------------------------
# The three measurements


class Cpu:
    """CPU-seconds of the server, this script's children (the clients) and the rest meanwhile."""

    def __init__(self, server):
        self.server = server
        self.busy0, self.irq0, _ = machine_busy()
        self.server0 = cpu_seconds(server["pids"]())
        self.t0 = os.times()
        self.began = time.monotonic()

    def done(self):
        wall = time.monotonic() - self.began
        t1 = os.times()
        busy1, irq1, _ = machine_busy()
        server = cpu_seconds(self.server["pids"]()) - self.server0
        client = (t1.children_user + t1.children_system) - (self.t0.children_user + self.t0.children_system)
        own = (t1.user + t1.system) - (self.t0.user + self.t0.system)
        return {"wall": wall, "server_cpu": server, "client_cpu": client,
                "other_cpu": max((busy1 - self.busy0) - server - client - own, 0), "irq": irq1 - self.irq0}


def handshakes(server, version, seconds):
    """HANDSHAKE_CLIENTS `openssl s_time -new` at once for `seconds` (each runs seconds to
    seconds + 1, as it checks the time in whole seconds); connections per second = the sum over
    the processes of connections / the process's own wall time."""
    cmd = ["openssl", "s_time", "-connect", f"127.0.0.1:{server['port']}", "-new", "-www", "/", f"-{version}",
           "-time", str(seconds), "-CAfile", CA, "-verify", "2"]
    cpu = Cpu(server)
    runs = []
    for i in range(HANDSHAKE_CLIENTS):
        out = open(os.path.join(OUT, f"s_time-{i}.out"), "w+")
        runs.append({"proc": subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT),
                     "out": out, "began": time.monotonic()})
    deadline = time.monotonic() + seconds + 60
    while any(r["proc"].poll() is None for r in runs) and time.monotonic() < deadline:
        for r in runs:
            if "ended" not in r and r["proc"].poll() is not None:
                r["ended"] = time.monotonic()
        time.sleep(0.01)
    result = {"cmd": " ".join(cmd[:2] + ["-connect", "127.0.0.1:P"] + cmd[4:]), "errors": []}
    conns, rate, read_bytes = 0, 0.0, 0
    for i, r in enumerate(runs):
        if r["proc"].poll() is None:
            r["proc"].kill()
            r["proc"].wait()
            result["errors"].append(f"s_time {i + 1} still running {seconds + 60} s in; killed")
        r.setdefault("ended", time.monotonic())
        r["out"].seek(0)
        text = r["out"].read()
        r["out"].close()
        m = re.search(r"(\d+) connections in [\d.]+s; [\d.]+ connections/user sec, bytes read (\d+)", text)
        if r["proc"].returncode != 0 or not m:
            tail = [l for l in text.replace("*", "").splitlines() if l.strip()][-2:]
            result["errors"].append(f"s_time {i + 1} exited with status {r['proc'].returncode}: {' / '.join(tail)}")
            continue
        n = int(m.group(1))
        conns += n
        read_bytes += int(m.group(2))
        rate += n / (r["ended"] - r["began"])
    result.update(cpu.done())
    result["conns"] = conns
    result["rate"] = rate if conns and not result["errors"] else None
    result["bytes_per_conn"] = read_bytes / conns if conns else None
    return result


def bulk(server, runs, digest, checked_is_timed):
    """One checked download (SHA-256 of the body; timed too when `checked_is_timed`: under TCG a
    download takes seconds and writing the file costs nothing beside it) then `runs` timed ones
    to /dev/null, each a fresh curl: one connection, one GET. Times from curl: after the handshake
    (time_appconnect) to the last byte."""
    url = server["url"] + BIG_NAME
    fmt = "%{http_code} %{size_download} %{time_appconnect} %{time_starttransfer} %{time_total}\\n"
    result = {"runs": [], "errors": []}
    target = os.path.join(OUT, "download.bin")

    def curl(dest):
        done = subprocess.run(["curl", "-sS", "-v", "--noproxy", "*", "--cacert", CA, "-o", dest, "-w", fmt,
                               "--max-time", "300", url], capture_output=True, text=True)
        m = re.search(r"SSL connection using (\S+) / (\S+)", done.stderr)
        if m:
            result["negotiated"] = f"{m.group(1)} {m.group(2)}"
        fields = done.stdout.split()
        if done.returncode != 0 or len(fields) != 5 or fields[0] != "200" or int(fields[1]) != BIG_BYTES:
            errors = [l for l in done.stderr.splitlines() if l.startswith("curl:")]
            result["errors"].append(f"curl exited with {done.returncode}, `{done.stdout.strip()}`"
                                    + (f": {errors[-1]}" if errors else ""))
            return None
        _, _, connected, first, total = map(float, fields)
        return {"seconds": total - connected, "first_byte": first - connected}

    cpu = Cpu(server)
    first = curl(target)
    if first is None:
        return result
    with open(target, "rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    os.remove(target)
    if got != digest:
        result["errors"].append(f"the downloaded {BIG_NAME} is not the file (SHA-256 {got[:16]}...)")
        return result
    if checked_is_timed:
        result["runs"].append(first)
    else:
        cpu = Cpu(server)
    for _ in range(runs):
        run = curl("/dev/null")
        if run is None:
            break
        result["runs"].append(run)
    result.update(cpu.done())
    if result["runs"] and not result["errors"]:
        seconds = sorted(r["seconds"] for r in result["runs"])[len(result["runs"]) // 2]
        result["mbps"] = BIG_BYTES / seconds / 1e6
        result["first_byte"] = sorted(r["first_byte"] for r in result["runs"])[len(result["runs"]) // 2]
    result["peak_rss"] = server["peak_rss"]() if server.get("peak_rss") else None
    return result


def keepalive(server, warmup, seconds):
    url = server["url"]
    w = run_wrk(["wrk", "-t2", "-c10", f"-d{warmup}s"], url, server["pids"])
    m = run_wrk(["wrk", "-t2", "-c10", f"-d{seconds}s", "--latency"], url, server["pids"])
    return w, m


def count_log(path):
    """{pattern: lines} of a request log, plus up to 2 other lines and how many."""
    counts = {LOG_HANDSHAKE: 0, LOG_PAGE: 0, LOG_BIG: 0}
    resumed, other, n_other = 0, [], 0
    if not path or not os.path.exists(path):
        return None
    for line in open(path, "rb"):
        for pattern in counts:
            if pattern in line:
                counts[pattern] += 1
                if line.rstrip().endswith(b" r"):
                    resumed += 1
                break
        else:
            if line.strip():
                n_other += 1
                if len(other) < 2:
                    other.append(line.decode(errors="replace").rstrip())
    return {"counts": counts, "resumed": resumed, "other": other, "n_other": n_other}


def last_line(srv):
    """The last line of a Morgana server's standard error, for saying why it failed."""
    if not srv.get("log") or not os.path.exists(srv["log"]):
        return ""
    tail = open(srv["log"], errors="replace").read().strip().splitlines()[-1:]
    return f"; its last stderr line: `{tail[0]}`" if tail else ""


def measure_side(key, name, start, settings, page, digest, start_bulk=None, qemu=False):
    """Starts the server, checks it, measures handshakes (TLS 1.3, 1.2), keep-alive and (on the
    same server unless start_bulk is given) bulk, stops it; then, with start_bulk, starts that
    server for bulk, whatever became of the first. Under QEMU the bulk download is made once,
    checked and timed."""
    bulk_runs = 0 if qemu else settings["bulk_runs"]
    bulk_what = f"{BIG_BYTES >> 20} MiB, " + ("1 checked and timed" if qemu else f"1 checked + {bulk_runs} timed")
    r = {"key": key, "name": name, "failed": [], "notes": []}

    def page_server():
        port = free_port()
        progress(f"{name}: starting...")
        srv, why = start(port)
        if not srv:
            r["failed"].append(why)
            return
        r["cmd"] = srv.get("cmd")
        r["boot_ms"] = srv.get("boot_ms")
        try:
            waited, last = wait_answers(srv["url"], srv["alive"], timeout=180)
            if waited is None:
                r["failed"].append("never answered GET / over HTTPS" + (f" ({last})" if last else "") + last_line(srv)
                                   + ("" if srv["alive"]() else " (it had exited)"))
                return
            r["waited"] = waited
            status, body = get(srv["url"])
            if status != 200 or body != page:
                r["failed"].append(f"GET / answered status {status}, {len(body)} bytes, not the {PAGE_BYTES}-byte page")
            r["tls"] = {k: negotiated(port, flags) for k, flags in PROBES}
            progress(f"{name}: handshakes, TLS 1.3 (warm-up {settings['hs_warmup']} s, then {settings['hs_seconds']} s)...")
            r["hs_warmup"] = handshakes(srv, "tls1_3", settings["hs_warmup"])
            r["hs13"] = handshakes(srv, "tls1_3", settings["hs_seconds"])
            progress(f"{name}: handshakes, TLS 1.2 ({settings['hs_seconds']} s)...")
            r["hs12"] = handshakes(srv, "tls1_2", settings["hs_seconds"])
            progress(f"{name}: keep-alive wrk (warm-up {settings['wrk_warmup']} s, then {settings['wrk_seconds']} s)...")
            r["wrk_warmup"], r["wrk"] = keepalive(srv, settings["wrk_warmup"], settings["wrk_seconds"])
            if start_bulk is None:
                progress(f"{name}: bulk, {bulk_what}...")
                r["bulk"] = bulk(srv, bulk_runs, digest, qemu)
            r["alive_after"] = srv["alive"]()
            if not r["alive_after"]:
                r["failed"].append("the server exited during the run" + last_line(srv))
        finally:
            r["notes"] += srv["stop"]()
            r["log"] = count_log(srv.get("log"))

    def bulk_server():
        progress(f"{name}: bulk variant: starting...")
        port = free_port()
        srv, why = start_bulk(port)
        if not srv:
            r["bulk"] = {"errors": [why]}
            return
        r["bulk_cmd"] = srv.get("cmd")
        try:
            waited, last = wait_answers(srv["url"], srv["alive"], timeout=300)
            if waited is None:
                r["bulk"] = {"errors": ["the bulk variant never answered GET /" + (f" ({last})" if last else "")
                                        + last_line(srv) + ("" if srv["alive"]() else " (it had exited)")]}
                return
            r["bulk_waited"] = waited
            progress(f"{name}: bulk, {bulk_what}...")
            r["bulk"] = bulk(srv, bulk_runs, digest, qemu)
            if not srv["alive"]():
                r["bulk"]["errors"].append("the bulk variant exited" + last_line(srv))
        finally:
            r["notes"] += srv["stop"]()
            r["bulk_log"] = count_log(srv.get("log"))

    page_server()
    if start_bulk is not None:
        bulk_server()
    return r


def client_check(port):
    """Against an nginx that allows resumption (session cache and tickets on), whether h2load's
    reconnections and s_time -new's connections resume, from $ssl_session_reused in its log."""
    workdir = os.path.join(OUT, "nginx-resumable")
    srv, why = start_nginx(workdir, port, resumable=True)
    if not srv:
        return {"why": why}
    result = {}
    try:
        wait_answers(srv["url"], srv["alive"], timeout=10)
        open(srv["log"], "w").close()
        done = subprocess.run(["h2load", "--h1", "-n", "100", "-c", "2", "-H", "Connection: close", srv["url"]],
                              capture_output=True, text=True, timeout=60)
        time.sleep(0.2)
        lines = open(srv["log"]).read().splitlines()
        result["h2load"] = (sum(l.endswith(" r") for l in lines), len(lines), done.returncode)
        open(srv["log"], "w").close()
        subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-www", "/", "-time", "1",
                        "-CAfile", CA], capture_output=True, timeout=60)
        time.sleep(0.2)
        lines = open(srv["log"]).read().splitlines()
        result["s_time"] = (sum(l.endswith(" r") for l in lines), len(lines))
    finally:
        srv["stop"]()
    return result


# ---------------------------------------------------------------------------------------------
# The report


def ratio(x, y, digits=3):
    return "n/a" if x is None or y is None or y == 0 else f"{x / y:.{digits}f}"


def main():
    args = sys.argv[1:]
    if args not in ([], ["--quick"]):
        sys.exit(__doc__)
    settings = QUICK if args else DEFAULT
    began = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    linux_peer.ensure_packages(progress)
    ensure_tools()
    page = open(PAGE_FILE, "rb").read()
    if len(page) != PAGE_BYTES:
        fail(f"{rel(PAGE_FILE)} is {len(page)} bytes, not {PAGE_BYTES}")
    copy_morgana(MORGANA, fail)
    cert_text = make_certificate()
    global SSL_CONTEXT
    SSL_CONTEXT = ssl.create_default_context(cafile=CA)
    block, digest = make_site()
    write_variant()

    progress("building examples/https-site and the bulk variant for both targets...")
    component, bulk_component = os.path.join(OUT, "https-site.wasm"), os.path.join(OUT, "https-bulk.wasm")
    image, bulk_image = os.path.join(OUT, "https-site.img"), os.path.join(OUT, "https-bulk.img")
    ok, why = build(["examples/https-site", "-o", component])
    if not ok:
        fail(why)
    bulk_built = build([VARIANT, "-o", bulk_component])
    image_built = build(["examples/https-site", "--target", "qemu", "-o", image])
    bulk_image_built = build([VARIANT, "--target", "qemu", "-o", bulk_image]) if image_built[0] else \
        (False, "not tried: " + image_built[1])
    progress("preparing the Linux peer's initramfs with nginx + TLS...")
    prepare_peer()
    peer_initrd(block)

    progress("handshake client check (h2load and s_time -new against an nginx that resumes)...")
    check = client_check(free_port())

    load_before = open("/proc/loadavg").read().split()[:3]
    results = {}

    def morgana_side(target, artifact, built):
        def start(port):
            if not built[0]:
                return None, built[1]
            return start_morgana(target, artifact, port, os.path.join(OUT, f"{target}-{os.path.basename(artifact)}"))
        return start

    results["b"] = measure_side("b", "(b) Morgana unix", morgana_side("unix", component, (True, None)), settings, page,
                                digest, start_bulk=morgana_side("unix", bulk_component, bulk_built))
    results["d"] = measure_side("d", "(d) native nginx", lambda p: start_nginx(os.path.join(OUT, "nginx"), p),
                                settings, page, digest)
    results["c"] = measure_side("c", "(c) Linux VM nginx", start_peer, settings, page, digest, qemu=True)
    results["a"] = measure_side("a", "(a) Morgana qemu", morgana_side("qemu", image, image_built), settings, page,
                                digest, start_bulk=morgana_side("qemu", bulk_image, bulk_image_built), qemu=True)
    load_after = open("/proc/loadavg").read().split()[:3]
    elapsed = time.monotonic() - began

    # -----------------------------------------------------------------------------------------
    v = versions()
    openssl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split(" (")[0].strip()
    failures, notes = [], []
    print("TLS benchmark: examples/https-site on Morgana's two targets vs nginx + OpenSSL in a Linux microVM and "
          "natively")
    print(f"  host      {v['cpu']}, {os.cpu_count()} CPUs, Linux {os.uname().release}, load average "
          f"{' '.join(load_before)} before, {' '.join(load_after)} after")
    print(f"  morgana   {v['commit']}{' (uncommitted changes)' if v['dirty'] else ''}, release build "
          f"(copied to {rel(MORGANA)} at the start)")
    print(f"  cert      {cert_text}; made at the start in {rel(TLS_DIR)}/, the same files on every side")
    print(f"  clients   handshakes: {HANDSHAKE_CLIENTS} x `openssl s_time -new -www / -tls1_3|-tls1_2 -time "
          f"{settings['hs_seconds']} -CAfile ca.pem -verify 2` at once ({openssl_version}), after a "
          f"{settings['hs_warmup']} s TLS 1.3 warm-up; bulk: curl (1 checked + {settings['bulk_runs']} timed, median; "
          "under QEMU 1, checked and timed); "
          f"keep-alive: {v['wrk']} -t2 -c10 -d{settings['wrk_seconds']}s --latency after -d{settings['wrk_warmup']}s")
    planned = (f"{rel(MORGANA)} run {rel(image)} --target qemu --accel tcg --memory {QEMU_MEMORY} -p 127.0.0.1:P:P "
               f"--env HTTPS_PORT=P --env HTTP_ADDR=off --env HTTPS_TICKETS=off --key site={rel(CERT)},{rel(KEY)}")
    print(f"  (a)       {results['a'].get('cmd') or planned + '   (not run)'}")
    if results["a"].get("bulk_cmd"):
        print(f"            bulk: {results['a']['bulk_cmd']}")
    print(f"            = {v['qemu']}, -M microvm, -accel tcg -cpu max, -m {QEMU_MEMORY}, user networking hostfwd")
    print(f"  (b)       {results['b'].get('cmd') or '?'}")
    if results["b"].get("bulk_cmd"):
        print(f"            bulk: {results['b']['bulk_cmd']}")
    print(f"  (c)       Linux microVM peer: Debian {v['guest_kernel']} PVH vmlinux + `{PEER_TUNED_ARGS}`, its nginx "
          f"initramfs + TLS ({v['nginx']}, the guest's OpenSSL), -m {QEMU_MEMORY}, -accel tcg -cpu max, -M microvm, "
          "user networking hostfwd to the guest's port 80"
          + (f"; booted to READY in {results['c']['boot_ms']} ms" if results['c'].get('boot_ms') else ""))
    print(f"  (d)       {v['nginx']} ({openssl_version}), native, 127.0.0.1")
    print()

    print("Settings")
    side_settings = {
        "TLS stack": {"a": "rustls+ring in wasm, AEAD kernel", "b": "rustls+ring in wasm, AEAD host", "c": "OpenSSL, the guest's",
                      "d": "OpenSSL, the host's"},
        "versions enabled": {k: "TLS 1.2 + 1.3" for k in "abcd"},
        "certificate": {k: "ECDSA P-256, the same files" for k in "abcd"},
        "workers": {"a": "1 thread, 1 vCPU", "b": "1 thread", "c": "worker_processes 1, 1 vCPU",
                    "d": "worker_processes 1"},
        "request log": {"a": "syslog -> stderr (serial) -> file", "b": "syslog -> stderr -> file",
                        "c": "access_log -> file (guest)", "d": "access_log -> file"},
        "resumption": {"a": "tickets off; ID cache on*", "b": "tickets off; ID cache on*",
                       "c": "tickets off, cache off", "d": "tickets off, cache off"},
        "QEMU": {"a": f"microvm, tcg -cpu max, {QEMU_MEMORY}", "b": "-", "c": f"microvm, tcg -cpu max, {QEMU_MEMORY}",
                 "d": "-"},
    }
    width = 34
    print(f"  {'':<20}" + "".join(f"{results[k]['name']:<{width}}" for k in "abcd"))
    for label, by in side_settings.items():
        print(f"  {label:<20}" + "".join(f"{by[k]:<{width}}" for k in "abcd"))
    print("  * Morgana's TLS component always keeps a session-ID cache (TLS 1.3: stateful tickets); HTTPS_TICKETS=off")
    print("    turns tickets off. No client here offers a session (see the client check)")
    measured_tls = {k: results[k]["tls"] for k in "abcd" if results[k].get("tls")}
    print("  negotiated (openssl s_client -brief against each side; the clients' own offers):")
    for probe, label in (("hs13", "s_time -tls1_3"), ("hs12", "s_time -tls1_2"), ("default", "wrk, curl")):
        seen = {}
        for k, t in measured_tls.items():
            p = t[probe]
            seen.setdefault(f"{p['version']} {p['cipher']}, key exchange {p['kx']}, server signature {p['sig']}/"
                            f"{p['hash']}, chain verified: {p['verify']}", []).append(k)
        for text, keys in seen.items():
            print(f"    {label:<16} {'all sides' if len(seen) == 1 else ', '.join(keys)}: {text}")
        if len(seen) > 1:
            notes.append(f"the sides negotiated different parameters for {label}")
        for k, t in measured_tls.items():
            if t[probe]["verify"] != "OK":
                failures.append(f"{results[k]['name']}: s_client ({label}) could not verify the chain against the "
                                f"CA: {t[probe]['verify']}")
    bulk_neg = {}
    for k in "abcd":
        if (results[k].get("bulk") or {}).get("negotiated"):
            bulk_neg.setdefault(results[k]["bulk"]["negotiated"], []).append(k)
    for text, keys in bulk_neg.items():
        print(f"    {'bulk (curl -v)':<16} {'all sides' if len(bulk_neg) == 1 and len(keys) == 4 else ', '.join(keys)}: "
              f"{text}")
    print()

    print("Handshake client check (an nginx with ssl_session_cache and tickets on; $ssl_session_reused in its log)")
    if "why" in check:
        print(f"  not run: {check['why']}")
    else:
        r_, n_, st = check.get("h2load", (0, 0, None))
        print(f"  h2load --h1 -n 100 -c 2 -H 'Connection: close': {n_} connections, {r_} resumed (status {st}): "
              "it reconnects on one OpenSSL object, which offers its last session, and has no flag against it")
        r_, n_ = check.get("s_time", (0, 0))
        print(f"  openssl s_time -new (1 s):                       {n_} connections, {r_} resumed: used for the "
              "handshake figures")
        if check.get("s_time", (1, 0))[0] != 0 or not check.get("s_time", (0, 0))[1]:
            failures.append("s_time -new resumed sessions (or made none) in the client check: handshake figures "
                            "would not be of full handshakes")
    print()

    print(f"1. Full handshakes per second (new connection per request: TLS handshake + GET / HTTP/1.0, "
          f"{HANDSHAKE_CLIENTS} clients)")
    print(f"  {'server':<22} {'TLS':<4} {'conn/s':>8} {'conns':>7} {'B/conn':>7} {'server CPU':>10} {'µs CPU/hs':>9} "
          f"{'client CPU':>10} {'others':>7}")
    for k in "abcd":
        r = results[k]
        for probe, label in (("hs13", "1.3"), ("hs12", "1.2")):
            h = r.get(probe)
            if not h or h["rate"] is None:
                why = "; ".join((h or {}).get("errors", [])) or "; ".join(r["failed"]) or "not measured"
                print(f"  {r['name']:<22} {label:<4} not measured: {why[:400]}")
                failures.append(f"{r['name']} handshakes TLS {label}: not measured")
                continue
            per = h["server_cpu"] / h["conns"] * 1e6
            print(f"  {r['name']:<22} {label:<4} {h['rate']:>8,.0f} {h['conns']:>7} {h['bytes_per_conn']:>7.0f} "
                  f"{h['server_cpu']:>8.1f} s {per:>9.0f} {h['client_cpu']:>8.1f} s {h['other_cpu']:>5.1f} s")
    print("  conn/s = sum over the clients of connections / own wall time; B/conn = response bytes read (headers +")
    print("  page); CPU-seconds over the run: the server's (QEMU's for a and c), the clients', others = everything else")
    print("  on the machine (these columns are the CPU table the notes refer to); µs CPU/hs = server CPU per connection")
    print()

    print(f"2. Bulk: {BIG_BYTES >> 20} MiB over one TLS connection (curl; from the request to the last byte)")
    print(f"  {'server':<22} {'MB/s':>8} {'seconds':>8} {'1st byte':>9} {'server CPU':>10} {'others':>7} {'peak RSS':>9}  "
          "runs (s)")
    for k in "abcd":
        r = results[k]
        b = r.get("bulk") or {}
        if b.get("mbps") is None:
            why = "; ".join(b.get("errors", [])) or "; ".join(r["failed"]) or "not measured"
            print(f"  {r['name']:<22} not measured: {why[:600]}")
            failures.append(f"{r['name']} bulk: not measured" + (f" ({why[:300]})" if k in "ab" else ""))
            continue
        rss = f"{b['peak_rss'] / 2**20:.0f} MiB" if b.get("peak_rss") else "-"
        print(f"  {r['name']:<22} {b['mbps']:>8.1f} {BIG_BYTES / b['mbps'] / 1e6:>8.3f} {b['first_byte'] * 1000:>7.0f}ms "
              f"{b['server_cpu']:>8.1f} s {b['other_cpu']:>5.1f} s {rss:>9}  " + ", ".join(f"{x['seconds']:.3f}" for x in b["runs"]))
    print("  MB/s = 10^6 bytes/s, median run; 1st byte = from the request to the first byte of the response; peak")
    print("  RSS = the server process's high-water mark (nginx: its largest process); a and b serve it from the bulk")
    print(f"  variant ({rel(VARIANT)}/unikernel.toml), the others from {rel(SITE)}/")
    print()

    print(f"3. Keep-alive HTTPS, GET / ({PAGE_BYTES} bytes): wrk -t2 -c10 -d{settings['wrk_seconds']}s")
    print(f"  {'server':<22} {'req/s':>9} {'mean':>8} {'p50':>8} {'p99':>8} {'B/resp':>7} {'server CPU':>10} {'wrk CPU':>8} "
          f"{'others':>7}  errors (non-2xx; connect/read/write/timeout)")
    ms = lambda x: "?" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")
    for k in "abcd":
        r = results[k]
        w = r.get("wrk")
        if not w or w["rps"] is None:
            why = "; ".join(r["failed"]) or (w or {}).get("text", "")[:200] or "not measured"
            print(f"  {r['name']:<22} not measured: {why[:400]}")
            failures.append(f"{r['name']} keep-alive: not measured")
            continue
        per = w["bytes"] / w["requests"] if w["requests"] else float("nan")
        s = w["socket"]
        errors = f"{w['non2xx']}; " + "/".join(str(s.get(x, 0)) for x in ("connect", "read", "write", "timeout"))
        print(f"  {r['name']:<22} {w['rps']:>9,.0f} {ms(w['mean_ms']):>8} {ms(w['p50_ms']):>8} {ms(w['p99_ms']):>8} "
              f"{per:>7.0f} {w['server_cpu']:>8.1f} s {w['wrk_cpu']:>6.1f} s {max(w['other_cpu'], 0):>5.1f} s  {errors}")
        if w["non2xx"] or any(s.values()):
            notes.append(f"{r['name']}: wrk reported errors: non-2xx {w['non2xx']}, socket {s}")
    print("  latencies in ms; B/resp = wrk's bytes read / requests (headers + page); CPU over the measured run")
    print()

    print("Ratios (Morgana / its peer; above 1 = Morgana better, except CPU per handshake and p50, where below 1 is)")
    for x, y, what in (("a", "c", "a/c  Morgana qemu vs Linux VM nginx, same QEMU flags"),
                       ("b", "d", "b/d  Morgana unix vs native nginx")):
        rx, ry = results[x], results[y]
        parts = []
        for probe, label in (("hs13", "TLS 1.3"), ("hs12", "TLS 1.2")):
            hx, hy = rx.get(probe) or {}, ry.get(probe) or {}
            cx = hx["server_cpu"] / hx["conns"] if hx.get("rate") else None
            cy = hy["server_cpu"] / hy["conns"] if hy.get("rate") else None
            parts.append(f"handshakes/s {label} {ratio(hx.get('rate'), hy.get('rate'))} (server CPU per handshake "
                         f"{ratio(cx, cy, 2)})")
        parts.append(f"bulk MB/s {ratio((rx.get('bulk') or {}).get('mbps'), (ry.get('bulk') or {}).get('mbps'))}")
        wx, wy = rx.get("wrk") or {}, ry.get("wrk") or {}
        parts.append(f"keep-alive req/s {ratio(wx.get('rps'), wy.get('rps'))} (p50 {ratio(wx.get('p50_ms'), wy.get('p50_ms'), 2)})")
        print(f"  {what}:")
        for p in parts:
            print(f"      {p}")
    print()

    print("Image size")
    if image_built[0]:
        size = os.path.getsize(image)
        print(f"  https-site (qemu)      {size:>12,} bytes = {size / 1e6:.1f} MB  ({rel(image)})")
    else:
        print("  https-site (qemu)      not built")
        notes.append(f"qemu image: {image_built[1]}")
    print(f"  {PINATA[0]:<22} {PINATA[1]:>12,} bytes = {PINATA[1] / 1e6:.0f} MB  (quoted, not measured)")
    print(f"  https-site (unix)      {os.path.getsize(component):>12,} bytes  (the composed component, for reference)")
    print()

    # Request logs against what the clients counted.
    for k in "abcd":
        r = results[k]
        lg = r.get("log")
        if lg and r.get("hs13") and r.get("wrk"):
            c = lg["counts"]
            made = sum((r.get(p) or {}).get("conns", 0) for p in ("hs_warmup", "hs13", "hs12"))
            wrk_n = sum((r.get(p) or {}).get("requests") or 0 for p in ("wrk_warmup", "wrk"))
            notes.append(f"{r['name']}: request log: {c[LOG_HANDSHAKE]} `GET / HTTP/1.0 200` lines for {made} s_time "
                         f"connections; {c[LOG_PAGE]} `GET / HTTP/1.1 200` lines for wrk's {wrk_n} counted responses + "
                         f"this script's GETs"
                         + (f"; `GET /{BIG_NAME} 200` lines: {c[LOG_BIG]}, downloads: "
                            f"{len((r.get('bulk') or {}).get('runs', [])) + 1}" if k == "d" else "")
                         + (f"; {lg['resumed']} logged as resumed" if k == "d" else "")
                         + (f"; {lg['n_other']} other line(s), e.g. `{lg['other'][0]}`" if lg["other"] else ""))
            if c[LOG_HANDSHAKE] < made:
                failures.append(f"{r['name']}: {made - c[LOG_HANDSHAKE]} handshake request log lines missing")
            if c[LOG_PAGE] < wrk_n:
                failures.append(f"{r['name']}: {wrk_n - c[LOG_PAGE]} keep-alive request log lines missing")
        if k == "c" and r.get("hs13"):
            notes.append(f"{r['name']}: its request log stays in the guest (not counted here)")
        if r.get("bulk_log") and (r.get("bulk") or {}).get("runs"):
            bl = r["bulk_log"]
            notes.append(f"{r['name']} bulk variant: request log: `GET /{BIG_NAME} 200` lines: {bl['counts'][LOG_BIG]}, "
                         f"downloads: {len(r['bulk']['runs']) + (0 if k == 'a' else 1)}"
                         + (f"; {bl['n_other']} other line(s), e.g. `{bl['other'][0]}`" if bl["other"] else ""))
        for n in r["notes"]:
            notes.append(f"{r['name']}: {n}")
        for f_ in r["failed"]:
            failures.append(f"{r['name']}: {f_}")
        if r.get("bulk_waited"):
            notes.append(f"{r['name']}: the bulk variant answered {r['bulk_waited']:.1f} s after starting")
    busy = [h["other_cpu"] / h["wall"] for k in "abcd" for h in (results[k].get("hs13"), results[k].get("hs12"),
                                                                     results[k].get("wrk")) if h and h.get("wall")]
    print_notes("tls.py", notes, busy, elapsed, OUT, sorted(set(failures), key=failures.index))


if __name__ == "__main__":
    main()
