# The managed initiator as a local block device: `novastor attach` (NativeAOT, copied in at /extra)
# serves the target's namespace as /dev/ublkbN through the kernel's ublk driver, with no nvme-tcp
# in the path. fio verify (mixed sizes, QD 16, two jobs on two queues), ext4 with checksummed files
# across detach and attach, discard and write zeroes reading back as zeros, flush, I/O across a
# target restart and across the server's death (SIGKILL) and recovery by a new one; the same fio
# load through ublk and through the kernel's own NVMe/TCP host, for the ratio; and EIO, not a hang,
# once the target is gone past the loss timeout.

attach() {  # attach [more options]: starts the server, sets UBLK and ATTACH (its pid); LOSS: its loss timeout
  rm -f /tmp/attach.out
  /extra/novastor attach -a "$TARGET" -s "$PORT" -n "$NQN" --queues 2 --queue-depth 16 --ctrl-loss-tmo "${LOSS:-60}" "$@" \
    >/tmp/attach.out 2>>/tmp/attach.err &
  ATTACH=$!
  i=0
  until grep -q '^/dev/ublkb' /tmp/attach.out 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 1500 ] || ! kill -0 $ATTACH 2>/dev/null; then
      cat /tmp/attach.err
      fail "novastor attach printed no device within 150 s"
    fi
    sleep 0.1
  done
  UBLK=$(head -n 1 /tmp/attach.out)
  [ -b "$UBLK" ] || fail "$UBLK is not a block device"
  echo "attached: $UBLK (pid $ATTACH)"
}

detach() {
  /extra/novastor detach "$UBLK" || { cat /tmp/attach.err; fail "novastor detach $UBLK"; }
  wait $ATTACH || fail "novastor attach exited with $? after detach"
  [ ! -e "$UBLK" ] || fail "$UBLK still exists after detach"
}

MiB=1048576
step "attach"
[ -e /dev/ublk-control ] || fail "no /dev/ublk-control (the ublk_drv module)"
attach
echo "size $(blockdev --getsize64 "$UBLK"), logical block $(blockdev --getss "$UBLK"), queues $(ls /sys/block/$(basename "$UBLK")/mq | wc -l)"
[ "$(blockdev --getsize64 "$UBLK")" = "$SIZE" ] || fail "$UBLK is not $SIZE bytes"
[ "$(ls /sys/block/$(basename "$UBLK")/mq | wc -l)" = 2 ] || fail "$UBLK does not have 2 hardware queues"
cat /sys/block/$(basename "$UBLK")/queue/write_cache

step "fio verify: random, mixed sizes, QD 16, two jobs"
fio --name=verify --filename="$UBLK" --direct=1 --ioengine=libaio --rw=randwrite \
    --bssplit=4k/40:16k/30:64k/20:128k/10 --iodepth=16 --numjobs=2 --size=32M --offset_increment=64M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting || fail "fio verify"

step "discard and write zeroes read back as zeros"
dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
dd if=/dev/zero of=/tmp/zeros bs=1M count=2 2>/dev/null
dd if=/tmp/pattern of="$UBLK" bs=1M count=8 seek=200 oflag=direct conv=fsync 2>/dev/null || fail "write pattern"
cat /sys/block/$(basename "$UBLK")/queue/discard_max_bytes /sys/block/$(basename "$UBLK")/queue/write_zeroes_max_bytes
blkdiscard -o $((201 * MiB)) -l $MiB "$UBLK" || fail "blkdiscard"
blkdiscard -z -o $((204 * MiB)) -l $((2 * MiB)) "$UBLK" || fail "blkdiscard -z"
dd if="$UBLK" of=/tmp/back bs=1M count=8 skip=200 iflag=direct 2>/dev/null || fail "read back"
same_bytes /tmp/back $MiB /tmp/zeros 0 $MiB "the discarded MiB does not read zeros"
same_bytes /tmp/back $((4 * MiB)) /tmp/zeros 0 $((2 * MiB)) "the zeroed MiBs do not read zeros"
same_bytes /tmp/back 0 /tmp/pattern 0 $MiB "MiB 0 changed"
same_bytes /tmp/back $((2 * MiB)) /tmp/pattern $((2 * MiB)) $((2 * MiB)) "MiB 2..4 changed"
same_bytes /tmp/back $((6 * MiB)) /tmp/pattern $((6 * MiB)) $((2 * MiB)) "MiB 6..8 changed"

step "flush: sync and blockdev --flushbufs"
sync
blockdev --flushbufs "$UBLK" || fail "blockdev --flushbufs"

