# Reservations between two hosts (two host NQNs and host IDs in one guest): nvme resv-register,
# -acquire, -report and -release, reads and writes from both as each reservation type allows,
# preemption, and a registration with PTPL surviving a target restart (one without, not).
# Native multipath is turned off (nvme_core multipath=N) so each host's controller has its own
# block device: with it on, both controllers would be paths of one head and a command could go
# down either host's path.
step "nvme_core without native multipath"
modprobe -r nvme_tcp nvme_fabrics nvme_core 2>/dev/null
modprobe nvme_core multipath=N || fail "modprobe nvme_core multipath=N"
modprobe nvme_tcp || fail "modprobe nvme_tcp"
[ "$(cat /sys/module/nvme_core/parameters/multipath)" = "N" ] || fail "native multipath is still on"

ID_A=aaaaaaaa-1111-4111-8111-00000000000a
ID_B=bbbbbbbb-2222-4222-8222-00000000000b
NQN_A=nqn.2014-08.org.nvmexpress:uuid:$ID_A
NQN_B=nqn.2014-08.org.nvmexpress:uuid:$ID_B

# The namespace block device of the controller connected with host NQN $1.
host_dev() {
  for c in /sys/class/nvme/nvme*; do
    [ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQN" ] && [ "$(cat "$c/hostnqn" 2>/dev/null)" = "$1" ] || continue
    n=$(basename "$c")n1
    i=0
    while [ ! -b "/dev/$n" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
    [ -b "/dev/$n" ] && { echo "/dev/$n"; return 0; }
  done
  return 1
}

# nvme-cli 2.3 refuses a second connection to the same address, port and subsystem whatever the
# host NQN ("already connected"; neither --duplicate-connect nor --host-traddr changes that), so
# the hosts connect through the kernel's fabrics interface directly, as nvme-cli itself does.
connect_hosts() {
  for h in A B; do
    eval "hostnqn=\$NQN_$h hostid=\$ID_$h"
    step "connect as host $h ($hostnqn)"
    exec 3<>/dev/nvme-fabrics || fail "open /dev/nvme-fabrics"
    printf 'transport=tcp,traddr=%s,trsvcid=%s,nqn=%s,hostnqn=%s,hostid=%s' "$TARGET" "$PORT" "$NQN" "$hostnqn" "$hostid" >&3 || fail "connect as host $h"
    read -r created <&3 || true
    exec 3>&-
    echo "created: $created"
  done
  DEV_A=$(host_dev "$NQN_A") || fail "no block device for host A"
  DEV_B=$(host_dev "$NQN_B") || fail "no block device for host B"
  [ "$DEV_A" != "$DEV_B" ] || fail "both hosts got the same device $DEV_A"
  echo "host A: $DEV_A, host B: $DEV_B"
}

# Writes / reads one 4 KiB block (LBA 80, 512-byte blocks) through the host's device with nvme-cli
# (passthrough: a conflict is the command's status, not a block-layer error).
write_block() { nvme write "$1" --start-block=80 --block-count=7 --data-size=4096 --data=/tmp/block; }
read_block() { nvme read "$1" --start-block=80 --block-count=7 --data-size=4096 --data=/tmp/read; }
expect_conflict() {
  out=$("$@" 2>&1) && fail "$* succeeded despite the reservation"
  echo "$out" | grep -qi "reservation conflict" || fail "$* failed, but not with Reservation Conflict: $out"
  echo "refused as expected: $*"
}

dd if=/dev/urandom of=/tmp/block bs=4096 count=1 2>/dev/null
connect_hosts
nvme id-ns "$DEV_A" | grep -E "^rescap *: 0xff" || fail "Identify Namespace RESCAP is not 0xff: $(nvme id-ns "$DEV_A" | grep rescap)"

step "both hosts register; A takes Write Exclusive"
nvme resv-register "$DEV_A" --nrkey=0xa1 --rrega=0 || fail "resv-register A"
nvme resv-register "$DEV_B" --nrkey=0xb2 --rrega=0 || fail "resv-register B"
nvme resv-acquire "$DEV_A" --crkey=0xa1 --rtype=1 --racqa=0 || fail "resv-acquire A (write exclusive)"
nvme resv-report "$DEV_B" --eds > /tmp/report || fail "resv-report"
cat /tmp/report
grep -Eq "rtype *: *1" /tmp/report || fail "report does not show Write Exclusive"
grep -Eq "regctl *: *2" /tmp/report || fail "report does not show two registered controllers"
write_block "$DEV_A" || fail "the holder cannot write"
expect_conflict write_block "$DEV_B"
read_block "$DEV_B" || fail "a registrant cannot read under Write Exclusive"
cmp /tmp/block /tmp/read || fail "B read other bytes than A wrote"

step "A releases; B preempts nothing and takes Exclusive Access"
nvme resv-release "$DEV_A" --crkey=0xa1 --rtype=1 --rrela=0 || fail "resv-release A"
nvme resv-acquire "$DEV_B" --crkey=0xb2 --rtype=2 --racqa=0 || fail "resv-acquire B (exclusive access)"
expect_conflict read_block "$DEV_A"
expect_conflict write_block "$DEV_A"
read_block "$DEV_B" || fail "the holder cannot read"

step "A preempts B (and B's registration) with B's key"
nvme resv-acquire "$DEV_A" --crkey=0xa1 --prkey=0xb2 --rtype=1 --racqa=1 || fail "resv-acquire preempt"
write_block "$DEV_A" || fail "the new holder cannot write"
expect_conflict write_block "$DEV_B"
nvme resv-acquire "$DEV_B" --crkey=0xb2 --rtype=1 --racqa=0 2>/dev/null && fail "a preempted host acquired with its old key"
nvme resv-report "$DEV_A" --eds | grep -Eq "regctl *: *1" || fail "B is still registered after the preemption"

step "a wrong key is refused; clear ends everything"
expect_conflict nvme resv-register "$DEV_A" --crkey=0x99 --nrkey=0x5 --rrega=2
nvme resv-release "$DEV_A" --crkey=0xa1 --rrela=1 || fail "resv-release clear"
write_block "$DEV_B" || fail "B cannot write after the clear"
nvme resv-report "$DEV_A" --eds | grep -Eq "rtype *: *0" || fail "a reservation remains after the clear"

step "A registers with PTPL and takes Write Exclusive; the target restarts"
nvme resv-register "$DEV_A" --nrkey=0xa1 --rrega=0 --cptpl=3 || fail "resv-register with PTPL"
nvme resv-acquire "$DEV_A" --crkey=0xa1 --rtype=1 --racqa=0 || fail "resv-acquire A"
nvme get-feature "$DEV_A" -f 0x83 -n 1 | grep -Eq "value: *0x0*1" || fail "Get Features 83h does not report PTPL: $(nvme get-feature "$DEV_A" -f 0x83 -n 1)"
nvme disconnect-all || fail "nvme disconnect-all"
echo NOVASTOR-RESTART-TARGET
wait_for_restart
connect_hosts
nvme resv-report "$DEV_B" --eds > /tmp/report || fail "resv-report after the restart"
cat /tmp/report
grep -Eq "rtype *: *1" /tmp/report || fail "the reservation did not survive the restart"
expect_conflict write_block "$DEV_B"
write_block "$DEV_A" || fail "the holder cannot write after the restart"
nvme resv-release "$DEV_A" --crkey=0xa1 --rrela=1 || fail "resv-release clear after the restart"

step "B registers with PTPL cleared and takes Write Exclusive; after a restart nothing remains"
nvme resv-register "$DEV_B" --nrkey=0xb2 --rrega=0 --cptpl=2 || fail "resv-register B clearing PTPL"
nvme resv-acquire "$DEV_B" --crkey=0xb2 --rtype=1 --racqa=0 || fail "resv-acquire B"
expect_conflict write_block "$DEV_A"
nvme disconnect-all || fail "nvme disconnect-all"
echo NOVASTOR-RESTART-TARGET
wait_for_restart
connect_hosts
nvme resv-report "$DEV_A" --eds > /tmp/report || fail "resv-report after the second restart"
cat /tmp/report
grep -Eq "regctl *: *0" /tmp/report || fail "a registration without PTPL survived the restart"
grep -Eq "rtype *: *0" /tmp/report || fail "a reservation without PTPL survived the restart"
write_block "$DEV_A" || fail "A cannot write after a restart that ended B's reservation"
nvme disconnect-all || fail "nvme disconnect-all"
ok
