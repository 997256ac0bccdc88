# Data written and flushed survives a target restart: disconnect, the host restarts the
# target, reconnect, read back.
connect
dd if=/dev/urandom of=/tmp/data bs=1M count=8 2>/dev/null
dd if=/tmp/data of="$DEV" bs=1M count=8 seek=100 oflag=direct 2>/dev/null || fail "write"
nvme flush "$DEV" || fail "flush"
disconnect
echo NOVASTOR-RESTART-TARGET
step "waiting for the target to go down and come back"
# A plain TCP probe (bash /dev/tcp): polling with nvme discover would fill the kernel log.
listening() { (exec 3<>"/dev/tcp/$TARGET/$PORT") 2>/dev/null; }
i=0
while listening; do
  i=$((i + 1)); [ $i -gt 60 ] && fail "target did not go down"; sleep 0.5
done
i=0
until listening; do
  i=$((i + 1)); [ $i -gt 120 ] && fail "target did not come back"; sleep 0.5
done
connect
dd if="$DEV" of=/tmp/back bs=1M count=8 skip=100 iflag=direct 2>/dev/null || fail "read back"
cmp /tmp/data /tmp/back || fail "data changed across the target restart"
disconnect
ok