step "ext4: files, detach, attach again, the same files"
mkfs.ext4 -q -F "$UBLK" || fail "mkfs.ext4"
mkdir -p /mnt/ublk
mount -t ext4 "$UBLK" /mnt/ublk || fail "mount"
mkdir /mnt/ublk/data
i=1
while [ $i -le 6 ]; do
  dd if=/dev/urandom of=/mnt/ublk/data/file$i bs=64k count=$((i * 4)) 2>/dev/null || fail "write file$i"
  i=$((i + 1))
done
(cd /mnt/ublk/data && sha256sum file* >/tmp/sums) || fail "sha256sum"
/extra/novastor detach "$UBLK" 2>/tmp/refused && fail "detach of a mounted device succeeded"
cat /tmp/refused
umount /mnt/ublk || fail "umount"
detach
attach
e2fsck -fn "$UBLK" || fail "e2fsck found errors after detach and attach"
mount -t ext4 "$UBLK" /mnt/ublk || fail "mount again"
(cd /mnt/ublk/data && sha256sum -c /tmp/sums) || fail "the files changed across detach and attach"
umount /mnt/ublk || fail "umount"

# verify_in_background NAME OFFSET SECONDS: 4 KiB random writes verified as they go (QD 16) on
# 16 MiB at OFFSET of the device, for SECONDS, in the background (FIO is its pid, /tmp/fio-NAME.log its output).
verify_in_background() {
  fio --name="$1" --filename="$UBLK" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=16 \
      --size=16M --offset="$2" --verify=crc32c --do_verify=1 --verify_fatal=1 --time_based --runtime="$3" \
      --verify_backlog=256 >/tmp/fio-"$1".log 2>&1 &
  FIO=$!
}

step "the target restarts under fio verify: I/O waits, resumes, verifies"
verify_in_background restart 512M 12
sleep 3
echo NOVASTOR-RESTART-TARGET
wait_for_restart
wait $FIO || { cat /tmp/fio-restart.log; fail "fio verify across the target restart"; }
grep -E "WRITE:|READ:" /tmp/fio-restart.log

step "the server is killed (SIGKILL) under fio verify; a new one recovers the device and fio goes on"
verify_in_background recover 640M 14
sleep 3
kill -9 $ATTACH
wait $ATTACH || true
[ -b "$UBLK" ] || fail "$UBLK went away with its server"
echo "server killed; $UBLK stays"
OLD=$UBLK
start=$(date +%s)
attach --recover "$UBLK"
echo "recovered after $(($(date +%s) - start)) s"
[ "$UBLK" = "$OLD" ] || fail "the recovered device is $UBLK, not $OLD"
wait $FIO || { cat /tmp/fio-recover.log; fail "fio verify across the server's death and recovery"; }
grep -E "WRITE:|READ:|err=" /tmp/fio-recover.log

step "throughput: ublk, then the kernel's NVMe/TCP host, same fio job (emulated CPU: only the ratio means anything)"
run_load() {  # run_load DEVICE LABEL
  fio --name="$2" --filename="$1" --direct=1 --ioengine=libaio --rw=randread --bs=4k --iodepth=16 \
      --size=64M --time_based --runtime=8 --output-format=terse --terse-version=3 >/tmp/load-$2 2>&1 \
    || { cat /tmp/load-$2; fail "fio on $2"; }
  echo "NOVASTOR-LOAD $2 read_iops=$(cut -d';' -f8 /tmp/load-$2)"
}
# A device of its own for the load: its server's allocation figure is the steady state alone
# (the restart and the recovery above made new connections, and buffers with them).
detach
attach
run_load "$UBLK" ublk
detach
echo "NOVASTOR-STEADY $(grep ' served ' /tmp/attach.err | tail -n 1)"
connect -i 2
run_load "$DEV" kernel
disconnect

step "the target is lost: after the loss timeout a read fails with EIO (no hang), and the device still detaches"
LOSS=8 attach
for i in 1 2; do echo "NOVASTOR-EXPECT-KERNEL: I/O error, dev $(basename "$UBLK")" >/dev/kmsg; done
echo "NOVASTOR-STOP-LISTENER 1"
sleep 2
start=$(date +%s)
set +e
timeout 90 dd if="$UBLK" of=/dev/null bs=4096 count=1 skip=1000 iflag=direct 2>/tmp/dd.err
rc=$?
set -e
[ $rc -ne 124 ] || fail "the read hung for 90 s with the target gone"
[ $rc -ne 0 ] || fail "a read succeeded with the target gone"
grep -q "Input/output error" /tmp/dd.err || fail "the read failed, but not with EIO: $(cat /tmp/dd.err)"
echo "the read failed with EIO after $(($(date +%s) - start)) s"
/extra/novastor detach "$UBLK" || { cat /tmp/attach.err; fail "novastor detach after the loss"; }
wait $ATTACH || echo "attach exited with $? (its controller was lost)"
[ ! -e "$UBLK" ] || fail "$UBLK still exists after detach"

cat /tmp/attach.err
ok
