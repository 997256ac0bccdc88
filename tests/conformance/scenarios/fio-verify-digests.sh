# As fio-verify.sh, with header and data digests (CRC32C) on every PDU.
# Random writes of mixed sizes (512 B to 128 KiB), then every block read back and verified
# (crc32c), queue depth 16, two jobs over two I/O queues on disjoint halves.
connect -i 2 --hdr-digest --data-digest
queues=$(cat "/sys/class/nvme/$(basename "$CTRL")/queue_count")
[ "$queues" = 3 ] || fail "expected the admin queue and 2 I/O queues, the controller has $queues"
step "fio randwrite + verify"
fio --name=verify --filename="$DEV" --direct=1 --ioengine=libaio --rw=randwrite \
    --bssplit=512/10:4k/30:8k/10:16k/15:64k/20:128k/15 --iodepth=16 --numjobs=2 \
    --size=48M --offset_increment=256M --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --group_reporting || fail "fio verify"
step "fio randread of the verified data"
fio --name=readback --filename="$DEV" --direct=1 --ioengine=libaio --rw=randread \
    --bssplit=512/20:4k/40:64k/40 --iodepth=16 --numjobs=2 --size=48M --offset_increment=256M \
    --group_reporting || fail "fio randread"
disconnect
ok
