#!/usr/bin/env python3
"""Benchmark: where TLS's crypto should run. The TLS component's sans-IO core (morgana-tls:
rustls with ring, as components/tls is built) and ring's primitives alone, measured as a wasm
component and as the same Rust source compiled natively, on the host and in a VM, in one run;
and the records sealed both ways, in the component and by the host (morgana:crypto/aead), side
by side.

The program is benches/tls-crypto (std Rust; morgana-tls by path, rustls 0.23 and ring 0.17 as
morgana-tls has them, rcgen for the ECDSA P-256 CA and leaf it makes at start), built with the
components' release profile (opt-level "s", LTO, one codegen unit) twice: as a wasm32-wasip2
component (ring's portable C, compiled by clang) and as a static native Linux binary (ring's
assembly, chosen at run time by CPU feature: AES-NI, PCLMULQDQ, AVX...). The host's AEAD of the
*-host workloads is, in the component, the morgana:crypto/aead import (wit-bindgen; the host that
runs the component seals with morgana-keys: RustCrypto's aes-gcm and chacha20poly1305, on AES-NI
on unix, portable code in the qemu target's kernel) and, natively, morgana-keys called directly
(built at opt-level 3 as the host builds it, though still linked with the profile's LTO, so
natively below the host's own speed). Its workloads, run one after another in one invocation,
each timed inside the program by std::time::Instant and each repeated until it has taken at
least MIN_SECS (0.5 s) of timed work (so the fast sides are timed over many passes, while under
TCG one pass is enough):

  handshake 50      full TLS 1.3 handshakes in memory, server a morgana-tls Session (its key
                    held by a host that signs with ring: ECDSA P-256), client a rustls client
                    (same provider) offering X25519 only, no resumption; a 32-byte request and
                    reply each. handshakes/s, and the server's, host signing's and client's parts
  handshake12 50    the same with TLS 1.2 (ECDHE-ECDSA)
  bulk 8            8 MiB from server to client through one established TLS 1.3 session in
                    16 KiB writes, TLS13_AES_128_GCM_SHA256 (the client offers only that suite:
                    morgana-tls's options cannot choose one). MB/s
  bulk-chacha 8     the same with TLS13_CHACHA20_POLY1305_SHA256
  bulk-aes256 8     the same with TLS13_AES_256_GCM_SHA384, what clients with AES instructions prefer
  seal 8            ring's AEAD alone (LessSafeKey): each 16 KiB record sealed and opened again,
                    what bulk's two sessions do per record; AES-128-GCM. MB/s
  seal-chacha 8     the same with ChaCha20-Poly1305
  bulk-host 8       bulk with the server's records sealed by the host: the session made with
                    morgana-tls's Crypto::with_host_aead, each record and its key crossing into
                    the host and back (the client's records stay ring's, in the program); the
                    same suite, work and checksum as bulk. MB/s
  bulk-host-chacha 8  the same for bulk-chacha
  seal-host 8       seal by the host's AEAD: each record handed to its seal, the result to its
                    open; what a record's round trip through the host costs; AES-128-GCM (the
                    checksum is seal's)
  seal-host-chacha 8  the same with ChaCha20-Poly1305
  x25519 200        one side of ECDHE: an ephemeral X25519 key, its public key, the agreement
  p256-sign 100     ECDSA P-256 SHA-256 signatures, the host's part of a full handshake

(bulk and seal were meant at 64 MiB; wasm AES-GCM under TCG runs at a few MB/s, so a pass is
8 MiB on every side alike, repeated on the fast sides.) Four sides, in each round in turn:

  native      the static binary, run on the host
  unix        `morgana run --target unix COMPONENT -- ARGS` (wasmtime in morgana)
  linux-vm    the static binary in the Linux microVM peer, booted as benches/compute.py boots it
              (its helpers: the peer's PVH vmlinux and tuned arguments, -M microvm, TCG, -cpu
              max, -m 512M, an initramfs of busybox and the binary)
  morgana-vm  `morgana run IMAGE --target qemu --accel tcg --memory 512M -- ARGS`

Reported: per workload the medians [min..max] of RUNS runs of the rate on each side, the ratios
of time per operation wasm/native (unix/native, morgana-vm/linux-vm: above 1, the wasm side is
slower; for the *-host workloads, the crossing and the host's build against the same AEAD called
in-process), the checksums (which must agree across sides and runs, and each *-host workload's
with its in-component counterpart's), the negotiated parameters, the handshake's and bulk's
breakdowns, the settings of each side, the placement, and what the numbers say about moving the
primitives out of the component.

The placement section is the choice the component makes (records sealed in it, or by the host):
on each Morgana side (unix: the host's AES-NI; morgana-vm: the kernel's portable code under TCG)
and for AES-128-GCM and ChaCha20-Poly1305, MB/s with the records in the component (bulk, seal)
and in the host (bulk-host, seal-host), their ratio host/component (above 1: the host is
faster) and which is faster: for the whole bulk workload (its client in the same program, opening
with ring where the program runs), for the server session alone (the bytes over its
server_secs: what the TLS component itself spends per byte it sends), and for the AEAD alone.
The closing reading states where records belong from the unix side's server-session figures.

Usage: benches/tls_crypto.py [RUNS]   (default 3; about 3 minutes, 4 with a clean build)
Needs target/release/morgana (cargo build --release) and clang (ring's C for wasm32; installed
with apt-get when missing, as root). Installs the Linux peer's Debian packages when missing.
Writes to target/tls-crypto-bench/ (the peer's vmlinux to target/linux-microvm-peer/). Exits
non-zero when a side could not be measured or the checksums disagree.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import compute
import linux_peer
from boot import human

ROOT = compute.ROOT
CRATE = os.path.join(ROOT, "benches", "tls-crypto")
OUT = os.path.join(ROOT, "target", "tls-crypto-bench")
MORGANA = os.path.join(OUT, "morgana")
COMPONENT = os.path.join(OUT, "tls-crypto.wasm")
NATIVE = os.path.join(OUT, "tls-crypto-x86_64-linux")
IMAGE = os.path.join(OUT, "tls-crypto.img")
INITRD = os.path.join(OUT, "initrd-tls-crypto.cpio.gz")
MEMORY = compute.MEMORY
MIN_SECS = "0.5"
# (workload, N per pass, the unit of its rate)
WORKLOADS = [
    ("handshake", 50, "handshakes/s"),
    ("handshake12", 50, "handshakes/s"),
    ("bulk", 8, "MB/s"),
    ("bulk-chacha", 8, "MB/s"),
    ("bulk-aes256", 8, "MB/s"),
    ("seal", 8, "MB/s"),
    ("seal-chacha", 8, "MB/s"),
    ("bulk-host", 8, "MB/s"),
    ("bulk-host-chacha", 8, "MB/s"),
    ("seal-host", 8, "MB/s"),
    ("seal-host-chacha", 8, "MB/s"),
    ("x25519", 200, "ops/s"),
    ("p256-sign", 100, "ops/s"),
]
ARGS = ",".join(f"{w}:{n}" for w, n, _ in WORKLOADS)
SIDES = ["native", "unix", "linux-vm", "morgana-vm"]
PAIRS = [("unix", "native"), ("morgana-vm", "linux-vm")]
# The placement pairs: (AEAD, bulk with records in the component, in the host, the AEAD alone
# in the component, in the host). Each pair does the same work, so its checksums agree.
PLACEMENT = [
    ("AES-128-GCM", "bulk", "bulk-host", "seal", "seal-host"),
    ("ChaCha20-Poly1305", "bulk-chacha", "bulk-host-chacha", "seal-chacha", "seal-host-chacha"),
]
# The sides whose host seals for a wasm component, with what it runs.
PLACEMENT_SIDES = [("unix", "morgana run's morgana-keys, on AES-NI"),
                   ("morgana-vm", "the kernel's morgana-keys, portable code, under TCG")]
# /init of the peer's initramfs. benches/compute.py's build_initramfs installs the binary as
# /bin/compute; the kernel hands `workload=` (the workload list) and `size=` (MIN_SECS) from its
# command line to /init as environment variables.
PEER_INIT = """#!/bin/sh
mount -t proc proc /proc
echo "tls-crypto-kernel=$(uname -r)"
/bin/compute "--min-secs=$size" "$workload"
echo "tls-crypto-status=$?"
poweroff -f
"""
RESULT = re.compile(r"^(\S+) ops=(\d+) secs=([\d.]+)(.*)$", re.M)
CHECKSUM = re.compile(r"^(\S+) checksum=([0-9a-f]+)\s*$", re.M)
FAILED = re.compile(r"^(\S+) error=(.*)$", re.M)
HEADER = re.compile(r"^tls-crypto: (.*)$", re.M)


def progress(message):
    print(f"tls_crypto.py: {message}", file=sys.stderr, flush=True)


def use_compute_peer():
    """Points benches/compute.py's peer helpers (build_initramfs, peer_command) at this
    benchmark's binary, initramfs and /init, so both benchmarks boot the peer alike."""
    compute.OUT, compute.NATIVE, compute.INITRD, compute.PEER_INIT = OUT, NATIVE, INITRD, PEER_INIT


