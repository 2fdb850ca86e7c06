#!/usr/bin/env python3
"""Benchmark: how fast a Morgana image boots, how little memory it needs and how big it is,
beside the floor of the VMM itself and the Linux microVM peer, all measured in one run under the
same QEMU settings (TCG, -cpu max, -M microvm).

  1. Every example's image (`morgana build --target qemu`; examples that do not build for the
     qemu target or do not exit by themselves are left out, with a note), booted by this script
     with the exact flags `morgana run` uses (src/qemu.rs) plus `-append verbose`, at the
     image's memory (128M unless its manifest says). COM2 is read through a pipe
     and every line is timestamped as it arrives. From spawning QEMU:
       (a) the kernel's first instruction = arrival of a `[kernel] t=` line minus its t (the
           earliest over the boot's lines: printing a line and the pipe only add delay)
       (b) component entry                 = (a) + t of `component entry`
       (c) exit                            = (a) + t of `exit`
       (d) QEMU process exit               (waitpid returns)
     t is the kernel's TSC clock, zero when `kernel_main` starts (after the PVH stub has cleared
     .bss and built page tables, so a little after the true first instruction).
  2. The VMM floor: a hand-made PVH ELF whose first instruction writes 0 to isa-debug-exit
     (QEMU then exits with status 1, which is checked). Spawn to QEMU exit. A second variant
     writes one byte to COM2 first, which splits the floor into spawn -> first instruction
     (arrival of that byte) and the rest (teardown). Three of each per image boot: they are
     cheap and noisy.
  3. The Linux microVM peer (../shared/peers/linux-microvm): Debian's kernel as an uncompressed
     PVH vmlinux with the peer's tuned arguments, busybox and nginx initramfs, boot to READY
     (`run-peer.sh`'s boot_ms), same -M microvm / TCG / -cpu max / -m.
  4. Ratios: Morgana (c) / Linux READY; Morgana (a) beside the floor.
  5. The smallest -m (MiB) each example runs in through `morgana run IMAGE --memory NM` (exit
     status 0 and the same stdout as at the default memory), and, bypassing morgana's own
     check, with QEMU directly; beside the Linux peer's smallest that reaches READY and serves
     its page (measured between 65 and 128 MiB, busybox and nginx; a boot that prints nothing
     for 12 s counts as failed).
  6. Image sizes with the default (release) and the `--small` (release-small) profile, and
     the kernel/component split from `morgana inspect`.

  7. With --baseline=REV: the same for the images an earlier commit's morgana builds (its tree
     checked out under target/boot-bench/baseline, built with its own target directory; the
     first time about as long as a clean build), booted in the same rounds and listed as
     NAME@REV beside NAME: before and after in one run.

Usage: benches/boot.py [RUNS [LINUX_RUNS]] [--baseline=REV]   (defaults 10 and 3)
       benches/boot.py --quote-linux-memory  (skip the ~2 minutes of Linux memory probing and
                                             quote the peer's README instead)
Installs the Linux peer's Debian packages with apt-get when they are missing (needs root).
Images go to target/boot-bench/, the peer's files to target/linux-microvm-peer/. The only
network traffic is the peer's page fetched over its loopback port forward.
"""

import glob
import os
import re
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess

import linux_peer
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "boot-bench")
PEER_SRC = os.path.normpath(
    os.environ.get("LINUX_PEER_SRC", os.path.join(ROOT, "..", "shared", "peers", "linux-microvm"))
)
PEER_DIR = os.path.join(ROOT, "target", "linux-microvm-peer")
PEER_TUNED_ARGS = "initcall_blacklist=cmos_init cryptomgr.notests"
PEER_SERVERS = ["busybox", "nginx"]
DEFAULT_MEMORY_MIB = 128  # src/qemu.rs DEFAULT_MEMORY_MIB
FLOOR_PER_ROUND = 3  # VMM floor boots of each variant per round
KERNEL_LINE = re.compile(r"\[kernel\] t=(\d+)us (.*)")
# A copy of target/release/morgana taken at the start, so that a rebuild during the run (say, by
# `cargo test`) cannot mix two versions of morgana and its image format.
MORGANA = os.path.join(OUT, "morgana")


