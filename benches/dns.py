#!/usr/bin/env python3
"""Benchmark: DNS queries per second and latency of examples/dns-primary (the authoritative name
server library components/dns-server, components/syslog, and the zone files of
examples/dns-primary/zones -- example.com and 2.0.192.in-addr.arpa -- baked into a key-value
store, composed by its unikernel.toml) on both Morgana targets, beside NSD natively serving the
same zone files, all measured in one run with dnsperf over UDP and the same query file.

  (a) Morgana, qemu target: `morgana run IMAGE --target qemu --accel tcg -p 127.0.0.1:P:53/udp
      -p 127.0.0.1:P:53` (TCG, -cpu max, -M microvm, the default 128M, QEMU user networking with
      host port forwards, UDP and TCP, to the server's default port 53). IMAGE is
      `morgana build examples/dns-primary --target qemu -o target/dns-bench/dns-primary.img`,
      built here. Its log (syslog without a collector: start-up lines only, on stderr, which is
      QEMU's serial port 2) goes to target/dns-bench/qemu.stderr.
  (b) Morgana, unix target: `morgana run COMPONENT --env DNS_PORT=P` (wasmtime inside morgana, on
      the host's loopback; the manifest's `[run] network = true` travels in the component);
      COMPONENT is `morgana build examples/dns-primary -o target/dns-bench/dns-primary.wasm`.
      Log in target/dns-bench/unix.stderr.
  (c) NSD (Debian's nsd) natively, `nsd -d -c target/dns-bench/nsd/nsd.conf`: foreground, on
      127.0.0.1:P (UDP and TCP), `server-count: 1` (one server process; NSD also runs its main
      and xfrd processes), `username: ""`, no chroot, no database file, response rate limiting
      off (`rrl-ratelimit: 0`: Debian's NSD limits one /24 to 200 answers a second otherwise),
      no remote control; the zones are examples/dns-primary/zones/*.zone themselves; pid file,
      zone list, xfrd state and log in target/dns-bench/nsd/.
  (d) NSD in the Linux microVM peer (../shared/peers/linux-microvm) is not measured: the peer's
      scripts build an initramfs only for nginx or busybox httpd, forward only TCP to guest port
      80 and report READY on a TCP :80 listener, so NSD there would need its own initramfs,
      init script and a QEMU command line with a UDP forward -- a second peer, not a reuse.

The query file, target/dns-bench/queries.txt, is generated (the same every run: a fixed seed)
as 400 lines drawn with weights from names of the two zones: A 31% (apex, hosts, a wildcard
match, an empty non-terminal's child), AAAA 13%, A via CNAME chains 11% (www -> web -> host1,
in-zone and out-of-zone targets, one to a PTR name), MX 7%, TXT 5%, NXDOMAIN 12% (unknown names,
a CNAME to one, an unknown PTR), NODATA 7% (existing names, missing types), PTR 6%, SOA/NS/SRV/
CAA 5%, referrals below the delegation sub.example.com 3%. No query needs more than 512 bytes
of answer (dnsperf sends no EDNS), so nothing is truncated. dnsperf reads it in a loop.

For each: start it, wait until `kdig @127.0.0.1 -p P www.example.com A` answers (120 s at most),
check that answer over UDP and TCP (the CNAME chain www -> web -> host1, A 192.0.2.80), one
warm-up `dnsperf -s 127.0.0.1 -p P -d queries.txt -c 1 -T 1 -q 20 -l 5` (TCG translates code
on first use), then the same with `-l 10` (reported): one client socket, one thread, at most 20
queries outstanding, no rate limit (-Q), the default 5 s timeout after which a query counts as
lost. Then the same kdig checks again, and stop it. Reported: queries/s, average/min/max latency
and its standard deviation, queries sent/completed/lost, dnsperf's response codes and average
response size (the same query mix, so they should agree between servers), the CPU the server,
dnsperf and everything else on the machine used meanwhile. Ratios a/c and b/c.

Then the images: `morgana build examples/dns-primary` and `examples/dns-primary-udp` (the same
server and syslog built without their `tcp` cargo feature) for the qemu target, and what
`morgana inspect IMAGE` says of each: size, kernel, component, the host interfaces linked into the
kernel; the UDP-only image must link no wasi:sockets/tcp* interface.

Usage: benches/dns.py    (about a minute; writes to target/dns-bench/)
Needs dnsperf, knot-dnsutils (kdig), nsd and qemu-system-x86 (`apt-get install -y dnsperf
knot-dnsutils nsd qemu-system-x86`); it installs nothing. All traffic is on loopback. Exits with
status 1 when a configuration could not be measured or a check failed (the report says which),
2 when something it needs is missing or a build failed.
"""

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