# ---------------------------------------------------------------------------------------------
# Setup


def ensure_clang():
    if shutil.which("clang"):
        return
    if os.geteuid() != 0:
        sys.exit("ring needs clang to build for wasm32: apt-get install -y clang")
    progress("installing clang with apt-get...")
    subprocess.run(["apt-get", "install", "-y", "clang"], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def build():
    """Builds benches/tls-crypto for both targets (compute.py's way) and copies the files to OUT.
    Returns how `file` says the native binary is linked."""
    return compute.build_guest(CRATE, "tls-crypto", COMPONENT, NATIVE)


def build_image():
    """`morgana build COMPONENT --target qemu`; returns None, or its error."""
    return compute.build_image(COMPONENT, IMAGE, MORGANA)


# ---------------------------------------------------------------------------------------------
# The four sides


def command(side):
    return {
        "native": [NATIVE, f"--min-secs={MIN_SECS}", ARGS],
        "unix": [MORGANA, "run", "--target", "unix", COMPONENT, "--", f"--min-secs={MIN_SECS}", ARGS],
        "linux-vm": compute.peer_command(ARGS, MIN_SECS),
        "morgana-vm": [MORGANA, "run", IMAGE, "--target", "qemu", "--accel", "tcg", "--memory", MEMORY, "--",
                       f"--min-secs={MIN_SECS}", ARGS],
    }[side]


def fields(text):
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def measure(side, round_):
    """One run of one side: {workload: {ops, secs, rate, fields, checksum} or {error}}, and the
    run's own facts (wall ms, QEMU's command line, the program's header, the guest kernel)."""
    r = compute.run(command(side), os.path.join(OUT, f"{side}-{round_}"), watch_qemu=side == "morgana-vm")
    out = r["stdout"].replace("\r", "")
    header = HEADER.search(out)
    kernel = re.search(r"^tls-crypto-kernel=(\S+)", out, re.M)
    guest_status = re.search(r"^tls-crypto-status=(\d+)", out, re.M)
    run = {"wall": r["wall"], "qemu": r["qemu"], "header": header.group(1).strip() if header else None,
           "guest_kernel": kernel.group(1) if kernel else None}
    found = {m.group(1): m for m in RESULT.finditer(out)}
    sums = {m.group(1): m.group(2) for m in CHECKSUM.finditer(out)}
    errors = {m.group(1): m.group(2).strip() for m in FAILED.finditer(out)}
    results = {}
    for workload, _, unit in WORKLOADS:
        if workload in found and workload in sums:
            m = found[workload]
            ops, secs, extra = int(m.group(2)), float(m.group(3)), fields(m.group(4))
            amount = int(extra["bytes"]) / 1e6 if unit == "MB/s" else ops
            results[workload] = {"ops": ops, "secs": secs, "rate": amount / secs if secs > 0 else float("nan"),
                                 "fields": extra, "checksum": sums[workload]}
        elif workload in errors:
            results[workload] = {"error": errors[workload]}
        elif r["timed_out"]:
            results[workload] = {"error": f"no exit within {compute.TIMEOUT} s (killed)"}
        elif r["status"] != 0:
            results[workload] = {"error": f"status {r['status']}: {compute.last_line(r['stderr'] or out)}"}
        elif guest_status and guest_status.group(1) != "0":
            results[workload] = {"error": f"the program exited with {guest_status.group(1)} in the guest"}
        else:
            results[workload] = {"error": f"no result line (stdout ends: {compute.last_line(out)})"}
    return results, run


# ---------------------------------------------------------------------------------------------
# Report


def ok(results, workload, side):
    return [r for r in results[workload][side] if "error" not in r]


def med_rate(results, workload, side):
    return compute.med([r["rate"] for r in ok(results, workload, side)])


def med_field(results, workload, side, name):
    """Median of a per-run field, per operation (seconds summed over the passes / ops)."""
    return compute.med([float(r["fields"][name]) / r["ops"] for r in ok(results, workload, side) if name in r["fields"]])


def rate_text(value):
    if value != value:
        return "n/a"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def cell(results, workload, side, width=24):
    rates = [r["rate"] for r in ok(results, workload, side)]
    if not rates:
        return f"{'n/a':>{width}}"
    text = f"{rate_text(compute.med(rates))} [{rate_text(min(rates))}..{rate_text(max(rates))}]"
    return f"{text:>{width}}"


def ratio(results, workload, a, b):
    """Time per operation on a over that on b (rates inverted), or None."""
    ra, rb = med_rate(results, workload, a), med_rate(results, workload, b)
    return None if ra != ra or rb != rb or ra == 0 else rb / ra


def ratio_text(value, width=10):
    return f"{'n/a' if value is None else f'{value:.2f}':>{width}}"


def checksum_summary(by_side):
    values = {r["checksum"] for side in SIDES for r in by_side[side] if "checksum" in r}
    count = sum(1 for side in SIDES for r in by_side[side] if "checksum" in r)
    if len(values) == 1:
        return f"{values.pop()} (the same in all {count} runs)"
    if not values:
        return "none (no run produced one)"
    return "DISAGREE: " + "; ".join(
        f"{side} {', '.join(sorted({r['checksum'] for r in by_side[side] if 'checksum' in r}))}" for side in SIDES)


def versions():
    git = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    first = lambda cmd: (subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines() or ["?"])[0]
    lock = open(os.path.join(CRATE, "Cargo.lock")).read()
    locked = lambda name: (re.search(rf'name = "{name}"\nversion = "([^"]+)"', lock) or [None, "?"])[1]
    inspected = subprocess.run([MORGANA, "inspect", IMAGE], capture_output=True, text=True).stdout \
        if os.path.exists(IMAGE) else ""
    wasmtime = re.search(r"^wasmtime\s+(\S+)", inspected, re.M)
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    return {
        "qemu": first(["qemu-system-x86_64", "--version"]),
        "rustc": first(["rustc", "--version"]),
        "clang": first(["clang", "--version"]),
        "ring": locked("ring"), "rustls": locked("rustls"), "rcgen": locked("rcgen"),
        "aes-gcm": locked("aes-gcm"), "chacha20poly1305": locked("chacha20poly1305"),
        "wit-bindgen": locked("wit-bindgen"),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "cpu_flags": [f for f in ["aes", "pclmulqdq", "avx", "avx2", "vaes", "vpclmulqdq", "sha_ni"] if f in flags],
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "dirty": [l[3:] for l in git("status", "--porcelain").splitlines()],
        "wasmtime": wasmtime.group(1) if wasmtime else "?",
    }


def print_settings(v, native_file, runs_info, runs, quiet):
    headers = {side: sorted({i["header"] for i in runs_info[side] if i["header"]}) for side in SIDES}
    qemu = next((i["qemu"] for i in runs_info["morgana-vm"] if i["qemu"]), None)
    guest_kernel = next((i["guest_kernel"] for i in runs_info["linux-vm"] if i["guest_kernel"]), None)
    peer = " ".join(compute.peer_command(ARGS, MIN_SECS)).replace(f"{compute.PEER_DIR}/", "").replace(f"{OUT}/", "")
    print("TLS crypto benchmark: morgana-tls (rustls + ring) and ring's primitives as a Morgana component "
          "and as a native Linux binary")
    print(f"  host        {v['cpu']} ({', '.join(v['cpu_flags'])}), {os.cpu_count()} CPUs, Linux {os.uname().release}; "
          f"{quiet}")
    print(f"  rustc       {v['rustc']}; {v['clang']} (ring's C for wasm32)")
    print(f"  crates      ring {v['ring']}, rustls {v['rustls']} (ring provider), rcgen {v['rcgen']}, morgana-tls from the "
          "working tree; the components' release profile (opt-level s, LTO, 1 codegen unit) + panic=abort")
    print(f"  host AEAD   *-host workloads: in the component, morgana:crypto/aead (wit-bindgen {v['wit-bindgen']}), "
          f"run by the host's morgana-keys; natively, morgana-keys in-process (aes-gcm {v['aes-gcm']}, "
          f"chacha20poly1305 {v['chacha20poly1305']}; opt-level 3, but linked with the profile's LTO)")
    print(f"  component   {human(os.path.getsize(COMPONENT))}, wasm32-wasip2 (ring's portable C: bitsliced AES, GHASH "
          f"without carry-less multiply); on unix: morgana's wasmtime {v['wasmtime']} (Cranelift)")
    print(f"  native      {human(os.path.getsize(NATIVE))}, x86_64-unknown-linux-gnu +crt-static (`file`: {native_file}); "
          "ring picks its assembly by CPU feature at run time")
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(MORGANA)))
    print(f"  morgana     {v['commit']} ({compute.dirty_text(v['dirty'])}); target/release/morgana built {built}; "
          + (f"image {human(os.path.getsize(IMAGE))} (its kernel built from the working tree by this run)"
             if os.path.exists(IMAGE) else "no image"))
    print(f"  QEMU        {v['qemu']}; -m {MEMORY} on both VM sides, TCG (no KVM), -cpu max, one vCPU")
    print("  Morgana VM  " + (" ".join(qemu).replace(f"{OUT}/", "") if qemu else "(QEMU's command line could not be read)"))
    print(f"  Linux VM    {peer}")
    print(f"              Debian kernel {guest_kernel or '?'} (guest's uname -r), initramfs: busybox + the native binary "
          "(as benches/compute.py boots it)")
    for side in SIDES:
        print(f"  {side:<11} the program says: {'; '.join(headers[side]) or '?'}")
    print(f"  workloads   {', '.join(f'{w} {n}' for w, n, _ in WORKLOADS)} per pass (handshakes, MiB, operations), "
          f"each repeated until {MIN_SECS} s of timed work; all in one invocation per run")
    print(f"  runs        {runs} per side, sides alternating within each round; medians [min..max] of the rates")
    print()


