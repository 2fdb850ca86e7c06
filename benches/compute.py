#!/usr/bin/env python3
"""Benchmark: CPU-bound work in a WebAssembly component on Morgana, beside the same Rust source
compiled natively, on the host and in a VM, all measured in one run.

The program is benches/compute (std Rust, sha2 0.10 with its portable code on every target),
built here twice: as a wasm32-wasip2 component (`cargo build --release --target wasm32-wasip2`)
and as a static native Linux binary (`RUSTFLAGS="-C target-feature=+crt-static" cargo build
--release --target x86_64-unknown-linux-gnu`; `file` must say it is statically linked). Its
workloads, one per run, each chosen by argument:

  sha256 64   SHA-256 over 64 MiB: a 1 MiB xorshift buffer fed to one hasher 64 times
  sort 10     sort_unstable of 10 million xorshift u32s (generating them included)
  grow 64     4 rounds of filling 1 MiB Vec<u64>s one push at a time (each Vec doubling as it
              goes) until 64 MiB are held, then freeing them: the wasm linear memory grows with
              memory.grow dozens of times in the first round

(sha256 and grow were meant at 256 MiB; under TCG that takes tens of seconds a run, so both are
scaled down 4x on every side alike.) The program prints one line with a checksum of the work
and the workload's time by std::time::Instant, measured inside the program: that time, which
leaves out start-up, VM boot and shutdown, is the figure compared. Four sides, in each round in
turn:

  native      the static binary, run on the host
  unix        `morgana run --target unix COMPONENT -- WORKLOAD SIZE` (wasmtime in morgana)
  linux-vm    the static binary in the Linux microVM peer (../shared/peers/linux-microvm):
              Debian's kernel as the peer's PVH vmlinux with its tuned arguments, an initramfs of
              busybox and the binary whose /init runs it with the workload given on the kernel
              command line, prints its line to ttyS0 and powers off; run-peer.sh's QEMU flags
              (-M microvm, TCG, -cpu max) with -m 512M, without the network device
  morgana-vm  `morgana run IMAGE --target qemu --accel tcg --memory 512M -- WORKLOAD SIZE`,
              IMAGE being what `morgana build COMPONENT --target qemu` makes (which is what
              `morgana run COMPONENT --target qemu` builds and boots)

Reported per workload: medians [min..max] of RUNS runs of the in-program time and of the wall
time (spawn to exit: the VM sides include booting), the ratios unix/native and morgana-vm/linux-vm
(the goal is <= 1.2), the checksums (which must agree across all sides and runs), and the
settings of each side: QEMU's command lines (Morgana's as read from the running QEMU process),
the memory, the peer's kernel (as the guest's `uname -r` reports it), rustc, morgana's commit.
The host sides get one warm-up run per workload first; every VM run is a fresh QEMU.

Usage: benches/compute.py [RUNS]   (default 3; about 2 minutes)
Needs target/release/morgana (cargo build --release). Installs the Linux peer's Debian packages
with apt-get when missing (needs root). Writes to target/compute-bench/ (the peer's vmlinux to
target/linux-microvm-peer/). Exits non-zero when a configuration could not be measured or the
checksums disagree.
"""

