"""What the HTTP benchmarks (http_load.py, static.py) share: starting and stopping the servers
they measure (Morgana on either target, the Linux microVM peer with nginx, native nginx),
plain GETs on loopback, wrk runs with the CPU used meanwhile, and the page checks.

Every server start returns a dict: url, pids() (the server's processes, for CPU), stop() -> list
of notes, alive(), and for Morgana log (the prefix of its .stdout/.stderr files) and cmd."""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_SRC = os.path.normpath(
    os.environ.get("LINUX_PEER_SRC", os.path.join(ROOT, "..", "shared", "peers", "linux-microvm"))
)
PEER_DIR = os.path.join(ROOT, "target", "linux-microvm-peer")
PEER_TUNED_ARGS = "initcall_blacklist=cmos_init cryptomgr.notests"
WARMUP = ["wrk", "-t2", "-c10", "-d5s"]
MEASURE = ["wrk", "-t2", "-c10", "-d10s", "--latency"]
PROBE_TIMEOUT = 4  # seconds a fresh connection opened 3 s into the measured run waits for GET /


def progress(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def get(url, timeout=5, opener=None):
    """(status, body) of one GET (through `opener`, by default one that never uses a proxy), or
    (None, error text)."""
    try:
        with (opener or DIRECT).open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return None, str(e)


def wait_answers(url, alive, timeout=120):
    """Retries GET url until it answers (any HTTP status); returns seconds waited or None."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if not alive():
            return None
        status, _ = get(url, timeout=2)
        if status is not None:
            return time.monotonic() - began
        time.sleep(0.1)
    return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def children(pid):
    found = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            found += [int(c) for c in open(task).read().split()]
        except OSError:
            pass
    return found


def tree(pid):
    pids = [pid]
    for child in children(pid):
        pids += tree(child)
    return pids


def cpu_seconds(pids):
    hz = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / hz  # utime, stime
        except (OSError, IndexError):
            pass
    return total


def machine_busy():
    """(user + system, irq + softirq, steal) CPU-seconds of the whole machine since boot. Interrupt
    time is apart: loopback traffic is handled in softirqs, which per-process times may not include."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system) / hz, (irq + softirq) / hz, steal / hz


def terminate(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    return wait_gone(pid)


def versions():
    """What the reports print about the machine and the programs measured."""
    first = lambda cmd, stream="stdout": (getattr(subprocess.run(cmd, capture_output=True, text=True), stream)
                                          .strip().splitlines() or ["?"])[0]
    git = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    return {
        "qemu": first(["qemu-system-x86_64", "--version"]),
        "nginx": first(["nginx", "-v"], "stderr"),
        "wrk": first(["wrk", "-v"]).split(" [")[0],
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
        "guest_kernel": os.path.basename(kernels[-1]).replace("vmlinuz-", "") if kernels else "?",
    }


# ---------------------------------------------------------------------------------------------
# wrk

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_wrk(text):
    r = {"text": text}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    r["rps"] = float(m.group(1)) if m else None
    m = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
    r["mean_ms"] = float(m.group(1)) * UNITS[m.group(2)] if m else None
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
        r[f"p{p}_ms"] = float(m.group(1)) * UNITS[m.group(2)] if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)(B|KB|MB|GB) read", text)
    r["requests"] = int(m.group(1)) if m else None
    r["bytes"] = float(m.group(4)) * SIZES[m.group(5)] if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["socket"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    return r


def run_wrk(cmd, url, server_pids):
    """Runs wrk; returns its parsed output plus the CPU the server, wrk and everything else used."""
    busy0, irq0, steal0 = machine_busy()
    server0 = cpu_seconds(server_pids())
    t0 = os.times()
    began = time.monotonic()
    done = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - began
    t1 = os.times()
    busy1, irq1, steal1 = machine_busy()
    r = parse_wrk(done.stdout + done.stderr)
    r["status"] = done.returncode
    r["wall"] = wall
    r["server_cpu"] = cpu_seconds(server_pids()) - server0
    r["wrk_cpu"] = (t1.children_user + t1.children_system) - (t0.children_user + t0.children_system)
    r["other_cpu"] = (busy1 - busy0) - r["server_cpu"] - r["wrk_cpu"] - ((t1.user + t1.system) - (t0.user + t0.system))
    r["steal"] = steal1 - steal0
    r["irq"] = irq1 - irq0
    return r


# ---------------------------------------------------------------------------------------------
# The servers


def start_morgana(morgana, target, artifact, port, log, qemu_args=(), guest_ports=("8080",), port_env="PORT",
                  run_args=(), scheme="http"):
    """`morgana run ARTIFACT RUN_ARGS`: on qemu with TCG, `qemu_args` and a forward of
    127.0.0.1:port to each of the guest's `guest_ports` (`morgana run -p` syntax: "53/udp"
    forwards UDP); on unix with `port_env`=port (`port_env=None`: RUN_ARGS set the port on both).
    stdout and stderr go to log + .stdout/.stderr. The server's `url` has `scheme`."""
    cmd = [morgana, "run", artifact]
    if target == "qemu":
        cmd += ["--target", "qemu", "--accel", "tcg", *qemu_args]
        for guest in guest_ports:
            cmd += ["-p", f"127.0.0.1:{port}:{guest}"]
    elif port_env:
        cmd += ["--env", f"{port_env}={port}"]
    cmd += list(run_args)
    out = open(log + ".stdout", "wb")
    err = open(log + ".stderr", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def stop():
        notes = []
        qemu = [p for p in tree(proc.pid) if p != proc.pid]
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            notes.append("morgana did not exit within 10 s of SIGTERM; killed")
            proc.kill()
            proc.wait()
        time.sleep(1)
        survivors = [p for p in qemu if alive(p)]
        if survivors:
            notes.append(f"after SIGTERM to morgana (status {proc.returncode}), its child process(es) "
                         f"{survivors} (QEMU) were still running 1 s later; stopped them with SIGTERM")
            for p in survivors:
                terminate(p)
        out.close()
        err.close()
        return notes

    return {"url": f"{scheme}://127.0.0.1:{port}/", "pids": lambda: tree(proc.pid), "stop": stop,
            "alive": lambda: proc.poll() is None, "log": log, "cmd": " ".join(cmd), "proc": proc}


def prepare_peer():
    """Extracts the peer's vmlinux and builds its nginx initramfs when missing."""
    os.makedirs(PEER_DIR, exist_ok=True)
    if not os.path.exists(os.path.join(PEER_DIR, "vmlinux")):
        progress("extracting the peer's vmlinux...")
        subprocess.run([os.path.join(PEER_SRC, "extract-vmlinux.sh")], cwd=ROOT, check=True,
                       env=dict(os.environ, LINUX_PEER_DIR=PEER_DIR), stdout=subprocess.DEVNULL)
    if not os.path.exists(os.path.join(PEER_DIR, "initrd-nginx.cpio.gz")):
        progress("building the peer's nginx initramfs...")
        subprocess.run([os.path.join(PEER_SRC, "build-initrd.sh"), "nginx"], cwd=ROOT, check=True,
                       env=dict(os.environ, LINUX_PEER_DIR=PEER_DIR), stdout=subprocess.DEVNULL)


def start_peer(port, memory):
    """The Linux microVM peer with nginx, booted to READY by run-peer.sh; (server, None) or
    (None, run-peer.sh's output)."""
    env = dict(os.environ, LINUX_PEER_DIR=PEER_DIR, KERNEL="vmlinux", EXTRA=PEER_TUNED_ARGS, PORT=str(port),
               TIMEOUT="60")
    done = subprocess.run([os.path.join(PEER_SRC, "run-peer.sh"), "nginx", memory], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=300)
    m = re.search(r"READY .*boot_ms=(\d+) qemu_pid=(\d+)", done.stdout)
    if not m:
        return None, done.stdout.strip()
    pid = int(m.group(2))

    def stop():
        return [] if terminate(pid) else [f"peer QEMU {pid} still running 10 s after SIGTERM"]

    return {"url": f"http://127.0.0.1:{port}/", "pids": lambda: [pid], "stop": stop, "alive": lambda: alive(pid),
            "boot_ms": int(m.group(1))}, None


def start_nginx(workdir, port, root):
    """Native nginx (Debian's): 1 worker, access_log off, keep-alive, sendfile, on 127.0.0.1:port,
    serving the directory `root`; its configuration, pid file and logs go to `workdir`."""
    d = workdir
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    os.chmod(d, 0o755)
    conf = os.path.join(d, "nginx.conf")
    pidfile = os.path.join(d, "nginx.pid")
    if os.path.exists(pidfile):
        os.remove(pidfile)
    tmp = os.path.join(d, "tmp")
    open(conf, "w").write(f"""worker_processes 1;
daemon on;
pid {pidfile};
error_log {d}/error.log crit;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types {{ text/html html; }} default_type text/html;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port} default_server; root {root}; }}
}}
""")
    subprocess.run(["nginx", "-c", conf, "-p", d + "/", "-e", os.path.join(d, "error.log")], check=True,
                   stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.05)
    master = int(open(pidfile).read())

    def stop():
        return [] if terminate(master) else [f"nginx {master} still running 10 s after SIGTERM"]

    return {"url": f"http://127.0.0.1:{port}/", "pids": lambda: tree(master), "stop": stop,
            "alive": lambda: alive(master)}


# ---------------------------------------------------------------------------------------------


def pin(pids, cpus):
    """Sets the CPU affinity of every thread of the given processes."""
    for pid in pids:
        for task in glob.glob(f"/proc/{pid}/task/*"):
            try:
                os.sched_setaffinity(int(os.path.basename(task)), cpus)
            except OSError:
                pass


def measure(name, server, check, pinned=False, before=None):
    """Waits for the server, checks its page, calls before(url) (its result goes to
    result["before"]), warms it up, measures it (with a fresh connection opened 3 s in), stops it.
    result["first_get"] is how long the first GET after the server answered took."""
    result = {"name": name, "notes": []}
    waited = wait_answers(server["url"], server["alive"])
    if waited is None:
        why = "never answered GET /"
        if "log" in server:
            tail = open(server["log"] + ".stderr", errors="replace").read().strip().splitlines()[-1:]
            why += f"; morgana's last stderr line: `{tail[0] if tail else ''}`"
        if not server["alive"]():
            why += " (the server had exited)"
        result["notes"].append(why)
        result["notes"] += server["stop"]()
        return result
    result["waited"] = waited
    began = time.monotonic()
    status, body = get(server["url"])
    result["first_get"] = time.monotonic() - began
    result["page"] = body if isinstance(body, bytes) else b""
    problem = check(status, body)
    if problem:
        result["notes"].append(f"page check failed: {problem}")
    if before:
        result["before"] = before(server["url"])
    progress(f"{name}: answers after {waited:.1f} s; warming up (5 s)...")
    result["warmup"] = run_wrk(WARMUP, server["url"], server["pids"])
    progress(f"{name}: measuring (10 s)...")
    probe = {}

    def fresh_connection():
        time.sleep(3)
        t = time.monotonic()
        status, body = get(server["url"], timeout=PROBE_TIMEOUT)
        probe["status"], probe["seconds"] = status, time.monotonic() - t

    prober = threading.Thread(target=fresh_connection)
    prober.start()
    result["run"] = run_wrk(MEASURE, server["url"], server["pids"])
    prober.join()
    result["probe"] = probe
    if pinned:
        progress(f"{name}: measuring again with the server and wrk on CPU 0 (10 s)...")
        pin(server["pids"](), {0})
        result["pinned"] = run_wrk(["taskset", "-c", "0"] + MEASURE, server["url"], server["pids"])
        pin(server["pids"](), set(range(os.cpu_count())))
    result["alive_after"] = server["alive"]()
    status, body = get(server["url"], timeout=5)
    result["after"] = (status, len(body) if isinstance(body, bytes) else body)
    result["notes"] += server["stop"]()
    return result


def check_exact(expected):
    def check(status, body):
        if status != 200:
            return f"status {status}"
        if body != expected:
            return f"body is {len(body)} bytes, expected exactly {len(expected)}"
        return None
    return check


def print_cpu_table(results, keys, client):
    """Prints the CPU-seconds each measured run used (server, `client`, everything else, irq,
    steal) and returns, per run, the share of a CPU that other processes used meanwhile."""
    print("CPU-seconds used during the measured run (at most 2 per second)")
    print(f"  {'server':<22} {'wall s':>6} {'server':>7} {client:>7} {'others':>7} {'irq':>6} {'steal':>6}")
    busy_others = []
    for key in keys:
        run = results[key].get("run")
        if not run:
            continue
        others = max(run["other_cpu"], 0)
        busy_others.append(others / run["wall"])
        print(f"  {results[key]['name']:<22} {run['wall']:>6.1f} {run['server_cpu']:>7.1f} {run['wrk_cpu']:>7.1f} "
              f"{others:>7.1f} {run['irq']:>6.1f} {run['steal']:>6.1f}")
    print("  (server = the server's processes, QEMU included; others = the machine's user+system time minus")
    print(f"  server, {client} and this script: whatever else ran meanwhile; irq = the machine's irq+softirq time)")
    print()
    return busy_others


def print_notes(script, notes, busy_others, elapsed, out_dir, failures=()):
    """The report's last section: a warning when other processes loaded the machine during the
    measured runs (`busy_others`: their share of a CPU per run), the notes, the runtime and where
    the logs are. Exits with status 1, naming them, when there are `failures`."""
    if busy_others and max(busy_others) > 0.2:
        notes.append(f"NOT a quiet machine: other processes used up to {max(busy_others) * 100 / os.cpu_count():.0f}% "
                     f"of its {os.cpu_count()} CPUs during the measured runs (see the CPU table); every figure here is "
                     "lower than on a quiet one, and the ratios are only as good as that load was even")
    print("Notes")
    for n in notes or ["none"]:
        print(f"  - {n}")
    print(f"  total runtime {elapsed:.0f} s; logs in {out_dir.replace(ROOT + '/', '')}/")
    if failures:
        print(f"{script}: FAILED: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)


def copy_morgana(dest, fail):
    """Copies the release `morgana` binary to `dest` (so a rebuild during the run cannot change
    what is measured), building it first when it is missing; `fail(message)` on a failed build."""
    release = os.path.join(ROOT, "target", "release", "morgana")
    if not os.path.exists(release):
        progress("target/release/morgana is missing: cargo build --release --bin morgana...")
        if subprocess.run(["cargo", "build", "--release", "--bin", "morgana"], cwd=ROOT).returncode != 0:
            fail("cargo build --release --bin morgana failed")
    shutil.copy2(release, dest)


def side_notes(r, notes, failures, labels=("warmup", "run")):
    """Adds what went wrong on one measured side `r` (its own notes, wrk's errors in the runs
    named by `labels`, a server gone or no longer answering) to `notes`, and what makes the run
    fail (a page check failed, the server never answered or exited) to `failures`."""
    for n in r["notes"]:
        notes.append(f"{r['name']}: {n}")
        if n.startswith("page check failed") or n.startswith("never answered"):
            failures.append(f"{r['name']}: {n}")
    for label in labels:
        run = r.get(label)
        if run and (run["non2xx"] or any(run["socket"].values()) or run["status"] != 0):
            notes.append(f"{r['name']} {label}: wrk reported errors: non-2xx/3xx {run['non2xx']}, socket "
                         f"{run['socket']}, wrk exit status {run['status']}")
    if "alive_after" in r and not r["alive_after"]:
        notes.append(f"{r['name']}: the server had exited by the end of the measured run")
        failures.append(f"{r['name']}: the server exited")
    if "after" in r and r["after"][0] != 200:
        notes.append(f"{r['name']}: GET / right after the measured run: {r['after']}")