def print_results(results):
    print("Rates (medians [min..max]); ratios are of time per operation, wasm/native (above 1: the wasm side is slower)")
    head = (f"  {'workload':<16} {'unit':<13} {'native':>24} {'unix (wasm)':>24} {'unix/native':>11} "
            f"{'Linux VM (native)':>24} {'Morgana VM (wasm)':>24} {'VM ratio':>10}")
    print(head)
    for workload, _, unit in WORKLOADS:
        print(f"  {workload:<16} {unit:<13} {cell(results, workload, 'native')} {cell(results, workload, 'unix')} "
              f"{ratio_text(ratio(results, workload, 'unix', 'native'), 11)} {cell(results, workload, 'linux-vm')} "
              f"{cell(results, workload, 'morgana-vm')} {ratio_text(ratio(results, workload, 'morgana-vm', 'linux-vm'))}")
    print()
    print("Negotiated and checked")
    for workload, _, _ in WORKLOADS:
        negotiated = sorted({" ".join(f"{k}={r['fields'][k]}" for k in ("version", "suite", "kx") if k in r["fields"])
                             for side in SIDES for r in ok(results, workload, side)} - {""})
        print(f"  {workload:<16} checksum {checksum_summary(results[workload])}"
              + (f"; {' | '.join(negotiated)}" if negotiated else ""))
    print()