import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import linux_peer
from bench_http import children
from boot import human

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATE = os.path.join(ROOT, "benches", "compute")
OUT = os.path.join(ROOT, "target", "compute-bench")
PEER_SRC = os.path.normpath(
    os.environ.get("LINUX_PEER_SRC", os.path.join(ROOT, "..", "shared", "peers", "linux-microvm"))
)
PEER_DIR = os.path.join(ROOT, "target", "linux-microvm-peer")
PEER_TUNED_ARGS = "initcall_blacklist=cmos_init cryptomgr.notests"
MEMORY = "512M"
WORKLOADS = [("sha256", "64"), ("sort", "10"), ("grow", "64")]
SIDES = ["native", "unix", "linux-vm", "morgana-vm"]
PAIRS = [("unix", "native"), ("morgana-vm", "linux-vm")]
GOAL = 1.2
TIMEOUT = 600  # seconds for one run
RESULT = re.compile(r"^compute: workload=(\S+) size=(\S+) checksum=([0-9a-f]+) ms=([\d.]+)(.*)$", re.M)
# Copies taken at the start, so that a rebuild during the run cannot change what is measured.
MORGANA = os.path.join(OUT, "morgana")
COMPONENT = os.path.join(OUT, "compute.wasm")
NATIVE = os.path.join(OUT, "compute-x86_64-linux")
IMAGE = os.path.join(OUT, "compute.img")
INITRD = os.path.join(OUT, "initrd-compute.cpio.gz")
VMLINUX = os.path.join(PEER_DIR, "vmlinux")
# /init of the peer's initramfs: the kernel hands it `workload=` and `size=` from its command line
# as environment variables.
PEER_INIT = """#!/bin/sh
mount -t proc proc /proc
echo "compute-kernel=$(uname -r)"
/bin/compute "$workload" "$size"
echo "compute-status=$?"
poweroff -f
"""


def progress(message):
    print(f"compute.py: {message}", file=sys.stderr, flush=True)


def cpu_snapshot():
    """(the machine's busy CPU seconds, its steal seconds, CPU seconds of this script and its
    waited-for children), to tell how much else ran while we measured."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    t = os.times()
    return (user + nice + system + irq + softirq) / hz, steal / hz, t.user + t.system + t.children_user + t.children_system


# ---------------------------------------------------------------------------------------------
# Setup


def copy_morgana(dest=MORGANA):
    """Copies the release morgana to `dest`, so a rebuild during the run changes nothing."""
    built = os.path.join(ROOT, "target", "release", "morgana")
    if not os.path.exists(built):
        sys.exit("build first: cargo build --release")
    shutil.copy2(built, dest)


def build_guest(crate=CRATE, name="compute", component=COMPONENT, native=NATIVE):
    """Builds the program `name` of `crate` (benches/compute) for both targets, one after the
    other, and copies the two files to `component` and `native`. Returns how `file` says the
    native binary is linked."""
    wasm_target, native_target = "wasm32-wasip2", "x86_64-unknown-linux-gnu"
    cargo = ["cargo", "build", "--release", "--locked", "--quiet", "--target"]
    subprocess.run(cargo + [wasm_target], cwd=crate, check=True)
    env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static")
    subprocess.run(cargo + [native_target], cwd=crate, check=True, env=env)
    built = os.path.join(crate, "target")
    shutil.copy2(os.path.join(built, wasm_target, "release", f"{name}.wasm"), component)
    shutil.copy2(os.path.join(built, native_target, "release", name), native)
    described = subprocess.run(["file", "-b", native], capture_output=True, text=True, check=True).stdout.strip()
    linked = re.search(r"static(ally|-pie) linked", described)
    if not linked:
        sys.exit(f"the native binary is not statically linked: `file` says {described}")
    return linked.group(0)


def build_image(component=COMPONENT, image=IMAGE, morgana=MORGANA):
    """`morgana build COMPONENT --target qemu -o IMAGE`; returns None, or its error."""
    if os.path.exists(image):
        os.remove(image)
    done = subprocess.run([morgana, "build", component, "--target", "qemu", "-o", image], cwd=ROOT,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        errors = [l for l in done.stderr.splitlines() if l.startswith("error")] or done.stderr.splitlines()[-1:]
        return errors[0] if errors else f"status {done.returncode}"
    return None


def prepare_peer_kernel():
    os.makedirs(PEER_DIR, exist_ok=True)
    if not os.path.exists(VMLINUX):
        progress("extracting the peer's vmlinux...")
        subprocess.run([os.path.join(PEER_SRC, "extract-vmlinux.sh")], cwd=ROOT, check=True,
                       env=dict(os.environ, LINUX_PEER_DIR=PEER_DIR), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def build_initramfs():
    """busybox, the native binary as /bin/compute, and PEER_INIT as /init, packed as
    build-initrd.sh packs the peer's (newc cpio, owned by root, gzip -9)."""
    tree = os.path.join(OUT, "initrd")
    shutil.rmtree(tree, ignore_errors=True)
    for directory in ["bin", "proc", "sys", "dev", "tmp"]:
        os.makedirs(os.path.join(tree, directory))
    shutil.copy2("/bin/busybox", os.path.join(tree, "bin", "busybox"))
    for applet in ["sh", "mount", "echo", "uname", "poweroff"]:
        os.symlink("busybox", os.path.join(tree, "bin", applet))
    shutil.copy2(NATIVE, os.path.join(tree, "bin", "compute"))
    with open(os.path.join(tree, "init"), "w") as f:
        f.write(PEER_INIT)
    os.chmod(os.path.join(tree, "init"), 0o755)
    subprocess.run(f"find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -9 > {INITRD}", shell=True, cwd=tree,
                   check=True)


