"""What the benchmarks that measure the Linux microVM peer (../shared/peers/linux-microvm) share:
the Debian packages it needs, installed with apt-get when missing."""

import glob
import os
import shutil
import subprocess
import sys

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