def print_breakdowns(results):
    print("Where a handshake's time goes (ms per handshake, medians): the server session (the host's signing "
          "included), the signing alone, the client")
    print(f"  {'workload':<12} {'side':<11} {'total':>9} {'server':>9} {'of it sign':>11} {'client':>9}")
    for workload in ["handshake", "handshake12"]:
        for side in SIDES:
            rate = med_rate(results, workload, side)
            parts = [med_field(results, workload, side, f) * 1000 for f in ("server_secs", "sign_secs", "client_secs")]
            total = 1000 / rate if rate == rate else float("nan")
            print(f"  {workload:<12} {side:<11} {total:>9.3f} {parts[0]:>9.3f} {parts[1]:>11.3f} {parts[2]:>9.3f}")
    print()
    print("Where bulk's time goes (ms per MiB, medians): the server session (seal, record framing, its buffers; in "
          "bulk-host the host's sealing and the crossings), the client (open); the AEAD alone (seal + open, the seal "
          "workloads)")
    print(f"  {'workload':<16} {'side':<11} {'total':>9} {'server':>9} {'client':>9} {'AEAD':>9} {'AEAD share':>11}")
    for workload, aead in [("bulk", "seal"), ("bulk-chacha", "seal-chacha"), ("bulk-aes256", None), ("bulk-host", None),
                           ("bulk-host-chacha", None)]:
        for side in SIDES:
            per_mib = lambda w: 1.048576 / med_rate(results, w, side) * 1000
            parts = [med_field(results, workload, side, f) * 1000 * 64 for f in ("server_secs", "client_secs")]
            total = per_mib(workload)
            alone = f"{per_mib(aead):>9.2f} {per_mib(aead) / total * 100:>10.0f}%" if aead else f"{'':>9} {'':>11}"
            print(f"  {workload:<16} {side:<11} {total:>9.2f} {parts[0]:>9.2f} {parts[1]:>9.2f} {alone}")
    print()