# ---------------------------------------------------------------------------------------------
# The four sides


def tsc_khz():
    """The host's TSC rate, which the peer gives its guest as run-peer.sh does (under TCG the
    guest's PIT calibration fails in about a quarter of boots without it)."""
    mhz = next(l.split(":", 1)[1] for l in open("/proc/cpuinfo") if l.startswith("cpu MHz"))
    return int(float(mhz) * 1000)


def peer_command(workload, size):
    """run-peer.sh's QEMU command line without its network device, booting the vmlinux with the
    peer's tuned arguments; -no-reboot and panic=-1 make a crashed guest end QEMU."""
    append = (f"console=ttyS0 quiet tsc_early_khz={tsc_khz()} {PEER_TUNED_ARGS} panic=-1 "
              f"workload={workload} size={size}")
    return ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,rtc=off", "-accel", "tcg", "-cpu", "max",
            "-m", MEMORY, "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
            "-kernel", VMLINUX, "-initrd", INITRD, "-append", append]


def command(side, workload, size):
    return {
        "native": [NATIVE, workload, size],
        "unix": [MORGANA, "run", "--target", "unix", COMPONENT, "--", workload, size],
        "linux-vm": peer_command(workload, size),
        "morgana-vm": [MORGANA, "run", IMAGE, "--target", "qemu", "--accel", "tcg", "--memory", MEMORY, "--",
                       workload, size],
    }[side]


def qemu_child_cmdline(pid):
    """The command line of the QEMU process below `pid`, or None (not started yet)."""
    for child in children(pid):
        try:
            args = open(f"/proc/{child}/cmdline", "rb").read().split(b"\0")[:-1]
        except OSError:
            continue
        if args and os.path.basename(args[0]).startswith(b"qemu-system"):
            return [a.decode(errors="replace") for a in args]
    return None


def kill_tree(proc):
    """Kills a run that overstayed, and what it started (morgana's QEMU)."""
    below = children(proc.pid)
    proc.kill()
    for pid in below:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return proc.wait()