def cpu_snapshot():
    """(this machine's busy and steal CPU seconds, CPU seconds of this script and its waited-for
    children), to tell how much else ran while we measured."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    t = os.times()
    return (user + nice + system + irq + softirq) / hz, steal / hz, t.user + t.system + t.children_user + t.children_system


def progress(message):
    print(f"boot.py: {message}", file=sys.stderr, flush=True)


def sh(*args, **kwargs):
    kwargs.setdefault("cwd", ROOT)
    return subprocess.run(args, check=True, **kwargs)


# ---------------------------------------------------------------------------------------------
# Setup


def ensure_packages():
    linux_peer.ensure_packages(progress)


def examples():
    found = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, "examples", "*", "unikernel.toml")))
    return [(os.path.basename(d), d) for d in found]


def build_image(name, directory, small, morgana=MORGANA):
    """Builds the example's image; returns (path, None) or (None, morgana's error)."""
    path = os.path.join(OUT, f"{name}{'-small' if small else ''}.img")
    cmd = [morgana, "build", directory, "--target", "qemu", "-o", path] + (["--small"] if small else [])
    done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        errors = [l for l in done.stderr.splitlines() if l.startswith("error")] or done.stderr.splitlines()[-1:]
        return None, (errors[0] if errors else f"status {done.returncode}")
    return path, None


def inspect(image, morgana=MORGANA):
    out = subprocess.run([morgana, "inspect", image], capture_output=True, text=True, check=True).stdout
    fields = {}
    for line in out.splitlines():
        if line and not line.startswith(" ") and " " in line:
            key, value = line.split(None, 1)
            fields.setdefault(key, value.strip())
    memory = re.match(r"(\d+) MiB", fields.get("memory", ""))
    return {
        "bytes": os.path.getsize(image),
        "kernel": fields.get("kernel", "?"),
        "component": fields.get("component", "?"),
        "memory_mib": int(memory.group(1)) if memory else DEFAULT_MEMORY_MIB,
    }


def floor_elf(mark):
    """A minimal PVH ELF: one PT_LOAD of the whole file at 1 MiB, a PT_NOTE with
    XEN_ELFNOTE_PHYS32_ENTRY, and 32-bit code that writes 0 to isa-debug-exit (port 0xf4).
    With `mark`, it first writes a newline to COM2 (port 0x2f8)."""
    base = 0x100000
    note_offset = 64 + 2 * 56
    code_offset = note_offset + 24
    code = b""
    if mark:
        code += bytes([0x66, 0xBA, 0xF8, 0x02, 0xB0, 0x0A, 0xEE])  # mov dx,0x2f8; mov al,10; out dx,al
    code += bytes([0x66, 0xBA, 0xF4, 0x00])  # mov dx,0xf4
    code += bytes([0x31, 0xC0])  # xor eax,eax
    code += bytes([0xEF])  # out dx,eax
    code += bytes([0xF4, 0xEB, 0xFD])  # hlt; jmp back to hlt
    entry = base + code_offset
    total = code_offset + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELF64, little-endian, version 1, SysV
    header = struct.pack("<16sHHIQQQIHHHHHH", ident, 2, 62, 1, entry, 64, 0, 0, 64, 56, 2, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)  # PT_LOAD, R+X
    note_header = struct.pack("<IIQQQQQQ", 4, 4, note_offset, base + note_offset, base + note_offset, 24, 24, 4)
    note = struct.pack("<III4sQ", 4, 8, 18, b"Xen\0", entry)  # XEN_ELFNOTE_PHYS32_ENTRY
    data = header + load + note_header + note + code
    assert len(data) == total
    path = os.path.join(OUT, f"floor{'-mark' if mark else ''}.elf")
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------------------------------------
# Booting directly under QEMU


def qemu_command(image, memory_mib):
    """`morgana run --target qemu --accel tcg`'s command line (src/qemu.rs), with `-append verbose`."""
    return [
        "qemu-system-x86_64",
        "-M", "microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-m", f"{memory_mib}M",
        "-accel", "tcg", "-cpu", "max",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-chardev", "stdio,id=out,signal=off", "-serial", "chardev:out",
        "-chardev", "file,id=err,path=/proc/self/fd/2",
        "-device", "isa-serial,chardev=err,iobase=0x2f8,irq=3",
        "-kernel", image,
        "-append", "verbose",
    ]