from bench_http import (ROOT, copy_morgana, print_cpu_table, print_notes, progress, run_wrk, start_morgana,
                        terminate, tree)
from static import process_cpu

OUT = os.path.join(ROOT, "target", "dns-bench")
EXAMPLE = os.path.join(ROOT, "examples", "dns-primary")
EXAMPLE_UDP = os.path.join(ROOT, "examples", "dns-primary-udp")
ZONES = os.path.join(EXAMPLE, "zones")
QUERIES = os.path.join(OUT, "queries.txt")
QUERY_LINES = 400
CLIENT = ["-c", "1", "-T", "1", "-q", "20"]  # one socket, one thread, 20 outstanding, no -Q limit
WARMUP_S, MEASURE_S = 5, 10
DNSPERF_TIMEOUT_S = 5  # dnsperf's default -t: a query unanswered this long is lost
CHECK_NAME, CHECK_CHAIN = "www.example.com", ["web.example.com.", "host1.example.com.", "192.0.2.80"]
MORGANA = os.path.join(OUT, "morgana")  # a copy of target/release/morgana, as static.py takes
TOOLS = {"dnsperf": "dnsperf", "kdig": "knot-dnsutils", "nsd": "nsd", "nsd-checkconf": "nsd",
         "qemu-system-x86_64": "qemu-system-x86"}

# (weight in %, category, [(name relative to example.com unless it ends with a dot, type)])
MIX = [
    (31, "A", [("@", "A"), ("ns1", "A"), ("ns2", "A"), ("mail", "A"), ("host1", "A"), ("sip", "A"),
               ("short", "A"), ("foo.wild", "A"), ("x.ent.wild", "A")]),
    (13, "AAAA", [("@", "AAAA"), ("ns1", "AAAA"), ("mail", "AAAA")]),
    (11, "CNAME", [("www", "A"), ("web", "A"), ("tohost", "A"), ("ext", "A"), ("torev", "PTR"),
                   ("www", "CNAME")]),
    (7, "MX", [("@", "MX"), ("mxwild", "MX"), ("mxglue", "MX")]),
    (5, "TXT", [("@", "TXT"), ("bar.wild", "TXT")]),
    (12, "NXDOMAIN", [("nothere", "A"), ("no-such-host", "AAAA"), ("tonx", "A"), ("wwww", "A"),
                      ("mail3", "MX"), ("99.2.0.192.in-addr.arpa.", "PTR")]),
    (7, "NODATA", [("host1", "AAAA"), ("mail", "MX"), ("ns2", "AAAA"), ("@", "SRV"), ("ent.wild", "A")]),
    (6, "PTR", [("80.2.0.192.in-addr.arpa.", "PTR"), ("1.2.0.192.in-addr.arpa.", "PTR")]),
    (5, "SOA/NS/SRV/CAA", [("@", "SOA"), ("@", "NS"), ("_sip._tcp", "SRV"), ("@", "CAA"),
                           ("2.0.192.in-addr.arpa.", "SOA")]),
    (3, "referral", [("www.sub", "A"), ("ns.sub", "A"), ("foo.sub", "MX")]),
]