def server_rate(results, workload, side):
    """Median over runs of the server session's MB/s: the bytes over its server_secs."""
    return compute.med([int(r["fields"]["bytes"]) / 1e6 / float(r["fields"]["server_secs"])
                        for r in ok(results, workload, side) if float(r["fields"].get("server_secs", 0)) > 0])


def placement(results, side, in_component, in_host, rate=med_rate):
    """(MB/s with the records in the component, in the host, host/component), by `rate`."""
    component, host = rate(results, in_component, side), rate(results, in_host, side)
    return component, host, host / component if component == component and host == host and component else float("nan")


def faster_text(speedup):
    if speedup != speedup:
        return "n/a"
    return f"host {speedup:.1f}x" if speedup >= 1 else f"component {1 / speedup:.1f}x"


def print_placement(results):
    print("Placement: records sealed in the component (bulk, seal: ring in wasm) or by the host through "
          "morgana:crypto/aead (bulk-host, seal-host: each record and its key cross to the host and back); MB/s, "
          "medians; host/component is the ratio of the rates (above 1: the host is faster)")
    print(f"  {'side':<11} {'AEAD':<18} {'measured':<38} {'in component':>12} {'by the host':>12} "
          f"{'host/component':>15}  faster")
    for side, host in PLACEMENT_SIDES:
        for aead, bulk, bulk_host, seal, seal_host in PLACEMENT:
            rows = [("bulk, whole workload (client in wasm)", placement(results, side, bulk, bulk_host)),
                    ("bulk, server session alone", placement(results, side, bulk, bulk_host, server_rate)),
                    ("AEAD alone, seal + open", placement(results, side, seal, seal_host))]
            for i, (what, (component, in_host, speedup)) in enumerate(rows):
                label = (side, aead) if i == 0 else ("", "")
                print(f"  {label[0]:<11} {label[1]:<18} {what:<38} {rate_text(component):>12} {rate_text(in_host):>12} "
                      f"{ratio_text(None if speedup != speedup else speedup, 15)}  {faster_text(speedup)}")
        print(f"  {'':<11} (the host here: {host})")
    print()


