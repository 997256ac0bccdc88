# nvme flush succeeds (the target fdatasyncs), and so does a write with FUA.
connect
dd if=/dev/urandom of=/tmp/data bs=64k count=16 2>/dev/null
dd if=/tmp/data of="$DEV" bs=64k count=16 oflag=direct 2>/dev/null || fail "write"
step "nvme flush"
nvme flush "$DEV" || fail "nvme flush"
step "write with FUA"
nvme write "$DEV" --start-block=4096 --block-count=7 --data-size=4096 --data=/tmp/data --force-unit-access || fail "nvme write --force-unit-access"
nvme read "$DEV" --start-block=4096 --block-count=7 --data-size=4096 --data=/tmp/fua-back || fail "nvme read"
cmp -n 4096 /tmp/data /tmp/fua-back || fail "FUA write read back differently"
step "sync (block layer flush)"
sync
blockdev --flushbufs "$DEV" || fail "blockdev --flushbufs"
disconnect
ok