def fail(message, status=2):
    print(f"dns.py: {message}", file=sys.stderr)
    sys.exit(status)


def absolute(name):
    return name if name.endswith(".") else ("example.com." if name == "@" else f"{name}.example.com.")


def write_queries():
    """The query file: QUERY_LINES lines `NAME TYPE`, drawn with MIX's weights (fixed seed)."""
    rng = random.Random(53)
    weights = [w for w, _, _ in MIX]
    lines, counts = [], {}
    for _ in range(QUERY_LINES):
        _, category, names = rng.choices(MIX, weights)[0]
        name, qtype = rng.choice(names)
        lines.append(f"{absolute(name)} {qtype}")
        counts[category] = counts.get(category, 0) + 1
    with open(QUERIES, "w") as f:
        f.write("\n".join(lines) + "\n")
    return counts, len(set(lines))


def dns_port():
    """A port free on 127.0.0.1 for both UDP and TCP."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(type=socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    fail("no port free for both UDP and TCP on 127.0.0.1")


def kdig(port, tcp=False, timeout=2):
    """The answer section's data of `kdig @127.0.0.1 -p P www.example.com A` (or why not)."""
    cmd = ["kdig", "@127.0.0.1", "-p", str(port), CHECK_NAME, "A", f"+timeout={timeout}", "+retry=0",
           "+noall", "+answer"] + (["+tcp"] if tcp else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 5)
    data = [line.split()[-1] for line in done.stdout.splitlines() if line.strip() and not line.startswith(";")]
    return data, (done.stdout + done.stderr).strip()


def check_answers(port, tcp_too=True):
    """None when www.example.com A is answered right over UDP (and TCP), else what was wrong."""
    for tcp in ([False, True] if tcp_too else [False]):
        data, text = kdig(port, tcp)
        if data != CHECK_CHAIN:
            return (f"`kdig{' +tcp' if tcp else ''} @127.0.0.1 -p {port} {CHECK_NAME} A` answered "
                    f"{data or 'nothing'} (expected the chain {' -> '.join(CHECK_CHAIN)})"
                    + ("" if data else f": {text.splitlines()[-1] if text else 'no output'}"))
    return None


def wait_answers(port, is_alive, timeout=120):
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if not is_alive():
            return None
        if kdig(port, timeout=1)[0]:
            return time.monotonic() - began
        time.sleep(0.1)
    return None