def run(cmd, log, watch_qemu=False):
    """Runs `cmd` once, its output to log + .stdout/.stderr. Returns its status, wall time (ms,
    spawn to exit), output, and with `watch_qemu` the command line of the QEMU it started."""
    with open(log + ".stdout", "wb") as out, open(log + ".stderr", "wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        qemu, timed_out = None, False
        while True:
            looking = watch_qemu and qemu is None
            try:
                status = proc.wait(timeout=0.05 if looking else TIMEOUT)
                break
            except subprocess.TimeoutExpired:
                if looking:
                    qemu = qemu_child_cmdline(proc.pid)
                if time.perf_counter() - began > TIMEOUT:
                    status, timed_out = kill_tree(proc), True
                    break
        wall = (time.perf_counter() - began) * 1000.0
    read = lambda suffix: open(log + suffix, "rb").read().decode(errors="replace")
    return {"status": status, "wall": wall, "stdout": read(".stdout"), "stderr": read(".stderr"), "qemu": qemu,
            "timed_out": timed_out}


def measure(side, workload, size, watch_qemu=False):
    """One run of one side: a dict with ms (in-program), wall, checksum, extra fields, or with
    error (why it could not be measured)."""
    log = os.path.join(OUT, f"{side}-{workload}")
    r = run(command(side, workload, size), log, watch_qemu)
    found = RESULT.findall(r["stdout"])
    result = {"wall": r["wall"], "qemu": r["qemu"]}
    kernel = re.search(r"^compute-kernel=(\S+)", r["stdout"], re.M)
    result["guest_kernel"] = kernel.group(1) if kernel else None
    guest_status = re.search(r"^compute-status=(\d+)", r["stdout"], re.M)
    if r["timed_out"]:
        result["error"] = f"no exit within {TIMEOUT} s (killed)"
    elif r["status"] != 0:
        result["error"] = f"status {r['status']}: {last_line(r['stderr'] or r['stdout'])}"
    elif guest_status and guest_status.group(1) != "0":
        result["error"] = f"the program exited with {guest_status.group(1)} in the guest: {last_line(r['stdout'])}"
    elif len(found) != 1 or found[0][0] != workload:
        result["error"] = f"no result line (stdout ends: {last_line(r['stdout'])})"
    else:
        _, result["size"], result["checksum"], ms, extra = found[0]
        result["ms"] = float(ms)
        result["extra"] = extra.strip()
    return result


def last_line(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else "(nothing)"


# ---------------------------------------------------------------------------------------------
# Report


def med(values):
    return statistics.median(values) if values else float("nan")


def cell(values, width=26):
    if not values:
        return f"{'n/a':>{width}}"
    text = f"{med(values):.0f} [{min(values):.0f}..{max(values):.0f}]"
    return f"{text:>{width}}"


def versions():
    first = lambda cmd: (subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines() or ["?"])[0]
    git = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = [l[3:] for l in git("status", "--porcelain").splitlines()]
    lock = open(os.path.join(CRATE, "Cargo.lock")).read()
    sha2 = re.search(r'name = "sha2"\nversion = "([^"]+)"', lock)
    inspected = subprocess.run([MORGANA, "inspect", IMAGE], capture_output=True, text=True).stdout
    wasmtime = re.search(r"^wasmtime\s+(\S+)", inspected, re.M)
    return {
        "qemu": first(["qemu-system-x86_64", "--version"]),
        "rustc": first(["rustc", "--version"]),
        "sha2": sha2.group(1) if sha2 else "?",
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "dirty": dirty,
        "wasmtime": wasmtime.group(1) if wasmtime else "?",
        "kernels": [os.path.basename(k).replace("vmlinuz-", "") for k in sorted(glob.glob("/boot/vmlinuz-*"))],
    }


def dirty_text(paths):
    if not paths:
        return "clean tree"
    outside = [p for p in paths if not p.startswith("benches/")]
    if not outside:
        return f"uncommitted changes only in benches/ ({len(paths)} paths)"
    return (f"uncommitted changes in {len(paths)} paths, {len(outside)} of them outside benches/: "
            f"{', '.join(sorted({p.split('/')[0] for p in outside}))}")


def print_settings(v, native_file, qemu_cmdlines, guest_kernel, runs, quiet):
    peer = " ".join(peer_command("W", "S")).replace(f"{PEER_DIR}/", "").replace(f"{OUT}/", "")
    print("Compute benchmark: one Rust program as a Morgana component and as a native Linux binary")
    print(f"  host        {v['cpu']}, {os.cpu_count()} CPUs, Linux {os.uname().release}; {quiet}")
    print(f"  rustc       {v['rustc']}, release profile (codegen-units 1, panic abort); sha2 {v['sha2']} with "
          "force-soft (its portable code on both targets: no SHA-NI natively)")
    print(f"  component   {human(os.path.getsize(COMPONENT))}, wasm32-wasip2; on unix: morgana's wasmtime "
          f"{v['wasmtime']} (Cranelift)")
    print(f"  native      {human(os.path.getsize(NATIVE))}, x86_64-unknown-linux-gnu +crt-static (`file`: {native_file})")
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(MORGANA)))
    print(f"  morgana     {v['commit']} ({dirty_text(v['dirty'])}); target/release/morgana built {built}; "
          + (f"image {human(os.path.getsize(IMAGE))} (its kernel built from the working tree by this run)"
             if os.path.exists(IMAGE) else "no image"))
    print(f"  QEMU        {v['qemu']}; -m {MEMORY} on both VM sides, TCG (no KVM), one vCPU")
    morgana_qemu = qemu_cmdlines[0] if qemu_cmdlines else None
    print("  Morgana VM  " + (" ".join(morgana_qemu).replace(f"{OUT}/", "") if morgana_qemu
                             else "(QEMU's command line could not be read)"))
    print("              (as morgana run started it; the arguments travel over the console channel, "
          "wall-clock= is the boot's time of day)")
    print(f"  Linux VM    {peer}")
    print(f"              Debian kernel {guest_kernel or '?'} (guest's uname -r; /boot has {', '.join(v['kernels'])}), "
          "initramfs: busybox + the native binary")
    print(f"  workloads   {', '.join(f'{w} {s}' for w, s in WORKLOADS)}: sha256 and grow in MiB, scaled down "
          "4x from 256 MiB so a TCG run takes seconds; sort in millions of u32s")
    print(f"  runs        {runs} per side and workload (host sides after one warm-up), sides alternating; "
          "medians [min..max], ms")
    print()