def check_flags_match_morgana():
    """Warns when src/qemu.rs no longer spells the flags this script copies."""
    try:
        source = open(os.path.join(ROOT, "src", "qemu.rs")).read()
    except OSError:
        return ["src/qemu.rs not found: cannot check that the QEMU flags match morgana's"]
    tokens = qemu_command("IMAGE", 1)
    skip = {"IMAGE", "1M", "verbose", "-append"}
    return [
        f"src/qemu.rs no longer contains the QEMU flag {token!r}: this script's flags may differ from morgana's"
        for token in tokens
        if token not in skip and f'"{token}"' not in source
    ]


def boot(image, memory_mib, timeout=60.0):
    """Boots `image` once. Returns arrival times (ms after spawning QEMU) of every COM2 line,
    the COM1 output, the exit status, and the time waitpid returned."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        qemu_command(image, memory_mib), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, "out")
    selector.register(proc.stderr, selectors.EVENT_READ, "err")
    stdout = bytearray()
    partial = bytearray()
    lines = []  # (ms after spawn, line)
    open_streams = 2
    killed = False
    while open_streams:
        remaining = start + timeout - time.perf_counter()
        if remaining <= 0:
            proc.kill()
            killed = True
            remaining = 5.0
        for key, _ in selector.select(remaining):
            chunk = os.read(key.fileobj.fileno(), 65536)
            now = (time.perf_counter() - start) * 1000.0
            if not chunk:
                selector.unregister(key.fileobj)
                open_streams -= 1
            elif key.data == "out":
                stdout += chunk
            else:
                partial += chunk
                while b"\n" in partial:
                    line, _, rest = partial.partition(b"\n")
                    lines.append((now, line.decode(errors="replace")))
                    partial = bytearray(rest)
    status = proc.wait()
    exited = (time.perf_counter() - start) * 1000.0
    if partial:
        lines.append((exited, partial.decode(errors="replace")))
    return {"lines": lines, "stdout": bytes(stdout), "status": status, "exited": exited, "killed": killed}


def kernel_timeline(result):
    """Spawn-relative (a), (b), (c) and the kernel's own steps from a verbose boot.

    Every `[kernel] t=...` line gives an upper bound on the time of the kernel's first
    instruction: its arrival minus its t (printing the line and the pipe only add delay). (a) is
    the tightest bound, the minimum over the boot's lines; `first_line` is the bound from the
    first line alone (the long `booted` line, which takes a couple of ms to print under TCG)."""
    steps = []  # (label, t in ms)
    bounds = []
    for arrival, line in result["lines"]:
        m = KERNEL_LINE.search(line)
        if not m:
            continue
        t = int(m.group(1)) / 1000.0
        label = m.group(2).split(":")[0].split(" (")[0].strip()
        steps.append((label, t))
        bounds.append(arrival - t)
    times = dict(steps)
    if not steps or "component entry" not in times or "exit" not in times:
        return None
    first = min(bounds)
    return {
        "first": first,
        "first_line": bounds[0],
        "entry": first + times["component entry"],
        "exit": first + times["exit"],
        "qemu_exit": result["exited"],
        "steps": steps,
        "spread": max(bounds) - min(bounds),
    }


# ---------------------------------------------------------------------------------------------
# The Linux peer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peer_env(port, timeout=None):
    env = dict(os.environ, LINUX_PEER_DIR=PEER_DIR, KERNEL="vmlinux", EXTRA=PEER_TUNED_ARGS, PORT=str(port))
    if timeout:
        env["TIMEOUT"] = str(timeout)
    return env


def prepare_peer():
    os.makedirs(PEER_DIR, exist_ok=True)
    if not os.path.exists(os.path.join(PEER_DIR, "vmlinux")):
        progress("extracting the peer's vmlinux...")
        subprocess.run([os.path.join(PEER_SRC, "extract-vmlinux.sh")], cwd=ROOT, check=True,
                       env=dict(os.environ, LINUX_PEER_DIR=PEER_DIR), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for server in PEER_SERVERS:
        if not os.path.exists(os.path.join(PEER_DIR, f"initrd-{server}.cpio.gz")):
            progress(f"building the peer's {server} initramfs...")
            subprocess.run([os.path.join(PEER_SRC, "build-initrd.sh"), server], cwd=ROOT, check=True,
                           env=dict(os.environ, LINUX_PEER_DIR=PEER_DIR), stdout=subprocess.DEVNULL)


def peer_boot_ms(server, memory_mib):
    """One boot to READY with run-peer.sh (which kills QEMU after READY): its boot_ms, or None."""
    env = dict(peer_env(free_port()), STOP="1")
    done = subprocess.run([os.path.join(PEER_SRC, "run-peer.sh"), server, f"{memory_mib}M"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=300)
    m = re.search(r"READY .*boot_ms=(\d+)", done.stdout)
    return int(m.group(1)) if m else None


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.05)


def peer_serves(server, memory_mib, page):
    """Boots the peer with `memory_mib`, waits for READY (12 s without console output counts as
    a failure), fetches its page through the loopback port forward, stops the VM."""
    port = free_port()
    done = subprocess.run([os.path.join(PEER_SRC, "run-peer.sh"), server, f"{memory_mib}M"], cwd=ROOT,
                          env=peer_env(port, timeout=12), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, timeout=300)
    m = re.search(r"READY .*qemu_pid=(\d+)", done.stdout)
    if not m:
        return False
    pid = int(m.group(1))
    try:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
        with direct.open(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            ok = response.read() == page
    except OSError:
        ok = False
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        wait_gone(pid)
    return ok


# ---------------------------------------------------------------------------------------------
# Memory


def smallest(works, lo, hi):
    """The smallest n in (lo, hi] for which works(n), assuming works is monotonic, works(hi) is
    checked and lo is assumed to fail (then checked, when the answer would be lo + 1).
    Returns (n or None, {n: result})."""
    tried = {}

    def probe(n):
        tried[n] = works(n)
        return tried[n]

    if not probe(hi):
        return None, tried
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(mid):
            hi = mid
        else:
            lo = mid
    if lo not in tried and lo > 0 and probe(lo):
        return f"<={lo}", tried
    return hi, tried


def morgana_run_memory(image, memory_mib, expected, morgana=MORGANA):
    done = subprocess.run([morgana, "run", image, "--target", "qemu", "--accel", "tcg", "--memory", f"{memory_mib}M"],
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    last = done.stderr.decode(errors="replace").strip().splitlines()
    return done.returncode == 0 and done.stdout == expected, done.returncode, (last[-1] if last else "")


# ---------------------------------------------------------------------------------------------
# Report helpers


def baseline_morgana(rev):
    """The morgana binary of commit `rev`, built from a checkout of it under OUT/baseline (with a
    target directory of its own, so that the current tree's build stays as it is), and the
    checkout's root (whose examples it builds)."""
    tree = os.path.join(OUT, "baseline")
    commit = sh("git", "rev-parse", "--short", rev, capture_output=True, text=True).stdout.strip()
    if os.path.isdir(tree):
        sh("git", "-C", tree, "checkout", "--quiet", "--detach", commit)
    else:
        sh("git", "worktree", "add", "--quiet", "--detach", tree, commit)
    progress(f"building the baseline morgana ({commit}); the first time this takes as long as a clean build...")
    target = os.path.join(OUT, "baseline-target")
    sh("cargo", "build", "--release", "--quiet", "--bin", "morgana", cwd=tree, env=dict(os.environ, CARGO_TARGET_DIR=target))
    binary = os.path.join(OUT, f"morgana-{commit}")
    shutil.copy2(os.path.join(target, "release", "morgana"), binary)
    return commit, binary, tree


def reference_stdout(morgana, image):
    """What `morgana run IMAGE` prints, or (None, why) when it does not exit cleanly by itself."""
    done = subprocess.run([morgana, "run", image, "--target", "qemu", "--accel", "tcg", "--timeout", "15s"],
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if done.returncode != 0 or not done.stdout:
        last = done.stderr.decode(errors="replace").strip().splitlines()
        return None, (f"`morgana run {os.path.relpath(image, ROOT)} --target qemu --timeout 15s` exits with "
                      f"status {done.returncode} ({last[-1] if last else 'no message'}); not timed")
    return done.stdout, None


def med(values):
    return statistics.median(values) if values else float("nan")


def cell(values, width=19):
    if not values:
        return f"{'n/a':>{width}}"
    digits = 1 if max(abs(v) for v in values) < 10 else 0
    text = f"{med(values):.1f} [{min(values):.{digits}f}..{max(values):.{digits}f}]"
    return f"{text:>{width}}"


def human(n):
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def outliers(name, values, notes, factor=1.5):
    if len(values) >= 3:
        m = med(values)
        far = [v for v in values if v > m * factor]
        if far:
            notes.append(f"{name}: {len(far)} of {len(values)} boots over {factor}x the median "
                         f"({', '.join(f'{v:.0f}' for v in far)} ms vs median {m:.0f} ms)")


# ---------------------------------------------------------------------------------------------


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quote_linux_memory = "--quote-linux-memory" in sys.argv[1:]
    baseline = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--baseline=")), None)
    runs = int(args[0]) if len(args) > 0 else 10
    linux_runs = int(args[1]) if len(args) > 1 else 3
    began = time.monotonic()
    notes = []

    ensure_packages()
    notes += check_flags_match_morgana()
    load_before = open("/proc/loadavg").read().split()[:3]
    sh("cargo", "build", "--release", "--quiet", "--bin", "morgana")
    os.makedirs(OUT, exist_ok=True)
    shutil.copy2(os.path.join(ROOT, "target", "release", "morgana"), MORGANA)

    # Images, sizes, and the reference stdout of each example at the default memory.
    apps = []
    skipped = []  # (example, why)
    for name, directory in examples():
        progress(f"building {name} (release and --small)...")
        image, error = build_image(name, directory, small=False)
        if error:
            skipped.append((name, f"`morgana build --target qemu` fails: {error}"))
            continue
        small, error = build_image(name, directory, small=True)
        info, small_info = inspect(image), (inspect(small) if small else None)
        # The reference run: its stdout is what every boot below must print. An application
        # that does not exit by itself (a server) has no (c) or (d) and is left out.
        expected, why = reference_stdout(MORGANA, image)
        if why:
            skipped.append((name, why))
            continue
        apps.append({"name": name, "image": image, "info": info, "small": small_info, "small_error": error,
                     "expected": expected, "memory_mib": info["memory_mib"], "morgana": MORGANA})
    if baseline:
        commit, binary, tree = baseline_morgana(baseline)
        for app in list(apps):
            name = f"{app['name']}@{commit}"
            progress(f"building {name}...")
            image, error = build_image(name, os.path.join(tree, "examples", app["name"]), small=False, morgana=binary)
            expected, why = (None, f"`morgana build` fails: {error}") if error else reference_stdout(binary, image)
            if why:
                skipped.append((name, why))
                continue
            info = inspect(image, morgana=binary)
            apps.append({"name": name, "image": image, "info": info, "small": None,
                         "small_error": "not built for the baseline", "expected": expected,
                         "memory_mib": info["memory_mib"], "morgana": binary})
    if not apps:
        sys.exit("no example builds and runs on the qemu target: " + "; ".join(f"{n}: {w}" for n, w in skipped))
    floors = {"floor": floor_elf(mark=False), "floor-mark": floor_elf(mark=True)}

    # Boots: warm-up (page cache, QEMU's own start), then alternate between subjects.
    progress(f"booting each image {runs} times and the VMM floor {runs * FLOOR_PER_ROUND} times (after 2 warm-ups)...")
    cpu_start, wall_start = cpu_snapshot(), time.monotonic()
    timelines = {app["name"]: [] for app in apps}
    failures = {app["name"]: [] for app in apps}
    floor_exit, mark_first, mark_exit = [], [], []
    floor_bad = []
    stdout_mismatch = {app["name"]: 0 for app in apps}
    for round_ in range(runs + 2):
        warm = round_ < 2
        for app in apps:
            result = boot(app["image"], app["memory_mib"])
            timeline = kernel_timeline(result)
            if warm:
                continue
            if result["status"] != 1 or timeline is None or result["killed"]:
                failures[app["name"]].append(f"status {result['status']}, last line: "
                                             f"{result['lines'][-1][1] if result['lines'] else '(none)'}")
                continue
            if result["stdout"] != app["expected"]:
                stdout_mismatch[app["name"]] += 1
            timelines[app["name"]].append(timeline)
        for _ in range(FLOOR_PER_ROUND):  # cheap, and noisy: more samples
            result = boot(floors["floor"], DEFAULT_MEMORY_MIB)
            if not warm:
                (floor_exit if result["status"] == 1 else floor_bad).append(result["exited"])
            result = boot(floors["floor-mark"], DEFAULT_MEMORY_MIB)
            if not warm:
                if result["status"] == 1 and result["lines"]:
                    mark_first.append(result["lines"][0][0])
                    mark_exit.append(result["exited"])
                else:
                    floor_bad.append(result["exited"])

    # The Linux peer: boot to READY, alternating servers.
    prepare_peer()
    linux_memory = DEFAULT_MEMORY_MIB
    progress(f"booting the Linux peer {linux_runs} times per initramfs after a warm-up (a few seconds each)...")
    linux = {server: [] for server in PEER_SERVERS}
    linux_failed = {server: 0 for server in PEER_SERVERS}
    for round_ in range(linux_runs + 1):
        for server in PEER_SERVERS:
            ms = peer_boot_ms(server, linux_memory)
            if round_ == 0:  # warm-up
                continue
            if ms is None:
                linux_failed[server] += 1
            else:
                linux[server].append(ms)

    cpu_end, wall_end = cpu_snapshot(), time.monotonic()
    timed_wall = wall_end - wall_start
    others = (cpu_end[0] - cpu_start[0]) - (cpu_end[2] - cpu_start[2])
    steal = cpu_end[1] - cpu_start[1]

    # Memory floors.
    progress("searching for the smallest memory of each example...")
    for app in apps:
        detail = {}

        def via_morgana(n, app=app, detail=detail):
            ok, status, last = morgana_run_memory(app["image"], n, app["expected"], morgana=app["morgana"])
            detail[n] = (status, last)
            return ok

        app["min_morgana"], _ = smallest(via_morgana, 0, app["memory_mib"])
        refused = [n for n, (status, last) in detail.items() if status == 2 and "at least" in last]
        floor_msg = re.search(r"at least (\d+) MiB", detail[max(refused)][1]) if refused else None
        app["morgana_floor"] = int(floor_msg.group(1)) if floor_msg else None
        below = app["min_morgana"] - 1 if isinstance(app["min_morgana"], int) else None
        app["below_morgana"] = detail.get(below)
        app["morgana_at_default"] = detail.get(app["memory_mib"])

        qemu_detail = {}

        def via_qemu(n, app=app, detail=qemu_detail):
            result = boot(app["image"], n, timeout=30)
            detail[n] = result
            return result["status"] == 1 and result["stdout"] == app["expected"]

        app["min_qemu"], _ = smallest(via_qemu, 0, app["min_morgana"] if isinstance(app["min_morgana"], int) else 128)
        below = app["min_qemu"] - 1 if isinstance(app["min_qemu"], int) else None
        if below in qemu_detail:
            r = qemu_detail[below]
            app["below_qemu"] = (r["status"], r["lines"][-1][1] if r["lines"] else "(no console output)")
        else:
            app["below_qemu"] = None

    linux_min = {}
    if not quote_linux_memory:
        page = open(os.path.join(PEER_DIR, "index.html"), "rb").read()
        for server in PEER_SERVERS:
            progress(f"searching for the Linux peer's smallest memory ({server}; a failed boot waits 12 s)...")
            linux_min[server], _ = smallest(lambda n, s=server: peer_serves(s, n, page), 64, 128)

    load_after = open("/proc/loadavg").read().split()[:3]
    elapsed = time.monotonic() - began

    # -----------------------------------------------------------------------------------------
    # Report
    qemu_version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    host_kernel = os.uname().release
    guest_kernel = os.path.basename(sorted(glob.glob("/boot/vmlinuz-*"))[-1]).replace("vmlinuz-", "")

    print("Boot benchmark: Morgana images vs the VMM floor vs the Linux microVM peer")
    print(f"  QEMU      {qemu_version}")
    print("  machine   -M microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on -accel tcg -cpu max "
          "(TCG: no KVM used), flags as `morgana run` (src/qemu.rs)")
    print(f"  host      {cpu}, {os.cpu_count()} CPUs, Linux {host_kernel}, load average {' '.join(load_before)} "
          f"before, {' '.join(load_after)} after")
    print(f"  quiet?    while timing boots ({timed_wall:.0f} s): other processes used about {max(others, 0):.1f} CPU-s "
          f"({max(others, 0) / timed_wall * 100:.0f}% of one CPU), hypervisor steal {steal:.1f} s")
    print(f"  morgana   {commit}{' (uncommitted changes)' if dirty else ''}, images built with the release profile")
    print(f"  runs      {runs} boots per image ({runs * FLOOR_PER_ROUND} per floor variant) after 2 warm-ups, "
          "alternating; medians [min..max], ms")
    print()

    print(f"1. Morgana images booted with qemu-system-x86_64 directly (-m {apps[0]['memory_mib'] if apps else 128}M, "
          "-append verbose), ms after spawning QEMU")
    print(f"  {'image':<26} {'(a) first instr':>19} {'(b) comp. entry':>19} {'(c) exit':>19} {'(d) QEMU exited':>19}")
    for app in apps:
        tl = timelines[app["name"]]
        print(f"  {app['name']:<26} {cell([t['first'] for t in tl])} {cell([t['entry'] for t in tl])} "
              f"{cell([t['exit'] for t in tl])} {cell([t['qemu_exit'] for t in tl])}")
    print()
    print("  inside the kernel (its TSC clock, t=0 when kernel_main starts), then QEMU's teardown, ms")
    print(f"  {'step':<40}" + "".join(f" {app['name']:>19}" for app in apps))
    segments = []  # (previous label, label), in the order the kernel printed them
    for app in apps:
        for tl in timelines[app["name"]]:
            previous = "0"
            for label, _ in tl["steps"]:
                if (previous, label) not in segments:
                    segments.append((previous, label))
                previous = label

    def segment(tl, previous, label):
        times = dict(tl["steps"])
        if label not in times or (previous != "0" and previous not in times):
            return None
        return times[label] - (times[previous] if previous != "0" else 0.0)

    for previous, label in segments:
        row = f"  {previous + ' -> ' + label:<40}"
        for app in apps:
            values = [v for v in (segment(tl, previous, label) for tl in timelines[app["name"]]) if v is not None]
            row += f" {cell(values)}"
        print(row)
    print(f"  {'0 -> exit (whole kernel run)':<40}"
          + "".join(f" {cell([dict(t['steps'])['exit'] for t in timelines[app['name']]])}" for app in apps))
    print(f"  {'(c) exit -> (d) QEMU exited':<40}"
          + "".join(f" {cell([t['qemu_exit'] - t['exit'] for t in timelines[app['name']]])}" for app in apps))
    print("  (a) is the earliest of the bounds (arrival - t) that the boot's [kernel] lines give; per boot they")
    print("  spread over (median [min-max], ms)" + "".join(
        f"  {app['name']}: {cell([t['spread'] for t in timelines[app['name']]], 0).strip()}" for app in apps))
    print("  and the first line alone would put (a) later by" + "".join(
        f"  {app['name']}: {cell([t['first_line'] - t['first'] for t in timelines[app['name']]], 0).strip()}"
        for app in apps))
    print()

    print("2. VMM floor: a PVH ELF that writes 0 to isa-debug-exit at its first instruction, same flags, -m 128M")
    print(f"  {'':<26} {'first instr':>19} {'QEMU exited':>19}   exit status")
    print(f"  {'floor (as specified)':<26} {'':>19} {cell(floor_exit)}   1 in {len(floor_exit)} of {runs * FLOOR_PER_ROUND}")
    print(f"  {'floor + 1 byte to COM2':<26} {cell(mark_first)} {cell(mark_exit)}   1 in {len(mark_exit)} of "
          f"{runs * FLOOR_PER_ROUND}")
    print("  (first instr = arrival of the byte the second variant writes to COM2 before exiting)")
    print()

    print(f"3. Linux microVM peer: Debian {guest_kernel}, PVH vmlinux + `{PEER_TUNED_ARGS}`, -m {linux_memory}M, "
          f"run-peer.sh boot_ms (spawn -> READY on ttyS0), {linux_runs} boots each after 1 warm-up")
    for server in PEER_SERVERS:
        values = linux[server]
        runs_text = ", ".join(str(v) for v in values)
        print(f"  {server + ' initramfs':<26} {cell(values)}   runs: {runs_text}"
              + (f"   FAILED {linux_failed[server]}" if linux_failed[server] else ""))
    print()

    print("4. Ratios (medians)")
    best_linux = min((med(v), s) for s, v in linux.items() if v) if any(linux.values()) else None
    for app in apps:
        tl = timelines[app["name"]]
        if not tl:
            continue
        c = med([t["exit"] for t in tl])
        a = med([t["first"] for t in tl])
        for server in PEER_SERVERS:
            if linux[server]:
                r = c / med(linux[server])
                print(f"  {app['name']} (c) exit / Linux {server} READY: {c:.1f} / {med(linux[server]):.0f} = "
                      f"{r:.3f} ({1 / r:.0f}x sooner)")
        if floor_exit:
            print(f"  {app['name']} (a) first instr {a:.1f} vs floor: QEMU exited {med(floor_exit):.1f}"
                  + (f", first instr {med(mark_first):.1f} (a - floor first instr = {a - med(mark_first):+.1f}, "
                     f"ratio {a / med(mark_first):.2f})" if mark_first else ""))
    print()

    print("5. Smallest memory (-m, MiB) that runs the example with its expected stdout")
    print(f"  {'image':<26} {'morgana run':>12} {'QEMU direct':>12}   notes")
    for app in apps:
        note = []
        if app["morgana_floor"]:
            note.append(f"morgana refuses below {app['morgana_floor']} (status 2)")
        if app["below_morgana"]:
            status, last = app["below_morgana"]
            if status != 2:
                note.append(f"at {app['min_morgana'] - 1} via morgana: status {status}, `{last}`")
        if app["min_morgana"] is None and app["morgana_at_default"]:
            status, last = app["morgana_at_default"]
            note.append(f"FAILS via morgana even at {app['memory_mib']}: status {status}, `{last}`")
        if app.get("below_qemu"):
            status, last = app["below_qemu"]
            note.append(f"at {app['min_qemu'] - 1} direct: QEMU status {status} = kernel status "
                        f"{(status - 1) // 2 if status % 2 else '?'}, `{last}`")
        print(f"  {app['name']:<26} {str(app['min_morgana']):>12} {str(app['min_qemu']):>12}   {'; '.join(note)}")
    if quote_linux_memory:
        print("  Linux peer (quoted from its README, not measured): 88 (busybox), 96 (nginx)")
    else:
        for server in PEER_SERVERS:
            print(f"  {'Linux ' + server:<26} {str(linux_min[server]):>12} {'':>12}   measured: READY and the page "
                  "served over the port forward (searched 65-128)")
    print()

    print("6. Image sizes (kernel and component as `morgana inspect` prints them)")
    print(f"  {'image':<26} {'release':>10} {'kernel':>10} {'component':>12} {'(before AOT)':>13}   "
          f"{'--small':>10} {'kernel':>10} {'component':>12}")
    for app in apps:
        i, s = app["info"], app["small"]
        precompiled = lambda c: c.split(" precompiled")[0]
        before = re.search(r"\((.*) before\)", i["component"])
        small_text = (f"{human(s['bytes']):>10} {s['kernel']:>10} {precompiled(s['component']):>12}" if s
                      else f"--small fails: {app['small_error']}")
        print(f"  {app['name']:<26} {human(i['bytes']):>10} {i['kernel']:>10} {precompiled(i['component']):>12} "
              f"{before.group(1) if before else '?':>13}   {small_text}")
    bz = sorted(glob.glob("/boot/vmlinuz-*"))[-1]
    print(f"  {'Linux peer':<26} bzImage {human(os.path.getsize(bz))}, the vmlinux it boots "
          f"{human(os.path.getsize(os.path.join(PEER_DIR, 'vmlinux')))}, "
          + ", ".join(f"initrd-{s} {human(os.path.getsize(os.path.join(PEER_DIR, f'initrd-{s}.cpio.gz')))}"
                      for s in PEER_SERVERS))
    print()

    for name, why in skipped:
        notes.append(f"example {name} left out: {why}")
    for app in apps:
        if failures[app["name"]]:
            notes.append(f"{app['name']}: {len(failures[app['name']])} failed boots: {failures[app['name']][0]}")
        if stdout_mismatch[app["name"]]:
            notes.append(f"{app['name']}: stdout differed from `morgana run`'s in {stdout_mismatch[app['name']]} boots")
        tl = timelines[app["name"]]
        outliers(f"{app['name']} (c)", [t["exit"] for t in tl], notes)
        outliers(f"{app['name']} (d)", [t["qemu_exit"] for t in tl], notes)
    if floor_bad:
        notes.append(f"VMM floor: {len(floor_bad)} boots did not exit with status 1")
    outliers("floor", floor_exit, notes)
    for server in PEER_SERVERS:
        outliers(f"Linux {server}", linux[server], notes, factor=1.2)
    print("Notes")
    for note in notes or ["none"]:
        print(f"  - {note}")
    print(f"  total runtime {elapsed:.0f} s")


if __name__ == "__main__":
    main()