def conclusion(results):
    """The closing paragraph: what the medians say about moving the primitives to the host. The
    host pair decides (its native side runs on the real CPU); the VM pair is reported beside."""
    r = lambda w, s: med_rate(results, w, s)
    needed = [r(w, s) for w in ("bulk", "seal", "bulk-chacha", "seal-chacha", "bulk-aes256", "handshake", "x25519",
                                "p256-sign") for s in ("unix", "native")]
    if any(x != x for x in needed):
        return ["Not every workload was measured on the unix and native sides: no conclusion drawn."]

    def bulk_cost(bulk, seal, wasm, native):
        """(AEAD share of the wasm bulk time, throughput lost to the wasm AEAD, the bound with a
        native AEAD and free crossings in MB/s)."""
        t_bulk, t_aead, t_native = 1 / r(bulk, wasm), 1 / r(seal, wasm), 1 / r(seal, native)
        projected = t_bulk - t_aead + t_native
        return t_aead / t_bulk, 1 - projected / t_bulk, 1 / projected

    share, cost, bound = bulk_cost("bulk", "seal", "unix", "native")
    share_c, cost_c, bound_c = bulk_cost("bulk-chacha", "seal-chacha", "unix", "native")
    server = med_field(results, "handshake", "unix", "server_secs") * 1000
    sign = med_field(results, "handshake", "unix", "sign_secs") * 1000
    sign_native = 1000 / r("p256-sign", "native")
    ecdhe, ecdhe_native = 1000 / r("x25519", "unix"), 1000 / r("x25519", "native")
    server_in_production = server - sign + sign_native
    ecdhe_saving = (ecdhe - ecdhe_native) / server_in_production
    lines = [
        f"Record protection. AES-128-GCM in wasm (ring's portable C: bitsliced AES, GHASH without a carry-less multiply) "
        f"seals and opens at {r('seal', 'unix'):.0f} MB/s against {r('seal', 'native'):.0f} MB/s natively "
        f"({r('seal', 'native') / r('seal', 'unix'):.0f}x), and is {share * 100:.0f}% of the component's bulk time: keeping "
        f"it in the component costs {cost * 100:.0f}% of bulk throughput ({r('bulk', 'unix'):.0f} MB/s with the "
        f"records sealed and opened in wasm, at most {bound:.0f} MB/s with both sessions' AEAD native and free "
        f"crossings, the session's own record handling in wasm then being the bound; a rough figure, the difference of two medians). ChaCha20-Poly1305 is closer ({r('seal-chacha', 'native') / r('seal-chacha', 'unix'):.1f}x; "
        f"{share_c * 100:.0f}% of its bulk time, a {cost_c * 100:.0f}% cost, bound {bound_c:.0f} MB/s), and already gives "
        f"the component {r('bulk-chacha', 'unix') / r('bulk', 'unix'):.1f}x the AES-128-GCM rate; AES-256-GCM, which "
        f"clients with AES instructions prefer, moves {r('bulk-aes256', 'unix'):.0f} MB/s.",
        placement_reading(results),
        f"Handshakes. A TLS 1.3 handshake costs the wasm server {server:.2f} ms; the ECDSA P-256 signature is "
        f"{sign:.2f} ms of it when signed in wasm, {sign_native:.3f} ms natively (in production the host signs: the "
        f"design already has it outside), and one side of the X25519 ECDHE is {ecdhe:.3f} ms ({ecdhe_native:.3f} ms "
        f"natively). With the signature in the host the server needs {server_in_production:.2f} ms "
        f"({1000 / server_in_production:.0f} handshakes/s per core); moving ECDHE there too would save "
        f"{ecdhe_saving * 100:.0f}% of that ({1000 / (server_in_production - ecdhe + ecdhe_native):.0f}/s) "
        + ("— not enough for an interface whose shared secret comes back into the component for the key schedule "
           "anyway: keep ECDHE in the component; the host-signed ECDSA is the asymmetric step that matters."
           if ecdhe_saving < 0.5 else
           "— most of the server's handshake: worth an interface, though its shared secret comes back into the "
           "component for the key schedule.")
        + f" The client side (two P-256 verifications and ECDHE, all in the component when it is a TLS client) costs "
          f"{med_field(results, 'handshake', 'unix', 'client_secs') * 1000:.2f} ms in wasm, "
          f"{med_field(results, 'handshake', 'native', 'client_secs') * 1000:.2f} ms natively.",
    ]
    vm = [r(w, s) for w in ("bulk", "seal", "x25519") for s in ("linux-vm", "morgana-vm")]
    if all(x == x for x in vm):
        share_vm, cost_vm, _ = bulk_cost("bulk", "seal", "morgana-vm", "linux-vm")
        lines.append(
            f"The VM pair (TCG): AES-128-GCM runs at {r('seal', 'linux-vm'):.1f} MB/s natively in the Linux VM and "
            f"{r('seal', 'morgana-vm'):.1f} MB/s as wasm in the Morgana VM ({r('seal', 'linux-vm') / r('seal', 'morgana-vm'):.1f}x), "
            f"{share_vm * 100:.0f}% of the Morgana VM's bulk time, a {cost_vm * 100:.0f}% cost; X25519 "
            f"{r('x25519', 'linux-vm') / r('x25519', 'morgana-vm'):.1f}x. QEMU emulates the native side's AES-NI, "
            "PCLMULQDQ and AVX instruction by instruction, so these ratios say little about hardware: the host pair is "
            "the one to decide on."
            + vm_placement_reading(results))
    return lines


