#!/usr/bin/env bash
# Build the NovaStor test guest: Debian's stock kernel plus a small initramfs with the
# kernel NVMe/TCP host (nvme-cli), the kernel nvmet target and a few test tools.
# Needed because the build/CI machines run a kernel without nvme-tcp and nvmet.
#
#   build-guest.sh OUTDIR
#
# Produces:
#   OUTDIR/vmlinuz     the kernel of the package `linux-image-amd64` depends on
#   OUTDIR/initrd.gz   base initramfs (/init, busybox, modules, host tools); boot it with
#                      run-scenario.sh, which appends the scenario as a second archive
#   OUTDIR/initrd.cpio the same, uncompressed (boots ~2 s faster under emulation)
#   OUTDIR/guest.env   KERNEL_PACKAGE=, KERNEL_VERSION=, GUEST_HOSTNQN=, GUEST_HOSTID=
#
# Idempotent and cached: if OUTDIR already holds a complete build for the same kernel
# package version, the same content of this script and of ./init, and the same
# versions of the host packages copied in, it returns at once. Concurrent invocations
# on one OUTDIR serialize on a lock. The kernel .deb is kept in OUTDIR/debs so that a
# rebuild after a script change does not download it again.
#
# Environment:
#   NOVASTOR_GUEST_KERNEL_META  the kernel metapackage to follow (default linux-image-amd64;
#                               linux-image-6.12-amd64 for the second, newer kernel)
#   NOVASTOR_GUEST_EXTRA_MODULES more modules to load in the guest, space separated
#                               (e.g. ublk_drv, which only the 6.12 kernel has)
#   NOVASTOR_GUEST_KERNEL_PKG   pin the kernel package (default: what
#                               `apt-cache depends linux-image-amd64` names)
#   NOVASTOR_GUEST_FORCE=1      rebuild even if the cache is valid
#
# Everything comes from Debian packages via apt; nothing else touches the network.
set -euo pipefail

die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

