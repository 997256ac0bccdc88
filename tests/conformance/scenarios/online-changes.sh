# (Runs under sh -e: every command that may fail is checked with || fail.)
# The control plane changes what a connected host sees, without the host reconnecting: the host
# test (over gRPC, with the novastor CLI) exports a second volume, grows the first and changes the
# ANA state of the path; the Linux host must find the new namespace, the new size and the new path
# state by itself, keep the same controller, and keep the data it wrote.
# $NQN here is a subsystem the host test created over the control plane, with volume online-1 as
# namespace 1 (16 MiB); the test also created volume online-2 (8 MiB, not exported yet).

# Polls file $1 until it reads $2 (up to 30 s).
wait_for() {
  i=0
  while [ "$(cat "$1" 2>/dev/null)" != "$2" ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
  [ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

connect
C=$(basename "$CTRL")
HEAD=$(basename "$DEV")
CNTLID=$(cat /sys/class/nvme/"$C"/cntlid)
bytes() { echo $(($(cat /sys/block/"$1"/size) * 512)); }
[ "$(bytes "$HEAD")" = 16777216 ] || fail "namespace 1 is $(bytes "$HEAD") bytes, not 16 MiB"
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
dd if=/tmp/pattern of="$DEV" bs=1M count=4 oflag=direct 2>/dev/null || fail "write namespace 1"

step "the host test exports volume online-2 as namespace 2"
echo "NOVASTOR-CLI subsystem add-ns $NQN --volume online-2 --nsid 2"
NS2=${HEAD%n1}n2
wait_for /sys/block/"$NS2"/size 16384 || fail "namespace 2 did not appear as 8 MiB ($(ls /sys/block | tr '\n' ' '))"
dd if=/tmp/pattern of=/dev/"$NS2" bs=1M count=4 oflag=direct 2>/dev/null || fail "write namespace 2"
same_bytes /dev/"$NS2" 0 /tmp/pattern 0 4194304 "namespace 2 does not read back what was written"

step "the host test grows volume online-1 to 32 MiB"
echo "NOVASTOR-CLI volume resize online-1 --size 32M"
wait_for /sys/block/"$HEAD"/size 65536 || fail "namespace 1 is still $(bytes "$HEAD") bytes"
dd if=/tmp/pattern of="$DEV" bs=1M seek=28 count=4 oflag=direct 2>/dev/null || fail "write the grown end of namespace 1"
same_bytes "$DEV" 29360128 /tmp/pattern 0 4194304 "the grown end does not read back"

step "the host test makes ANA group 1 non-optimized on port 1"
P1=${HEAD%n*}c${C#nvme}n1
[ "$(cat /sys/block/"$P1"/ana_state)" = optimized ] || fail "path $P1 starts $(cat /sys/block/"$P1"/ana_state)"
echo "NOVASTOR-CLI ana set --port-id 1 --group 1 --state non-optimized"
wait_for /sys/block/"$P1"/ana_state non-optimized || fail "path $P1 is $(cat /sys/block/"$P1"/ana_state), not non-optimized"
dd if=/dev/zero of=/tmp/ignored bs=1 count=0 2>/dev/null
same_bytes "$DEV" 0 /tmp/pattern 0 4194304 "namespace 1 lost its data"

step "the same controller throughout: no reconnect, no reset"
[ "$(cat /sys/class/nvme/"$C"/cntlid)" = "$CNTLID" ] || fail "the controller changed ($(cat /sys/class/nvme/"$C"/cntlid), was $CNTLID)"
[ "$(cat /sys/class/nvme/"$C"/state)" = live ] || fail "the controller is $(cat /sys/class/nvme/"$C"/state)"
if dmesg | grep -E "nvme[0-9]+: (Reconnecting|resetting controller)"; then fail "the host reconnected"; fi
dmesg | grep -E "nvme|NVMe" | tail -n 20

disconnect
ok