def print_results(results):
    print(f"  {'workload':<8} {'side':<11} {'in-program ms':>26} {'wall ms (spawn-exit)':>26}   ratio (in-program)")
    for workload, _ in WORKLOADS:
        for side in SIDES:
            ok = [r for r in results[workload][side] if "error" not in r]
            ratio = ""
            for a, b in PAIRS:
                if side == a:
                    ratio = ratio_text(results, workload, a, b)
            print(f"  {workload:<8} {side:<11} {cell([r['ms'] for r in ok])} {cell([r['wall'] for r in ok])}   {ratio}")
        checksums = checksum_summary(results[workload])
        print(f"  {'':<8} {'checksum':<11} {checksums}")
        extras = sorted({f"{side}: {r['extra']}" for side in SIDES for r in results[workload][side] if r.get("extra")})
        for extra in extras:
            print(f"  {'':<8} {'':<11} {extra}")
    print()


def ratio(results, workload, a, b):
    """The ratio of the medians of a's and b's in-program times, or None."""
    ma, mb = (med([r["ms"] for r in results[workload][side] if "error" not in r]) for side in (a, b))
    return None if ma != ma or mb != mb else ma / mb  # nan: a side has no measurement


def ratio_text(results, workload, a, b):
    r = ratio(results, workload, a, b)
    if r is None:
        return f"{a}/{b}: n/a"
    goal = f" (goal <= {GOAL}: {'met' if r <= GOAL else 'NOT met'})" if b == "linux-vm" else ""
    return f"{a}/{b} = {r:.2f}{goal}"


def checksum_summary(by_side):
    values = {r["checksum"] for side in SIDES for r in by_side[side] if "checksum" in r}
    count = sum(1 for side in SIDES for r in by_side[side] if "checksum" in r)
    if len(values) == 1:
        return f"{values.pop()} (the same in all {count} runs)"
    if not values:
        return "none (no run produced one)"
    return "DISAGREE: " + "; ".join(
        f"{side} {', '.join(sorted({r['checksum'] for r in by_side[side] if 'checksum' in r}))}" for side in SIDES)


def print_summary(results):
    print("Ratios of the medians of the in-program times")
    print(f"  {'workload':<8} " + " ".join(f"{a + '/' + b:>22}" for a, b in PAIRS))
    for workload, _ in WORKLOADS:
        ratios = [ratio(results, workload, a, b) for a, b in PAIRS]
        print(f"  {workload:<8} " + " ".join(f"{'n/a' if r is None else f'{r:.2f}':>22}" for r in ratios))
    print()