# How far apart two rates must be for one placement to count as faster.
EVEN = 1.05


def placement_reading(results):
    """Where records belong, from the unix side: the server session's MB/s with its records
    sealed in the component and by the host (what the TLS component spends per byte it sends),
    for each AEAD; the whole workload and a record's round trip through the host beside."""
    r = lambda w, s: med_rate(results, w, s)
    measured = {aead: placement(results, "unix", bulk, bulk_host, server_rate)
                for aead, bulk, bulk_host, _, _ in PLACEMENT}
    if any(speedup != speedup for _, _, speedup in measured.values()):
        return "Placement. bulk and bulk-host were not both measured on unix: no reading of where records belong."
    figures = []
    for aead, bulk, bulk_host, seal, seal_host in PLACEMENT:
        component, host, speedup = measured[aead]
        figures.append(
            f"{aead} at {host:.0f} MB/s against {component:.0f} MB/s sealing them itself ({faster_text(speedup)} "
            f"faster; the whole bulk workload, whose client still opens in wasm, {r(bulk, 'unix'):.0f} -> "
            f"{r(bulk_host, 'unix'):.0f} MB/s; a record's round trip through the host, seal + open, "
            f"{r(seal_host, 'unix'):.0f} MB/s against {r(seal_host, 'native'):.0f} MB/s in-process natively and "
            f"{r(seal, 'unix'):.0f} MB/s in wasm)")
    where = {aead: "host" if speedup >= EVEN else "component" if speedup <= 1 / EVEN else "even"
             for aead, (_, _, speedup) in measured.items()}
    in_host = [aead for aead in where if where[aead] == "host"]
    in_component = [aead for aead in where if where[aead] == "component"]
    even = [aead for aead in where if where[aead] == "even"]
    if len(in_host) == len(where):
        verdict = ("So, measured, the records belong in the host for both AEADs: the crossings cost less than the "
                   "host's AEAD saves (Crypto::with_host_aead, as components/tls has them).")
    elif len(in_component) == len(where):
        verdict = ("So, measured, the records belong in the component: the crossings cost more than the host's AEAD "
                   "saves (Crypto::in_component; components/tls seals them in the host).")
    else:
        verdict = "So, measured: " + "; ".join(
            part for part in [f"in the host for {' and '.join(in_host)}" if in_host else "",
                              f"in the component for {' and '.join(in_component)}" if in_component else "",
                              f"no difference beyond {(EVEN - 1) * 100:.0f}% for {' and '.join(even)}" if even else ""]
            if part) + "."
    return ("Placement, measured on unix. With its records sealed by the host through morgana:crypto/aead "
            "(bulk-host), the component's server session sends " + "; and ".join(figures) + ". " + verdict)


