#!/bin/sh
# Guest self-test: proves the guest image works before any NovaStor test relies on it.
# Runs entirely inside the guest (guest loopback only, no host access needed):
# the kernel nvmet target on a loop device over a tmpfs file, listening on the
# guest's 127.0.0.1:4420, exercised by the kernel NVMe/TCP host through nvme-cli.
#
#   run-scenario.sh OUTDIR scenarios/selftest-nvmet.sh
#
# /init runs this with `sh -e`; `set -eu` is repeated so the file is also safe to run
# by hand. Prints SELFTEST: lines per step and SELFTEST-PASS at the end.
set -eu

NQN=nqn.2014-08.io.novastor:selftest-nvmet
ADDR=127.0.0.1
PORT=4420
C=/sys/kernel/config/nvmet
BACKING=/tmp/selftest-backing.img
MNT=/mnt/selftest

step() { echo "SELFTEST: $*"; }
fail() { echo "SELFTEST-FAIL: $*"; exit 1; }

# ---- kernel target ----------------------------------------------------------------
step "target: loop device over a 128 MiB tmpfs file"
truncate -s 128M "$BACKING"
LOOP=$(losetup --find --show "$BACKING")
step "target: $LOOP"

step "target: nvmet subsystem $NQN on tcp $ADDR:$PORT"
[ -d "$C" ] || fail "$C missing (nvmet not loaded or configfs not mounted)"
mkdir "$C/subsystems/$NQN"
echo 1 >"$C/subsystems/$NQN/attr_allow_any_host"
mkdir "$C/subsystems/$NQN/namespaces/1"
printf '%s' "$LOOP" >"$C/subsystems/$NQN/namespaces/1/device_path"
echo 1 >"$C/subsystems/$NQN/namespaces/1/enable"
mkdir "$C/ports/1"
echo tcp >"$C/ports/1/addr_trtype"
echo ipv4 >"$C/ports/1/addr_adrfam"
echo "$ADDR" >"$C/ports/1/addr_traddr"
echo "$PORT" >"$C/ports/1/addr_trsvcid"
ln -s "$C/subsystems/$NQN" "$C/ports/1/subsystems/$NQN"

# ---- kernel host ------------------------------------------------------------------
step "host: nvme discover"
nvme discover -t tcp -a "$ADDR" -s "$PORT" | tee /tmp/discover.txt
grep -q "subnqn: *$NQN" /tmp/discover.txt || fail "discovery log does not list $NQN"

step "host: nvme connect --hdr-digest --data-digest -i 2"
nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hdr-digest --data-digest -i 2

# Find the controller for our subsystem and wait for its namespace block device.
# With native NVMe multipath (Debian's default) the block device is the subsystem's
# head node nvmeXnY, listed under the nvme-subsystem; per-path nodes nvmeXcYnZ are
# hidden. Without multipath it sits under the controller. Look in both places.
DEV=""
CTRL=""
i=0
while [ $i -lt 100 ] && [ -z "$DEV" ]; do
  for c in /sys/class/nvme/nvme*; do
    [ -e "$c/subsysnqn" ] || continue
    [ "$(cat "$c/subsysnqn")" = "$NQN" ] || continue
    CTRL=$(basename "$c")
    subsys=""
    for s in /sys/class/nvme-subsystem/*; do
      [ -e "$s/$CTRL" ] && subsys=$s
    done
    for ns in ${subsys:+"$subsys"/nvme*n*} "$c"/nvme*n*; do
      [ -e "$ns" ] || continue
      n=$(basename "$ns")
      case $n in *c*) continue ;; esac
      [ -b "/dev/$n" ] && { DEV=/dev/$n; break; }
    done
  done
  i=$((i + 1))
  [ -n "$DEV" ] || sleep 0.1
done
[ -n "$CTRL" ] || fail "no controller for $NQN after nvme connect"
[ -n "$DEV" ] || fail "no namespace block device for $CTRL after nvme connect"
step "host: controller $CTRL, namespace $DEV"

nvme list
state=$(cat "/sys/class/nvme/$CTRL/state")
[ "$state" = live ] || fail "controller state is '$state', want 'live'"
transport=$(cat "/sys/class/nvme/$CTRL/transport")
[ "$transport" = tcp ] || fail "transport is '$transport', want 'tcp'"
# -i 2 asks for two I/O queues: queue_count counts them plus the admin queue.
qc=$(cat "/sys/class/nvme/$CTRL/queue_count")
[ "$qc" -eq 3 ] || fail "queue_count is $qc, want 3 (admin + 2 I/O queues for -i 2)"
nvme id-ctrl "/dev/$CTRL" | grep -E '^(vid|mn|subnqn|ioccsz|iorcsz|sgls) ' || true
size=$(blockdev --getsize64 "$DEV")
[ "$size" -eq $((128 * 1024 * 1024)) ] || fail "namespace size $size, want 134217728"

step "host: fio verify (libaio, direct, crc32c, 16M)"
fio --name=selftest --filename="$DEV" --ioengine=libaio --direct=1 \
  --rw=randwrite --bs=4k --iodepth=16 --size=16M \
  --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse --terse-version=3 \
  >/tmp/fio.txt || { cat /tmp/fio.txt; fail "fio verify failed"; }
# fio exits non-zero on any I/O or verify error (--verify_fatal=1).
echo "fio ok: read KiB;read KiB/s;write KiB;write KiB/s = $(cut -d';' -f6,7,47,48 /tmp/fio.txt)"

step "host: mkfs.ext4, mount, write, sha256sum across a remount"
mkfs.ext4 -q -F "$DEV"
mkdir -p "$MNT"
mount -t ext4 "$DEV" "$MNT"
dd if=/dev/urandom of=/tmp/ref.bin bs=1M count=8 2>/dev/null
cp /tmp/ref.bin "$MNT/data.bin"
sync
umount "$MNT"
# The remount reads the data back over NVMe/TCP (unmounting dropped the page cache).
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro "$DEV" "$MNT"
want=$(sha256sum </tmp/ref.bin | cut -d' ' -f1)
got=$(sha256sum <"$MNT/data.bin" | cut -d' ' -f1)
echo "sha256 want $want got $got"
[ "$want" = "$got" ] || fail "sha256 mismatch after remount"
cmp /tmp/ref.bin "$MNT/data.bin"
umount "$MNT"
e2fsck -fn "$DEV"

step "host: nvme disconnect"
nvme disconnect -n "$NQN" | tee /tmp/disconnect.txt
grep -q 'disconnected 1 controller' /tmp/disconnect.txt || fail "nvme disconnect did not disconnect exactly one controller"
[ ! -e "/sys/class/nvme/$CTRL" ] || fail "controller $CTRL still present after disconnect"

# ---- teardown (checks that nvmet releases everything) -----------------------------
step "target: teardown"
rm "$C/ports/1/subsystems/$NQN"
rmdir "$C/ports/1"
echo 0 >"$C/subsystems/$NQN/namespaces/1/enable"
rmdir "$C/subsystems/$NQN/namespaces/1"
rmdir "$C/subsystems/$NQN"
losetup -d "$LOOP"
rm -f "$BACKING"

echo "SELFTEST-PASS"
