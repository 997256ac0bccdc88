# (Runs under sh -e: every command that may fail is checked with || fail or || status=$?.)
# Native multipath over two listeners of one subsystem (ports $PORT and $PORT2; ANA group 1 is
# optimized on the first, non-optimized on the second). I/O goes down the optimized path; while
# fio --verify runs, the host test makes that path's group inaccessible, then stops its listener;
# fio must finish without an error, the I/O having moved to the other path.
[ "$(cat /sys/module/nvme_core/parameters/multipath)" = "Y" ] || fail "native multipath is off in this kernel"

step "connect both paths"
nvme connect -t tcp -a "$TARGET" -s "$PORT" -n "$NQN" || fail "nvme connect (port $PORT)"
nvme connect -t tcp -a "$TARGET" -s "$PORT2" -n "$NQN" || fail "nvme connect (port $PORT2)"
DEV=$(find_dev) || fail "no block device for $NQN"
HEAD=$(basename "$DEV")

# The controller connected through port $1, and its path device under the multipath head.
ctrl_on() { for c in /sys/class/nvme/nvme*; do grep -q "trsvcid=$1\(,\|\$\)" "$c/address" 2>/dev/null && { basename "$c"; return 0; }; done; return 1; }
C1=$(ctrl_on "$PORT") || fail "no controller on port $PORT"
C2=$(ctrl_on "$PORT2") || fail "no controller on port $PORT2"
path_of() { echo "${HEAD%n*}c${1#nvme}n${HEAD##*n}"; }
P1=$(path_of "$C1")
P2=$(path_of "$C2")
echo "head $DEV; port $PORT: $C1 ($P1); port $PORT2: $C2 ($P2)"
[ "$(cat /sys/class/nvme/"$C1"/subsysnqn)" = "$(cat /sys/class/nvme/"$C2"/subsysnqn)" ] || fail "the two controllers are not of one subsystem"
[ "$(cat /sys/class/nvme/"$C1"/cntlid)" != "$(cat /sys/class/nvme/"$C2"/cntlid)" ] || fail "both paths have the same CNTLID"
[ "$(cat /sys/block/"$P1"/ana_state)" = optimized ] || fail "path $P1 is $(cat /sys/block/"$P1"/ana_state), not optimized"
[ "$(cat /sys/block/"$P2"/ana_state)" = non-optimized ] || fail "path $P2 is $(cat /sys/block/"$P2"/ana_state), not non-optimized"
[ "$(cat /sys/block/"$P1"/nguid)" = "$(cat /sys/block/"$P2"/nguid)" ] || fail "the paths' namespaces have different NGUIDs"

# Data units written (thousands of 512-byte units) a controller reports in its SMART log
# (nvme-cli 2.3 prints "Data Units Written : 66 (33.79 MB)").
written() { nvme smart-log "/dev/$1" | sed -n 's/^Data Units Written[[:space:]]*:[[:space:]]*\([0-9,]*\).*/\1/p' | tr -d ','; }

step "32 MiB through the head go down the optimized path ($C1)"
dd if=/dev/urandom of="$DEV" bs=1M count=32 oflag=direct 2>/dev/null || fail "write through the head"
w1=$(written "$C1"); w2=$(written "$C2")
echo "data units written: $C1 $w1, $C2 $w2"
[ "${w1:-0}" -ge 60 ] || fail "the optimized path $C1 wrote only $w1 units"
[ "${w2:-0}" -lt 5 ] || fail "the non-optimized path $C2 wrote $w2 units while the optimized one was usable"

step "fio --verify (randwrite, crc32c, verified as it goes) on the head for 40 s"
fio --name=failover --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 \
  --size=32m --verify=crc32c --verify_backlog=128 --time_based --runtime=40 >/tmp/fio.log 2>&1 &
FIO=$!
sleep 8

# Polls sysfs file $1 until it reads $2 (up to 30 s).
wait_for() {
  i=0
  while [ "$(cat "$1" 2>/dev/null)" != "$2" ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
  [ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

step "the host test makes ANA group 1 inaccessible on port 1"
echo "NOVASTOR-ANA-STATE 1 1 Inaccessible"
wait_for /sys/block/"$P1"/ana_state inaccessible || fail "path $P1 did not become inaccessible: $(cat /sys/block/"$P1"/ana_state)"
before=$(written "$C2")
sleep 6
after=$(written "$C2")
echo "data units written on $C2: $before -> $after"
[ "${after:-0}" -gt "${before:-0}" ] || fail "no I/O went down $P2 after $P1 became inaccessible"

step "the host test stops port 1's listener"
# The kernel then logs error recovery and failed reconnects of $C1 ("failed to connect socket:
# -111"): the listener is gone, as intended; none of it is an I/O error.
echo "NOVASTOR-STOP-LISTENER 1"
i=0
while [ "$(cat /sys/class/nvme/"$C1"/state)" = live ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
echo "$C1 is $(cat /sys/class/nvme/"$C1"/state)"
[ "$(cat /sys/class/nvme/"$C1"/state)" != live ] || fail "$C1 stayed live after its listener stopped"
status=0
wait $FIO || status=$?
cat /tmp/fio.log
[ $status -eq 0 ] || fail "fio failed (exit $status) during failover"
grep -q "err= 0" /tmp/fio.log || fail "fio reported errors during failover"

step "the surviving path serves reads of what was written before"
dd if="$DEV" of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null || fail "read through the head after failover"
nvme disconnect -n "$NQN" || fail "nvme disconnect"
ok