(($# == 1)) || die "usage: $0 OUTDIR"

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT_SRC=$SCRIPT_DIR/init
[[ -f $INIT_SRC ]] || die "missing $INIT_SRC"

mkdir -p "$1" || die "cannot create OUTDIR $1"
OUTDIR=$(cd "$1" && pwd)

# Kernel modules wanted in the guest (their dependencies are added automatically).
# crc32c_generic/crc32c-intel: without a crc32c implementation `nvme connect
# --hdr-digest` fails with "failed to allocate queue 0 crypto". virtio_blk is extra,
# for callers that pass a -drive.
MODULES=(nvme-tcp nvmet-tcp nvmet nvme-fabrics virtio_net virtio_pci crc32c_generic
         crc32c-intel ext4 xfs loop configfs virtio_blk)
# shellcheck disable=SC2206 # a space separated list of module names
MODULES+=(${NOVASTOR_GUEST_EXTRA_MODULES:-})

# Host binaries copied into the guest with their shared libraries (same Debian
# userland, so they run unchanged). kmod replaces busybox's modprobe/insmod.
# bash becomes /bin/sh: Debian's busybox-static is built with FEATURE_SH_STANDALONE,
# so its ash runs its own applet for any name it knows (losetup, dd, cmp, ...) even
# when a real binary comes first in PATH; under busybox sh, `losetup --find --show`
# would fail with busybox's reduced losetup.
# The CSI node plugin (tests/conformance/Csi) runs util-linux's blkid, mount and umount (busybox's
# lack `blkid -p -o export` and mount's bind/remount handling), resize2fs, the xfs tools, and socat
# relays its Unix socket and a command channel to QEMU's port forwards.
BINARIES=(bash nvme fio mkfs.ext4 mke2fs e2fsck dumpe2fs resize2fs sha256sum cmp dd blkdiscard
          losetup blockdev lsblk kmod blkid mount umount mkfs.xfs xfs_growfs socat)
KMOD_LINKS=(modprobe insmod rmmod lsmod modinfo depmod)

# Host packages whose files end up in the initramfs: their versions are part of the
# cache key so that a host upgrade rebuilds the guest.
HOST_PKGS=(busybox-static bash nvme-cli fio e2fsprogs util-linux mount coreutils diffutils kmod libc6 xfsprogs socat)

# Fixed identity so that the guest is the same NVMe host on every boot (targets and
# test logs can rely on it). hostnqn is derived from hostid as nvme-cli would.
GUEST_HOSTID=6e6f7661-7374-4f72-a000-6775657374aa
GUEST_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$GUEST_HOSTID

LOCK_TIMEOUT=${NOVASTOR_GUEST_LOCK_TIMEOUT:-1800}
DOWNLOAD_TIMEOUT=${NOVASTOR_GUEST_DOWNLOAD_TIMEOUT:-900}
APT_UPDATE_TIMEOUT=${NOVASTOR_GUEST_APT_UPDATE_TIMEOUT:-600}

for c in apt-cache apt-get dpkg-deb dpkg-query depmod cpio gzip xz ldd flock sha256sum; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null \
    || die "'$c' not found; run scripts/install-prereqs.sh as root"
done
export PATH="$PATH:/usr/sbin:/sbin"
[[ -x /bin/busybox ]] || die "/bin/busybox missing; run scripts/install-prereqs.sh (busybox-static)"

# Serialize builds into the same OUTDIR (parallel test processes).
exec 9>"$OUTDIR/.lock"
flock -w "$LOCK_TIMEOUT" 9 || die "timed out after ${LOCK_TIMEOUT}s waiting for $OUTDIR/.lock"

# ---- cache key --------------------------------------------------------------------

resolve_kernel_pkg() {
  if [[ -n ${NOVASTOR_GUEST_KERNEL_PKG:-} ]]; then
    echo "$NOVASTOR_GUEST_KERNEL_PKG"
    return 0
  fi
  # Exact name only: a wildcard `apt-get download linux-image-6.1.0-*-amd64` would
  # fetch every kernel in the archive (over 1.5 GB).
  apt-cache depends "${NOVASTOR_GUEST_KERNEL_META:-linux-image-amd64}" 2>/dev/null \
    | sed -nE 's/^[[:space:]]*\|?Depends: (linux-image-[0-9][^[:space:]<>]*)$/\1/p' | head -n1
}

candidate_version() {
  apt-cache policy "$1" 2>/dev/null | sed -nE 's/^[[:space:]]*Candidate: (.*)$/\1/p' | head -n1
}

script_hash=$(cat "${BASH_SOURCE[0]}" "$INIT_SRC" | sha256sum | cut -d' ' -f1)
host_versions=$(dpkg-query -W -f='${Package}=${Version} ' "${HOST_PKGS[@]}" 2>/dev/null || true)
local_key="script=$script_hash host=$host_versions modules=${MODULES[*]}"

kernel_pkg=$(resolve_kernel_pkg || true)
kernel_ver=""
[[ -n $kernel_pkg ]] && kernel_ver=$(candidate_version "$kernel_pkg")
if [[ $kernel_ver == "(none)" ]]; then kernel_ver=""; fi

STAMP=$OUTDIR/.stamp
complete() {
  [[ -s $OUTDIR/vmlinuz && -s $OUTDIR/initrd.gz && -s $OUTDIR/initrd.cpio && -s $OUTDIR/guest.env && -s $STAMP ]]
}

if [[ ${NOVASTOR_GUEST_FORCE:-0} != 1 ]] && complete; then
  if [[ -n $kernel_ver ]]; then
    if [[ $(cat "$STAMP") == "kernel=$kernel_pkg=$kernel_ver $local_key" ]]; then
      log "up to date: $OUTDIR ($kernel_pkg $kernel_ver)"
      exit 0
    fi
  elif [[ $(cut -d' ' -f2- "$STAMP") == "$local_key" ]]; then
    # apt lists unusable (e.g. offline container): keep the existing kernel.
    log "warning: cannot resolve the kernel package from apt lists; reusing the existing build in $OUTDIR"
    exit 0
  fi
fi

if [[ -z $kernel_pkg || -z $kernel_ver ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    log "kernel package not resolvable from apt lists; running apt-get update"
    timeout "$APT_UPDATE_TIMEOUT" apt-get -o Acquire::Retries=3 update >&2 \
      || die "apt-get update failed (exit $?)"
    kernel_pkg=$(resolve_kernel_pkg || true)
    [[ -n $kernel_pkg ]] && kernel_ver=$(candidate_version "$kernel_pkg")
  fi
  [[ -n $kernel_pkg && -n $kernel_ver && $kernel_ver != "(none)" ]] \
    || die "cannot resolve the kernel package: 'apt-cache depends ${NOVASTOR_GUEST_KERNEL_META:-linux-image-amd64}' names none (pkg='$kernel_pkg' version='$kernel_ver'); run scripts/install-prereqs.sh as root"
fi

log "building guest in $OUTDIR: $kernel_pkg $kernel_ver"
start=$(date +%s)

# Invalidate first: an interrupted build must never look complete.
rm -f "$STAMP"

BUILD=$(mktemp -d "$OUTDIR/.build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT

# ---- kernel package ---------------------------------------------------------------

DEBDIR=$OUTDIR/debs
mkdir -p "$DEBDIR"

deb_matches() {  # deb_matches FILE: the .deb is the wanted package and version
  [[ $(dpkg-deb -f "$1" Package 2>/dev/null) == "$kernel_pkg" &&
     $(dpkg-deb -f "$1" Version 2>/dev/null) == "$kernel_ver" ]]
}

deb=""
for f in "$DEBDIR"/*.deb; do
  [[ -e $f ]] || continue
  if deb_matches "$f"; then deb=$f; else rm -f "$f"; fi   # drop stale kernels
done

download_kernel() {
  local dl=$BUILD/dl opts=(-o Acquire::Retries=3)
  mkdir -p "$dl"
  # As root, apt would try to drop to the _apt user, which cannot write into $dl.
  [[ $(id -u) -eq 0 ]] && opts+=(-o APT::Sandbox::User=root)
  (cd "$dl" && timeout "$DOWNLOAD_TIMEOUT" apt-get "${opts[@]}" download "$kernel_pkg=$kernel_ver" >&2) || return 1
  local f
  for f in "$dl"/*.deb; do
    [[ -e $f ]] && deb_matches "$f" && { mv "$f" "$DEBDIR/"; deb=$DEBDIR/$(basename "$f"); return 0; }
  done
  return 1
}

if [[ -z $deb ]]; then
  log "downloading $kernel_pkg=$kernel_ver"
  if ! download_kernel; then
    # The mirror drops superseded kernels at point releases; stale lists then name a
    # package that no longer exists. Refresh once (root only) and retry.
    [[ $(id -u) -eq 0 ]] || die "apt-get download $kernel_pkg=$kernel_ver failed; the apt lists may be stale: run 'apt-get update' (or scripts/install-prereqs.sh) as root"
    log "download failed; running apt-get update and retrying"
    timeout "$APT_UPDATE_TIMEOUT" apt-get -o Acquire::Retries=3 update >&2 || die "apt-get update failed (exit $?)"
    kernel_pkg=$(resolve_kernel_pkg || true)
    kernel_ver=$(candidate_version "$kernel_pkg")
    [[ -n $kernel_pkg && -n $kernel_ver && $kernel_ver != "(none)" ]] || die "cannot resolve the kernel package after apt-get update"
    download_kernel || die "apt-get download $kernel_pkg=$kernel_ver failed"
  fi
fi
log "kernel package: $deb"

KROOT=$BUILD/kernel
dpkg-deb -x "$deb" "$KROOT" || die "cannot extract $deb"
# The package ships /lib/modules (bookworm) or /usr/lib/modules (merged-usr layouts).
MODBASE=$KROOT
[[ -d $KROOT/lib/modules ]] || { [[ -d $KROOT/usr/lib/modules ]] && MODBASE=$KROOT/usr; }
mapfile -t kvers < <(ls "$MODBASE/lib/modules")
((${#kvers[@]} == 1)) || die "expected one kernel version in $deb, found: ${kvers[*]:-none}"
KVER=${kvers[0]}
[[ -f $KROOT/boot/vmlinuz-$KVER ]] || die "no boot/vmlinuz-$KVER in $deb"
# The .deb ships no modules.dep; generate it so modprobe can resolve dependencies.
depmod -b "$MODBASE" "$KVER" || die "depmod on the extracted kernel failed"

# ---- initramfs tree ---------------------------------------------------------------

ROOT=$BUILD/root
# Merged-/usr layout like the host, so that the library paths ldd prints
# (/lib/x86_64-linux-gnu/..., /lib64/ld-linux-x86-64.so.2) resolve inside the guest.
mkdir -p "$ROOT"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,root,mnt,etc/nvme,etc/novastor,var/tmp}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done

# busybox: one symlink per applet. Never a busybox -> busybox link: the kernel then
# fails to execute init with -40 (ELOOP).
cp /bin/busybox "$ROOT/usr/bin/busybox"
while read -r applet; do
  [[ -z $applet || $applet == busybox || $applet == */* ]] && continue
  ln -sf busybox "$ROOT/usr/bin/$applet"
done < <(/bin/busybox --list)

# Modules and their dependencies only.
MODDIR=$ROOT/lib/modules/$KVER
mkdir -p "$MODDIR"
for m in "${MODULES[@]}"; do
  deps=$(modprobe -d "$MODBASE" -S "$KVER" --show-depends "$m" 2>&1) \
    || die "module '$m' not found in $kernel_pkg ($KVER): $deps"
  while read -r kind path _; do
    case $kind in
      insmod)
        rel=${path#"$MODBASE/lib/modules/$KVER/"}
        [[ $rel != "$path" ]] || die "unexpected module path $path"
        mkdir -p "$MODDIR/$(dirname "$rel")"
        # Newer kernels (6.12) ship .ko.xz; the guest's modprobe loads plain .ko.
        case $rel in
          *.xz) xz -dc "$path" >"$MODDIR/${rel%.xz}" || die "cannot decompress $path" ;;
          *) cp "$path" "$MODDIR/$rel" ;;
        esac ;;
      builtin) ;;  # compiled into the kernel, nothing to copy
      *) [[ -z $kind ]] || die "unexpected modprobe output for $m: $kind $path" ;;
    esac
  done <<<"$deps"
