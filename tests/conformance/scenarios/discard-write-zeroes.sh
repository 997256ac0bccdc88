# blkdiscard (Dataset Management deallocate) and nvme write-zeroes (with and without DEAC)
# ranges read back as zeros; every other byte keeps what was written.
connect
MiB=1048576
step "write 16 MiB of random data"
dd if=/dev/urandom of=/tmp/pattern bs=1M count=16 2>/dev/null
dd if=/tmp/pattern of="$DEV" bs=1M count=16 oflag=direct conv=fsync 2>/dev/null || fail "write pattern"
dd if=/dev/zero of=/tmp/zeros bs=1M count=2 2>/dev/null
cat "/sys/block/$(basename "$DEV")/queue/discard_max_bytes"
step "blkdiscard MiB 1..2"
blkdiscard -o $MiB -l $MiB "$DEV" || fail "blkdiscard"
step "nvme write-zeroes MiB 4..5 (blocks 8192..10239)"
nvme write-zeroes "$DEV" --start-block=8192 --block-count=2047 || fail "nvme write-zeroes"
step "nvme write-zeroes --deac MiB 8..10"
nvme write-zeroes "$DEV" --start-block=16384 --block-count=4095 --deac || fail "nvme write-zeroes --deac"
step "read back"
dd if="$DEV" of=/tmp/back bs=1M count=16 iflag=direct 2>/dev/null || fail "read back"
same_bytes /tmp/back $MiB /tmp/zeros 0 $MiB "discarded range does not read zeros"
same_bytes /tmp/back $((4 * MiB)) /tmp/zeros 0 $MiB "write-zeroes range does not read zeros"
same_bytes /tmp/back $((8 * MiB)) /tmp/zeros 0 $((2 * MiB)) "write-zeroes --deac range does not read zeros"
same_bytes /tmp/back 0 /tmp/pattern 0 $MiB "MiB 0 changed"
same_bytes /tmp/back $((2 * MiB)) /tmp/pattern $((2 * MiB)) $((2 * MiB)) "MiB 2..4 changed"
same_bytes /tmp/back $((5 * MiB)) /tmp/pattern $((5 * MiB)) $((3 * MiB)) "MiB 5..8 changed"
same_bytes /tmp/back $((10 * MiB)) /tmp/pattern $((10 * MiB)) $((6 * MiB)) "MiB 10..16 changed"
step "BLKZEROOUT through the block layer (blkdiscard -z)"
blkdiscard -z -o $((12 * MiB)) -l $MiB "$DEV" || fail "blkdiscard -z"
dd if="$DEV" of=/tmp/back2 bs=1M count=16 iflag=direct 2>/dev/null || fail "read back"
same_bytes /tmp/back2 $((12 * MiB)) /tmp/zeros 0 $MiB "zeroed range does not read zeros"
same_bytes /tmp/back2 $((13 * MiB)) /tmp/pattern $((13 * MiB)) $((3 * MiB)) "MiB 13..16 changed"
step "nvme verify: the target reads the range and moves no data (ONCS bit 7)"
nvme id-ctrl "$CTRL" | grep -Eq "^oncs *: 0x[0-9a-f]*[89a-f][0-9a-f]$" || fail "ONCS does not advertise Verify (bit 7): $(nvme id-ctrl "$CTRL" | grep '^oncs')"
nvme verify "$DEV" --start-block=0 --block-count=32767 || fail "nvme verify of 16 MiB"
nvme verify "$DEV" --start-block=2097151 --block-count=0 || fail "nvme verify of the last block"
nvme verify "$DEV" --start-block=2097151 --block-count=1 2>/dev/null && fail "nvme verify past the end succeeded"
dd if="$DEV" of=/tmp/back3 bs=1M count=16 iflag=direct 2>/dev/null || fail "read back after verify"
cmp /tmp/back2 /tmp/back3 || fail "verify changed the data"
disconnect
ok
