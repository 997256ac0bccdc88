# A filesystem survives unmount and a full reconnect: what the host wrote is what it reads.
connect
step "mkfs.ext4 and write files"
mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4"
mkdir -p /mnt/vol
mount -t ext4 "$DEV" /mnt/vol || fail "mount"
mkdir /mnt/vol/data
i=1
while [ $i -le 12 ]; do
  dd if=/dev/urandom of=/mnt/vol/data/file$i bs=64k count=$((i * 3)) 2>/dev/null || fail "write file$i"
  i=$((i + 1))
done
(cd /mnt/vol/data && sha256sum file* > /tmp/sums) || fail "sha256sum"
cat /tmp/sums
umount /mnt/vol || fail "umount"
step "mount again"
mount -t ext4 "$DEV" /mnt/vol || fail "mount again"
(cd /mnt/vol/data && sha256sum -c /tmp/sums) || fail "checksums differ after remount"
umount /mnt/vol || fail "umount"
step "reconnect, fsck, mount, verify"
disconnect
connect
e2fsck -fn "$DEV" || fail "e2fsck found errors"
mount -t ext4 "$DEV" /mnt/vol || fail "mount after reconnect"
(cd /mnt/vol/data && sha256sum -c /tmp/sums) || fail "checksums differ after reconnect"
umount /mnt/vol || fail "umount"
disconnect
ok
