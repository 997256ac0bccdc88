# An idle host stays connected across three keep-alive periods (KATO 5 s, keep-alive every 2.5 s).
connect --keep-alive-tmo=5
step "idle for 17 s"
sleep 17
state=$(cat /sys/class/nvme/$(basename "$CTRL")/state)
[ "$state" = live ] || fail "controller state is $state after idling"
dd if="$DEV" of=/dev/null bs=4k count=16 iflag=direct 2>/dev/null || fail "read after idling"
dmesg | grep -i "keep-alive\|keep alive" && fail "the host logged keep-alive trouble"
disconnect
ok