def problems(results):
    """What makes the run fail: a side never measured, checksums that disagree; and the notes."""
    fatal, notes = [], []
    for workload, _ in WORKLOADS:
        for side in SIDES:
            errors = [r["error"] for r in results[workload][side] if "error" in r]
            if errors:
                (fatal if len(errors) == len(results[workload][side]) else notes).append(
                    f"{workload} on {side}: {len(errors)} of {len(results[workload][side])} runs failed; "
                    f"first: {errors[0]}")
        if checksum_summary(results[workload]).startswith("DISAGREE"):
            fatal.append(f"{workload}: the checksums disagree")
        for side in ["linux-vm", "morgana-vm"]:
            for r in results[workload][side]:
                if "ms" in r and r["ms"] > r["wall"]:
                    notes.append(f"{workload} on {side}: in-program {r['ms']:.0f} ms > wall {r['wall']:.0f} ms "
                                 "(the guest's clock runs fast?)")
    return fatal, notes


# ---------------------------------------------------------------------------------------------


def main():
    args = sys.argv[1:]
    if len(args) > 1 or (args and not args[0].isdigit()):
        sys.exit(__doc__)
    runs = int(args[0]) if args else 3
    began = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    linux_peer.ensure_packages(progress)
    copy_morgana()
    progress("building benches/compute for wasm32-wasip2 and x86_64-unknown-linux-gnu (static)...")
    native_file = build_guest()
    progress("building the image (morgana build --target qemu)...")
    image_error = build_image()
    settings = versions()  # the commit and tree the image was built from
    prepare_peer_kernel()
    build_initramfs()

    results = {w: {side: [] for side in SIDES} for w, _ in WORKLOADS}
    sides = [s for s in SIDES if not (s == "morgana-vm" and image_error)]
    if image_error:
        for workload, _ in WORKLOADS:
            results[workload]["morgana-vm"].append({"error": f"`morgana build --target qemu` failed: {image_error}"})
    progress("warming up the host sides...")
    for workload, size in WORKLOADS:
        for side in ["native", "unix"]:
            measure(side, workload, size)

    qemu_cmdlines, guest_kernel = [], None
    load_before = open("/proc/loadavg").read().split()[:3]
    cpu_start, wall_start = cpu_snapshot(), time.monotonic()
    for round_ in range(runs):
        for workload, size in WORKLOADS:
            progress(f"round {round_ + 1} of {runs}: {workload} on {', '.join(sides)}...")
            for side in sides:
                r = measure(side, workload, size, watch_qemu=side == "morgana-vm")
                if r.get("qemu"):
                    qemu_cmdlines.append(r["qemu"])
                guest_kernel = guest_kernel or r.get("guest_kernel")
                results[workload][side].append(r)
    cpu_end, wall_end = cpu_snapshot(), time.monotonic()
    load_after = open("/proc/loadavg").read().split()[:3]
    timed = wall_end - wall_start
    others = max((cpu_end[0] - cpu_start[0]) - (cpu_end[2] - cpu_start[2]), 0.0)
    steal = cpu_end[1] - cpu_start[1]
    quiet = (f"load average {' '.join(load_before)} before, {' '.join(load_after)} after; while measuring "
             f"({timed:.0f} s) other processes used {others:.1f} CPU-s ({others / timed * 100:.0f}% of one CPU), "
             f"steal {steal:.1f} s")

    print_settings(settings, native_file, qemu_cmdlines, guest_kernel, runs, quiet)
    print_results(results)
    print_summary(results)
    fatal, notes = problems(results)
    print("Notes")
    for note in fatal + notes or ["none"]:
        print(f"  - {note}")
    print(f"  total runtime {time.monotonic() - began:.0f} s")
    if fatal:
        sys.exit(1)


if __name__ == "__main__":
    main()
