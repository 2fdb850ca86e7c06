"""What the benchmarks that measure the Linux microVM peer (../shared/peers/linux-microvm) share:
the Debian packages it needs, installed with apt-get when missing; variants of its initramfs (files
added, commands run before its server starts) and booting one with its run-peer.sh."""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

PACKAGES = "qemu-system-x86 busybox-static linux-image-amd64 nginx wrk cpio xz-utils curl file".split()


def ensure_packages(progress):
    """Installs the peer's packages if any is missing (needs root); `progress` reports it."""
    checks = {
        "qemu-system-x86": shutil.which("qemu-system-x86_64"),
        "busybox-static": os.path.exists("/bin/busybox"),
        "linux-image-amd64": glob.glob("/boot/vmlinuz-*"),
        "nginx": os.path.exists("/usr/sbin/nginx"),
        "wrk": shutil.which("wrk"),
        "cpio": shutil.which("cpio"),
        "xz-utils": shutil.which("xz"),
        "curl": shutil.which("curl"),
        "file": shutil.which("file"),
    }
    missing = [package for package, present in checks.items() if not present]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing packages for the Linux peer; run: apt-get install -y {' '.join(PACKAGES)}")
    progress(f"installing {' '.join(missing)} with apt-get...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", *PACKAGES], check=True, env=env, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# Variants of the peer: its initramfs with files added, booted by its run-peer.sh


def derived_initrd(base, out, files, before_server=""):
    """Writes to `out` a copy of the peer's initramfs `base` (a build-initrd.sh output) with
    `files` ({absolute guest path: bytes}) added or replacing its own, and the shell lines
    `before_server` run by its /init just before it starts the server (its line that runs
    /sbin/nginx or httpd). Packed as build-initrd.sh packs it: newc cpio owned by root, gzip -9.
    run-peer.sh boots it as server NAME when `out` is `initrd-NAME.cpio.gz` in the peer's
    directory; it still waits for READY, i.e. for a listener on the guest's port 80."""
    tree = out + ".tree"
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    try:
        subprocess.run(f"gzip -dc '{base}' | cpio -id --quiet", shell=True, cwd=tree, check=True)
        init = os.path.join(tree, "init")
        lines = open(init).read().split("\n")
        starts = [i for i, line in enumerate(lines) if line.startswith(("/sbin/nginx ", "httpd "))]
        if len(starts) != 1:
            raise RuntimeError(f"{base}: its /init has no single line starting the server; the peer kit changed")
        if before_server:
            lines[starts[0]:starts[0]] = before_server.rstrip("\n").split("\n")
        open(init, "w").write("\n".join(lines))
        for path, data in files.items():
            target = os.path.join(tree, path.lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        subprocess.run(f"find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -9 > '{out}.part'", shell=True,
                       cwd=tree, check=True)
        os.replace(out + ".part", out)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def boot(peer_src, peer_dir, server, port, memory, extra_args, timeout=60):
    """Boots the peer's `initrd-SERVER.cpio.gz` (in `peer_dir`) with run-peer.sh, its PVH
    vmlinux (`KERNEL=vmlinux`) and `extra_args` on the kernel command line, its port 80 forwarded
    from 127.0.0.1:`port`. Returns ({pid, boot_ms, stop()}, None) once READY, or (None, what
    run-peer.sh said)."""
    env = dict(os.environ, LINUX_PEER_DIR=peer_dir, KERNEL="vmlinux", EXTRA=extra_args, PORT=str(port),
               TIMEOUT=str(timeout))
    done = subprocess.run([os.path.join(peer_src, "run-peer.sh"), server, memory], cwd=peer_dir, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=timeout + 240)
    m = re.search(r"READY .*boot_ms=(\d+) qemu_pid=(\d+)", done.stdout)
    if not m:
        return None, done.stdout.strip()
    pid = int(m.group(2))

    def stop():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not _alive(pid):
                return []
            time.sleep(0.05)
        return [f"peer QEMU {pid} still running 10 s after SIGTERM"]

    return {"pid": pid, "boot_ms": int(m.group(1)), "stop": stop}, None


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