def start_nsd(port):
    d = os.path.join(OUT, "nsd")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nsd.conf")
    open(conf, "w").write(f"""server:
  ip-address: 127.0.0.1
  port: {port}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{ZONES}"
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  logfile: "{d}/nsd.log"
  verbosity: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: example.com
  zonefile: example.com.zone
zone:
  name: 2.0.192.in-addr.arpa
  zonefile: 2.0.192.in-addr.arpa.zone
""")
    done = subprocess.run(["nsd-checkconf", conf], capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"nsd-checkconf {conf}: {done.stdout.strip()} {done.stderr.strip()}", 1)
    for stale in ("zone.list", "xfrd.state", "nsd.log"):
        if os.path.exists(os.path.join(d, stale)):
            os.remove(os.path.join(d, stale))
    log = os.path.join(d, "nsd")
    out, err = open(log + ".stdout", "wb"), open(log + ".stderr", "wb")
    proc = subprocess.Popen(["nsd", "-d", "-c", conf], cwd=d, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def stop():
        notes = [] if terminate(proc.pid) else [f"nsd {proc.pid} still running 10 s after SIGTERM"]
        proc.wait()
        out.close()
        err.close()
        return notes

    return {"pids": lambda: tree(proc.pid), "stop": stop, "alive": lambda: proc.poll() is None,
            "cmd": f"nsd -d -c {conf}", "log": log, "proc": proc}


# ---------------------------------------------------------------------------------------------
# dnsperf


def parse_dnsperf(text):
    num = lambda pattern, cast=float: (lambda m: cast(m.group(1)) if m else None)(re.search(pattern, text))
    r = {"sent": num(r"Queries sent:\s+(\d+)", int), "completed": num(r"Queries completed:\s+(\d+)", int),
         "lost": num(r"Queries lost:\s+(\d+)", int), "qps": num(r"Queries per second:\s+([\d.]+)"),
         "avg_s": num(r"Average Latency \(s\):\s+([\d.]+)"), "min_s": num(r"Average Latency.*\(min ([\d.]+)"),
         "max_s": num(r"Average Latency.*max ([\d.]+)\)"), "sd_s": num(r"Latency StdDev \(s\):\s+([\d.]+)"),
         "resp_bytes": num(r"Average packet size:.*response (\d+)", int),
         "timeouts": len(re.findall(r"\[Timeout\]", text))}
    m = re.search(r"Response codes:\s+(.*)", text)
    r["rcodes"] = {code: float(pct) for code, pct in re.findall(r"(\w+) \d+ \(([\d.]+)%\)", m.group(1))} if m else {}
    return r


def dnsperf(port, seconds, server_pids):
    """One dnsperf run, with the CPU the server, dnsperf and the rest of the machine used meanwhile
    (bench_http.run_wrk runs any load generator: the command, then its last argument apart)."""
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", QUERIES, *CLIENT, "-l"]
    r = run_wrk(cmd, str(seconds), server_pids)
    r.update(parse_dnsperf(r["text"]))
    r["cmd"] = " ".join(cmd + [str(seconds)]).replace(ROOT + "/", "")
    return r


def measure(name, server, port, tcp=True):
    result = {"name": name, "notes": [], "cmd": server["cmd"]}
    waited = wait_answers(port, server["alive"])
    if waited is None:
        why = f"never answered `kdig @127.0.0.1 -p {port} {CHECK_NAME} A` within 120 s"
        if not server["alive"]():
            why += " (the server had exited)"
        tail = open(server["log"] + ".stderr", errors="replace").read().strip().splitlines()[-1:]
        result["failed"] = why + (f"; its last stderr line: `{tail[0]}`" if tail else "")
        result["notes"] += server["stop"]()
        return result
    result["waited"] = waited
    problem = check_answers(port, tcp)
    if problem:
        result["failed"] = problem
        result["notes"] += server["stop"]()
        return result
    progress(f"{name}: answers after {waited:.1f} s; warming up ({WARMUP_S} s)...")
    result["warmup"] = dnsperf(port, WARMUP_S, server["pids"])
    progress(f"{name}: measuring ({MEASURE_S} s)...")
    result["run"] = dnsperf(port, MEASURE_S, server["pids"])
    result["alive_after"] = server["alive"]()
    problem = check_answers(port, tcp) if result["alive_after"] else "the server had exited"
    if problem:
        result["failed"] = "after the measured run: " + problem
    result["notes"] += server["stop"]()
    return result


# ---------------------------------------------------------------------------------------------


def build(args):
    cmd = [MORGANA, "build", *args]
    done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"`morgana build {' '.join(args)}` failed (status {done.returncode}):\n  "
             + "\n  ".join(done.stderr.strip().splitlines()[-5:]))


def inspect(image):
    done = subprocess.run([MORGANA, "inspect", image], capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"`morgana inspect {image}` failed: {done.stderr.strip()}")
    text = done.stdout
    field = lambda key: (re.search(rf"^{key}\s+(.*)$", text, re.M) or [None, "?"])[1]
    block = re.search(r"^host interfaces \(\d+\)\n((?:  .*\n?)*)", text, re.M)
    return {"size": field("size"), "kernel": field("kernel"), "component": field("component"),
            "interfaces": block.group(1).split() if block else []}