def vm_placement_reading(results):
    """The placement pairs in the Morgana VM, whose kernel seals with portable code under TCG."""
    measured = [(aead, *placement(results, "morgana-vm", bulk, bulk_host, server_rate))
                for aead, bulk, bulk_host, _, _ in PLACEMENT]
    if any(speedup != speedup for *_, speedup in measured):
        return ""
    return (" In the Morgana VM the kernel seals with RustCrypto's portable code: the server session sends "
            + ", ".join(f"{aead} at {host:.1f} MB/s by the host against {component:.1f} MB/s in the component "
                        f"({faster_text(speedup)} faster)" for aead, component, host, speedup in measured) + ".")


def problems(results):
    fatal, notes = [], []
    for workload, _, _ in WORKLOADS:
        for side in SIDES:
            errors = [r["error"] for r in results[workload][side] if "error" in r]
            if errors:
                (fatal if len(errors) == len(results[workload][side]) else notes).append(
                    f"{workload} on {side}: {len(errors)} of {len(results[workload][side])} runs failed; first: {errors[0]}")
        if checksum_summary(results[workload]).startswith("DISAGREE"):
            fatal.append(f"{workload}: the checksums disagree")
        negotiated = {(r["fields"].get("suite"), r["fields"].get("kx")) for side in SIDES for r in ok(results, workload, side)}
        if len(negotiated) > 1:
            fatal.append(f"{workload}: the sides negotiated differently: {sorted(negotiated)}")
    for _, bulk, bulk_host, seal, seal_host in PLACEMENT:
        for in_component, in_host in [(bulk, bulk_host), (seal, seal_host)]:
            sums = {r["checksum"] for w in (in_component, in_host) for side in SIDES for r in ok(results, w, side)}
            if len(sums) > 1:
                fatal.append(f"{in_host}: its checksums differ from {in_component}'s: the same work was not done")
    return fatal, notes


# ---------------------------------------------------------------------------------------------


def main():
    args = sys.argv[1:]
    if len(args) > 1 or (args and not args[0].isdigit()):
        sys.exit(__doc__)
    runs = int(args[0]) if args else 3
    began = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    use_compute_peer()
    linux_peer.ensure_packages(progress)
    ensure_clang()
    compute.copy_morgana(MORGANA)
    progress("building benches/tls-crypto for wasm32-wasip2 and x86_64-unknown-linux-gnu (static)...")
    native_file = build()
    progress("building the image (morgana build --target qemu)...")
    image_error = build_image()
    settings = versions()
    compute.prepare_peer_kernel()
    compute.build_initramfs()

    results = {w: {side: [] for side in SIDES} for w, _, _ in WORKLOADS}
    runs_info = {side: [] for side in SIDES}
    sides = [s for s in SIDES if not (s == "morgana-vm" and image_error)]
    if image_error:
        for workload, _, _ in WORKLOADS:
            results[workload]["morgana-vm"].append({"error": f"`morgana build --target qemu` failed: {image_error}"})
    load_before = open("/proc/loadavg").read().split()[:3]
    cpu_start, wall_start = compute.cpu_snapshot(), time.monotonic()
    for round_ in range(runs):
        for side in sides:
            progress(f"round {round_ + 1} of {runs}: {side}...")
            measured, info = measure(side, round_)
            runs_info[side].append(info)
            for workload, _, _ in WORKLOADS:
                results[workload][side].append(measured[workload])
    cpu_end, wall_end = compute.cpu_snapshot(), time.monotonic()
    load_after = open("/proc/loadavg").read().split()[:3]
    timed = wall_end - wall_start
    others = max((cpu_end[0] - cpu_start[0]) - (cpu_end[2] - cpu_start[2]), 0.0)
    quiet = (f"load average {' '.join(load_before)} before, {' '.join(load_after)} after; while measuring ({timed:.0f} s) "
             f"other processes used {others:.1f} CPU-s ({others / timed * 100:.0f}% of one CPU), "
             f"steal {cpu_end[1] - cpu_start[1]:.1f} s")

    print_settings(settings, native_file, runs_info, runs, quiet)
    print_results(results)
    print_breakdowns(results)
    print_placement(results)
    print("What the numbers say")
    for line in conclusion(results):
        print(textwrap.fill(line, 112, initial_indent="  ", subsequent_indent="  "))
    print()
    fatal, notes = problems(results)
    walls = {side: compute.med([i["wall"] for i in runs_info[side]]) / 1000 for side in sides}
    notes.append("wall time per run (spawn to exit, median): "
                 + ", ".join(f"{side} {wall:.1f} s" for side, wall in walls.items()))
    print("Notes")
    for note in fatal + notes:
        print(f"  - {note}")
    print(f"  total runtime {time.monotonic() - began:.0f} s")
    if fatal:
        sys.exit(1)


if __name__ == "__main__":
    main()
