# Data written and flushed survives a target restart: disconnect, the host restarts the
# target, reconnect, read back.
connect
dd if=/dev/urandom of=/tmp/data bs=1M count=8 2>/dev/null
dd if=/tmp/data of="$DEV" bs=1M count=8 seek=100 oflag=direct 2>/dev/null || fail "write"
nvme flush "$DEV" || fail "flush"
disconnect
echo NOVASTOR-RESTART-TARGET
wait_for_restart
connect
dd if="$DEV" of=/tmp/back bs=1M count=8 skip=100 iflag=direct 2>/dev/null || fail "read back"
cmp /tmp/data /tmp/back || fail "data changed across the target restart"
disconnect
ok