done
sed 's/\.xz$//' "$MODBASE/lib/modules/$KVER"/modules.order >"$MODDIR/modules.order"
cp "$MODBASE/lib/modules/$KVER"/modules.builtin* "$MODDIR/"
depmod -b "$ROOT" "$KVER" || die "depmod on the initramfs failed"
printf '%s\n' "${MODULES[@]}" >"$ROOT/etc/novastor/modules"

# Host binaries with their shared libraries.
declare -A libs=()
add_libs() {  # add_libs BINARY: record every library ldd names, fail on "not found"
  local out line
  out=$(ldd "$1" 2>&1) || { [[ $out == *"not a dynamic executable"* ]] && return 0; die "ldd $1: $out"; }
  [[ $out != *"not found"* ]] || die "ldd $1: missing libraries: $out"
  while read -r line; do
    case $line in
      *"=> /"*) line=${line#*=> }; libs[${line%% (*}]=1 ;;
      /*) libs[${line%% (*}]=1 ;;
    esac
  done <<<"$out"
}
install_file() {  # install_file HOSTPATH: copy (dereferenced) to the same path in ROOT
  mkdir -p "$ROOT$(dirname "$1")"
  rm -f "$ROOT$1"
  cp -L "$1" "$ROOT$1"
}
for b in "${BINARIES[@]}"; do
  p=$(command -v "$b") || die "host binary '$b' not found; run scripts/install-prereqs.sh"
  # A host binary wins over a busybox applet of the same name wherever it is.
  rm -f "$ROOT/usr/bin/$b" "$ROOT/usr/sbin/$b"
  install_file "$p"
  add_libs "$p"
done
for l in "${!libs[@]}"; do install_file "$l"; done
kmod_path=$(command -v kmod)
for l in "${KMOD_LINKS[@]}"; do
  rm -f "$ROOT/usr/bin/$l" "$ROOT/usr/sbin/$l"
  ln -s "$kmod_path" "$ROOT/usr/sbin/$l"
done
rm -f "$ROOT/usr/bin/sh"
ln -s bash "$ROOT/usr/bin/sh"   # see BINARIES: busybox ash would shadow the real tools
# mke2fs reads its ext4 feature defaults from here.
[[ -f /etc/mke2fs.conf ]] && install_file /etc/mke2fs.conf

# Small /etc so that tools which look up users or hosts behave.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
printf '127.0.0.1 localhost novastor-guest\n' >"$ROOT/etc/hosts"
printf '%s\n' "$GUEST_HOSTNQN" >"$ROOT/etc/nvme/hostnqn"
printf '%s\n' "$GUEST_HOSTID" >"$ROOT/etc/nvme/hostid"
install -m 0755 "$INIT_SRC" "$ROOT/init"

# Pack. -R 0:0 so that a non-root build still yields root-owned files in the guest.
# initrd.cpio is the same archive uncompressed: run-scenario.sh boots it when present
# because gunzipping ~40 MB on the emulated CPU costs about 2 s per boot under TCG.
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
  | cpio --null -o -H newc -R 0:0 --quiet) >"$BUILD/initrd.cpio" \
  || die "packing the initramfs failed"
gzip -1 -c "$BUILD/initrd.cpio" >"$BUILD/initrd.gz" || die "compressing the initramfs failed"

# ---- install atomically -----------------------------------------------------------

mv -f "$BUILD/initrd.gz" "$OUTDIR/initrd.gz"
mv -f "$BUILD/initrd.cpio" "$OUTDIR/initrd.cpio"
cp "$KROOT/boot/vmlinuz-$KVER" "$BUILD/vmlinuz" && mv -f "$BUILD/vmlinuz" "$OUTDIR/vmlinuz"
cat >"$BUILD/guest.env" <<EOF
KERNEL_PACKAGE=$kernel_pkg
KERNEL_PACKAGE_VERSION=$kernel_ver
KERNEL_VERSION=$KVER
GUEST_HOSTID=$GUEST_HOSTID
GUEST_HOSTNQN=$GUEST_HOSTNQN
EOF
mv -f "$BUILD/guest.env" "$OUTDIR/guest.env"
echo "kernel=$kernel_pkg=$kernel_ver $local_key" >"$STAMP.tmp" && mv -f "$STAMP.tmp" "$STAMP"

log "done in $(($(date +%s) - start))s: $OUTDIR/vmlinuz ($KVER), $OUTDIR/initrd.gz ($(du -h "$OUTDIR/initrd.gz" | cut -f1))"