def version(cmd, pattern=None):
    done = subprocess.run(cmd, capture_output=True, text=True)
    text = (done.stdout + done.stderr).strip()
    m = re.search(pattern, text) if pattern else None
    return m.group(0) if m else (text.splitlines() or ["?"])[0]


def main():
    if sys.argv[1:]:
        sys.exit(__doc__)
    began = time.monotonic()
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    if missing:
        fail("missing: " + ", ".join(missing) + "; install with apt-get install -y dnsperf knot-dnsutils nsd "
             "qemu-system-x86")
    os.makedirs(OUT, exist_ok=True)
    copy_morgana(MORGANA, fail)
    progress("building examples/dns-primary (qemu and unix) and examples/dns-primary-udp (qemu)...")
    image = os.path.join(OUT, "dns-primary.img")
    image_udp = os.path.join(OUT, "dns-primary-udp.img")
    component = os.path.join(OUT, "dns-primary.wasm")
    build(["examples/dns-primary", "--target", "qemu", "-o", image])
    build(["examples/dns-primary-udp", "--target", "qemu", "-o", image_udp])
    build(["examples/dns-primary", "-o", component])
    mix, distinct = write_queries()

    load_before = open("/proc/loadavg").read().split()[:3]
    cpu_before = process_cpu()
    wall_before = time.monotonic()
    mine = set()
    results = {}

    progress("(a) qemu target...")
    port = dns_port()
    srv = start_morgana(MORGANA, "qemu", image, port, os.path.join(OUT, "qemu"), guest_ports=("53/udp", "53"))
    mine |= set(srv["pids"]())
    results["a"] = measure("(a) dns-primary qemu", srv, port)

    progress("(b) unix target...")
    port = dns_port()
    srv = start_morgana(MORGANA, "unix", component, port, os.path.join(OUT, "unix"), port_env="DNS_PORT")
    mine |= set(srv["pids"]())
    results["b"] = measure("(b) dns-primary unix", srv, port)

    progress("(c) native NSD...")
    port = dns_port()
    srv = start_nsd(port)
    time.sleep(0.2)
    mine |= set(srv["pids"]())
    results["c"] = measure("(c) native NSD", srv, port)
    results["c"]["cmd"] = srv["cmd"]

    wall_measuring = time.monotonic() - wall_before
    cpu_after = process_cpu()
    mine |= set(tree(os.getpid()))
    busiest = sorted(((cpu - cpu_before[pid][1], name) for pid, (name, cpu) in cpu_after.items()
                      if pid in cpu_before and pid not in mine), reverse=True)[:4]
    load_after = open("/proc/loadavg").read().split()[:3]
    sizes = {"dns-primary": inspect(image), "dns-primary-udp": inspect(image_udp)}
    elapsed = time.monotonic() - began

    # -----------------------------------------------------------------------------------------
    rel = lambda text: text.replace(ROOT + "/", "")
    failures = []
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")

    print("DNS benchmark: examples/dns-primary (authoritative, zones example.com and 2.0.192.in-addr.arpa) on "
          "Morgana's two targets vs native NSD, UDP, same query file")
    print(f"  host      {cpu}, {os.cpu_count()} CPUs, Linux {os.uname().release}, load average "
          f"{' '.join(load_before)} before, {' '.join(load_after)} after")
    runs = [r["run"] for r in results.values() if r.get("run")]
    if runs:
        others = sum(max(r["other_cpu"], 0) for r in runs)
        wall = sum(r["wall"] for r in runs)
        print(f"  quiet?    during the {len(runs)} measured dnsperf runs ({wall:.0f} s) other processes used "
              f"{others:.0f} CPU-s = {others / wall * 100:.0f}% of one CPU (of {os.cpu_count()}), steal "
              f"{sum(r['steal'] for r in runs):.1f} s; busiest others over the {wall_measuring:.0f} s of the three "
              "servers: " + (", ".join(f"{name} {c / wall_measuring * 100:.0f}%" for c, name in busiest
                                      if c / wall_measuring >= 0.01) or "none above 1% of a CPU"))
    print(f"  morgana   {git('rev-parse', '--short', 'HEAD')}"
          f"{' (uncommitted changes)' if git('status', '--porcelain') else ''}, release build")
    dnsperf_version = version(["dnsperf", "-h"], r"Version [\d.]+").replace("Version", "dnsperf")
    nsd_version = version(["nsd", "-v"], r"NSD version [\d.]+")
    print(f"  load      {dnsperf_version}: warm-up "
          f"`{(results['a'].get('warmup') or {}).get('cmd', f'dnsperf ... -l {WARMUP_S}')}`, then the same with "
          f"-l {MEASURE_S} (reported); UDP, no EDNS, 127.0.0.1; queries: "
          f"{rel(QUERIES)}, {QUERY_LINES} lines ({distinct} distinct): "
          + ", ".join(f"{c} {mix[c]}" for _, c, _ in MIX if c in mix))
    print(f"  (a)       {rel(results['a']['cmd'])}")
    print(f"            = {version(['qemu-system-x86_64', '--version'])}, -M microvm, -accel tcg -cpu max, "
          "-m 128M (default), user networking hostfwd")
    print(f"  (b)       {rel(results['b']['cmd'])}   (wasmtime inside morgana, host loopback)")
    print(f"  (c)       {rel(results['c']['cmd'])} = {nsd_version}, 1 server "
          f"process, RRL off, zones {rel(ZONES)}/*.zone")
    print("  (d)       NSD in the Linux microVM peer: not measured (the peer's scripts serve only nginx/busybox "
          "httpd over a TCP :80 forward; see the docstring)")
    print(f"  checks    `kdig @127.0.0.1 -p P {CHECK_NAME} A`, UDP and TCP, before and after the runs: "
          + "; ".join(f"{results[k]['name'][:3]} {'FAILED' if results[k].get('failed') else 'ok'}" for k in "abc"))
    print()

    print(f"Measured run ({MEASURE_S} s, {' '.join(CLIENT)})")
    print(f"  {'server':<22} {'queries/s':>10} {'avg lat':>9} {'min':>8} {'max':>8} {'stddev':>8} {'sent':>8} "
          f"{'lost':>5} {'resp B':>6}  response codes")
    ms = lambda s: "?" if s is None else f"{s * 1000:.3f}"
    for key in "abc":
        r = results[key]
        run = r.get("run")
        if not run or run["qps"] is None:
            why = r.get("failed") or (run or {}).get("text", "")[-300:]
            print(f"  {r['name']:<22} no measurement: {why}")
            failures.append(f"{r['name']}: not measured: {why}")
            continue
        codes = ", ".join(f"{c} {p:.1f}%" for c, p in run["rcodes"].items())
        print(f"  {r['name']:<22} {run['qps']:>10.0f} {ms(run['avg_s']):>9} {ms(run['min_s']):>8} "
              f"{ms(run['max_s']):>8} {ms(run['sd_s']):>8} {run['sent']:>8} {run['lost']:>5} "
              f"{run['resp_bytes']:>6}  {codes}")
    print(f"  latencies in ms (dnsperf's, per completed query); lost = unanswered within {DNSPERF_TIMEOUT_S} s; "
          "resp B = average response size")
    print()

    print("Ratios (measured run)")
    for x, what in (("a", "a/c  dns-primary VM (TCG) vs native NSD"), ("b", "b/c  dns-primary unix vs native NSD")):
        rx, ry = results[x].get("run"), results["c"].get("run")
        if not rx or not ry or rx["qps"] is None or ry["qps"] is None:
            print(f"  {what}: n/a (a run failed)")
            continue
        print(f"  {what}: queries/s {rx['qps']:.0f} / {ry['qps']:.0f} = {rx['qps'] / ry['qps']:.3f}; "
              f"avg latency {ms(rx['avg_s'])} / {ms(ry['avg_s'])} ms = {rx['avg_s'] / ry['avg_s']:.1f}")
    print()

    print("Start-up and warm-up")
    for key in "abc":
        r = results[key]
        if "waited" in r and r.get("warmup"):
            w = r["warmup"]
            print(f"  {r['name']:<22} answers after {r['waited']:.2f} s; warm-up {w.get('qps') or 0:.0f} queries/s, "
                  f"{w.get('lost')} lost")
    print()

    busy_others = print_cpu_table(results, "abc", "dnsperf")

    print("Images (morgana build --target qemu; morgana inspect)")
    full, udp = sizes["dns-primary"], sizes["dns-primary-udp"]
    for name, s in sizes.items():
        print(f"  {name:<16} {s['size']}; kernel {s['kernel']}; component {s['component']}")
    tcp_full = [i for i in full["interfaces"] if i.startswith("wasi:sockets/tcp")]
    tcp_udp = [i for i in udp["interfaces"] if i.startswith("wasi:sockets/tcp")]
    for name, s in sizes.items():
        print(f"  {name} links {len(s['interfaces'])} host interfaces: {' '.join(s['interfaces'])}")
    print(f"  only in dns-primary: {' '.join(i for i in full['interfaces'] if i not in udp['interfaces']) or 'none'}; "
          f"only in dns-primary-udp: {' '.join(i for i in udp['interfaces'] if i not in full['interfaces']) or 'none'}")
    if tcp_udp:
        print(f"  dns-primary-udp LINKS TCP: {' '.join(tcp_udp)}")
        failures.append(f"dns-primary-udp links {' '.join(tcp_udp)}")
    else:
        print(f"  => dns-primary-udp links no wasi:sockets/tcp* (dns-primary links {' '.join(tcp_full) or 'none'})")
    print()

    notes = []
    for key in "abc":
        r = results[key]
        if r.get("failed"):
            notes.append(f"{r['name']}: CHECK FAILED: {r['failed']}")
            if r.get("run") and r["run"]["qps"] is not None:  # else the table's failure says it
                failures.append(f"{r['name']}: {r['failed']}")
        notes += [f"{r['name']}: {n}" for n in r["notes"]]
        for label in ("warmup", "run"):
            run = r.get(label)
            if run and (run["lost"] or run["status"] != 0):
                notes.append(f"{r['name']} {label}: {run['lost']} queries lost, dnsperf exit status {run['status']}")
        if key in "ab":
            lines = open(os.path.join(OUT, ("qemu" if key == "a" else "unix") + ".stderr"), errors="replace").read()
            lines = [l for l in lines.splitlines() if l.strip()]
            unexpected = [l for l in lines if "INFO dns-server" not in l]
            notes.append(f"{r['name']}: stderr has {len(lines)} lines"
                         + (f", {len(unexpected)} other than dns-server's INFO start-up lines, e.g. `{unexpected[0]}`"
                            if unexpected else ", all dns-server INFO start-up lines"))
        elif os.path.exists(os.path.join(OUT, "nsd", "nsd.log")):
            warn = [l for l in open(os.path.join(OUT, "nsd", "nsd.log"), errors="replace")
                    if ("error" in l or "warning" in l) and "signal received, shutting down" not in l]
            if warn:
                notes.append(f"{r['name']}: nsd.log has {len(warn)} error/warning lines, e.g. `{warn[0].strip()}`")
    codes = {k: results[k]["run"]["rcodes"] for k in "abc" if results[k].get("run")}
    for k, c in codes.items():
        for other, oc in codes.items():
            if other > k and any(abs(c.get(x, 0) - oc.get(x, 0)) > 1 for x in set(c) | set(oc)):
                notes.append(f"response codes differ between {results[k]['name']} and {results[other]['name']}: "
                             f"{c} vs {oc}")
    print_notes("dns.py", notes, busy_others, elapsed, OUT, failures)


if __name__ == "__main__":
    main()
