# The target in a container (the repository's image, its embedded default): discovery, fio with
# verify, ext4 with checksummed files; then the host replaces the container by a new one on the
# same data volume, and the files are still there, byte for byte.
step "nvme discover"
nvme discover -t tcp -a "$TARGET" -s "$PORT" >/tmp/discovery || fail "nvme discover"
cat /tmp/discovery
grep -q "subnqn: *$NQN" /tmp/discovery || fail "the discovery log does not list $NQN"

connect -i 2
step "fio randwrite + verify"
fio --name=verify --filename="$DEV" --direct=1 --ioengine=libaio --rw=randwrite \
    --bssplit=512/10:4k/40:64k/30:128k/20 --iodepth=16 --size=32M --offset=768M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 || fail "fio verify"

step "mkfs.ext4 and checksummed files"
mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4"
mkdir -p /mnt/vol
mount -t ext4 "$DEV" /mnt/vol || fail "mount"
mkdir /mnt/vol/data
i=1
while [ $i -le 8 ]; do
  dd if=/dev/urandom of=/mnt/vol/data/file$i bs=64k count=$((i * 4)) 2>/dev/null || fail "write file$i"
  i=$((i + 1))
done
(cd /mnt/vol/data && sha256sum file* >/tmp/sums) || fail "sha256sum"
cat /tmp/sums
umount /mnt/vol || fail "umount"
disconnect

# The host removes the container and runs a new one from the image on the same data volume.
echo NOVASTOR-RESTART-TARGET
wait_for_restart
connect
step "after the new container: fsck, mount, checksums"
e2fsck -fn "$DEV" || fail "e2fsck found errors after the container restart"
mount -t ext4 "$DEV" /mnt/vol || fail "mount after the container restart"
(cd /mnt/vol/data && sha256sum -c /tmp/sums) || fail "checksums differ after the container restart"
umount /mnt/vol || fail "umount"
disconnect
ok
