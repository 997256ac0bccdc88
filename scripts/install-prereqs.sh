#!/usr/bin/env bash
# Install the Debian packages the NovaStor test suites need (Debian 12 / bookworm).
#
# Idempotent: if every package is already installed and the apt lists can resolve
# the guest kernel, nothing is downloaded and nothing is changed. `apt-get update`
# runs only when something is missing, because it touches the network and is slow.
#
# Must run as root. Exits non-zero with a message naming what failed.
#
# Why each package is needed:
#   qemu-system-x86  boots Debian's stock kernel for the kernel NVMe/TCP host and
#                    nvmet target (tests/conformance/guest), since the build/CI
#                    kernel lacks nvme-tcp and nvmet. Its Depends pull seabios and
#                    ipxe-qemu (efi-virtio.rom for virtio-net-pci).
#   busybox-static   the guest's /init shell and basic tools.
#   nvme-cli fio e2fsprogs util-linux mount coreutils diffutils kmod
#                    copied (with their shared libraries) into the guest initramfs:
#                    nvme, fio, mkfs.ext4/e2fsck, blkdiscard/losetup, sha256sum/dd,
#                    cmp, modprobe/depmod. kmod's depmod also runs on the host.
#   xfsprogs socat   also copied into the guest, for the CSI node plugin's scenarios
#                    (tests/conformance/Csi): mkfs.xfs/xfs_growfs for xfs volumes; socat relays
#                    the plugin's Unix socket and a command channel to QEMU's port forwards.
#   cpio gzip        pack the initramfs.
#   xz-utils         unpack the newer guest kernel's (6.12) compressed modules.
#   podman runc debootstrap
#                    build the repository's Dockerfile and run the image (tests/conformance/
#                    Container): podman (buildah inside) builds and runs it, runc is the OCI
#                    runtime (crun refuses hybrid cgroups), debootstrap makes the local Debian
#                    base images, since no image registry is reachable (tests/container/build-bases.sh).
#   afl++            afl-fuzz drives the coverage-guided fuzzing of the PDU framer and the target's
#                    queues (scripts/fuzz.sh, tests/Fuzz: SharpFuzz instruments the .NET assemblies).
#                    Its Depends pull clang and build-essential, which the fuzzing itself does not use.
set -euo pipefail

PACKAGES=(
  qemu-system-x86 busybox-static nvme-cli fio e2fsprogs cpio kmod util-linux xz-utils
  xfsprogs socat
  podman runc debootstrap
  afl++
  # Essential/required on Debian, listed so that a trimmed image (containers) still works.
  mount coreutils diffutils gzip
)

# Upper bounds so that a hung mirror or dpkg lock cannot stall CI forever.
APT_UPDATE_TIMEOUT=${APT_UPDATE_TIMEOUT:-600}
APT_INSTALL_TIMEOUT=${APT_INSTALL_TIMEOUT:-1800}

die() { echo "install-prereqs: ERROR: $*" >&2; exit 1; }
log() { echo "install-prereqs: $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12 only"
command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian 12 only"

if [[ -r /etc/os-release ]]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [[ ${ID:-} != debian || ${VERSION_ID:-} != 12 ]]; then
    log "warning: tested on Debian 12 only, this is ${PRETTY_NAME:-unknown}; continuing"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o Acquire::Retries=3 -o DPkg::Lock::Timeout=300)

is_installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# The guest build resolves the exact kernel package from the apt lists
# (`apt-cache depends linux-image-amd64`); a fresh machine or container often has
# no lists at all, which counts as "something missing".
kernel_resolvable() {
  apt-cache depends linux-image-amd64 2>/dev/null | grep -Eq '^[[:space:]]*Depends: linux-image-[0-9]'
}

missing=()
for p in "${PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done

need_update=0
((${#missing[@]} > 0)) && need_update=1
kernel_resolvable || need_update=1

if ((need_update == 0)); then
  log "all packages present and apt lists usable; nothing to do"
else
  log "running apt-get update (missing packages: ${missing[*]:-none}; kernel resolvable from lists: $(kernel_resolvable && echo yes || echo no))"
  timeout "$APT_UPDATE_TIMEOUT" apt-get "${APT_OPTS[@]}" update \
    || die "apt-get update failed or timed out after ${APT_UPDATE_TIMEOUT}s (exit $?)"

  if ((${#missing[@]} > 0)); then
    log "installing: ${missing[*]}"
    # --no-install-recommends: qemu-system-x86 would otherwise pull a GUI stack.
    timeout "$APT_INSTALL_TIMEOUT" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" \
      || die "apt-get install failed or timed out after ${APT_INSTALL_TIMEOUT}s (exit $?): ${missing[*]}"
  fi
fi

# Verify the result rather than trusting exit codes alone.
still_missing=()
for p in "${PACKAGES[@]}"; do
  is_installed "$p" || still_missing+=("$p")
done
((${#still_missing[@]} == 0)) || die "packages still not installed: ${still_missing[*]}"

for cmd in qemu-system-x86_64 busybox nvme fio mkfs.ext4 e2fsck cpio gzip depmod modprobe \
           blkdiscard losetup sha256sum cmp dd timeout ldd mkfs.xfs xfs_growfs socat blkid podman runc debootstrap flock afl-fuzz; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null || die "command '$cmd' not found after install"
done
[[ -x /bin/busybox ]] || die "/bin/busybox (busybox-static) not found"
kernel_resolvable || die "apt-cache depends linux-image-amd64 names no kernel package even after apt-get update; check /etc/apt/sources.list(.d) has bookworm main"

log "ok: ${PACKAGES[*]}"
