# An operator's everyday nvme-cli session, in one boot: discover, connect-all, every identify
# and log command, properties and features, I/O with the data checked, rescan, reset, and
# disconnect-all. The test starts the target with AdvertisedAddress=$TARGET, so connect-all
# follows the discovery log to an address the guest can reach.
#
# Each command must exit 0 and print what it read: a field of its output is checked against
# what the target or sysfs says. A failed check is reported and the session goes on, so one
# boot shows every command that fails; the scenario then fails naming them all.

FAILED=""
# A failed check: reported at once, and the scenario fails at the end.
miss() {
  echo "SCENARIO-CHECK-FAIL: $*"
  FAILED="$FAILED
  $*"
}

# Runs an nvme-cli command, shows what it printed (in /tmp/out), and notes a non-zero exit.
run() {
  step "$*"
  if "$@" >/tmp/out 2>&1; then
    cat /tmp/out
  else
    rc=$?
    cat /tmp/out
    miss "'$*' exited $rc"
  fi
  LAST="$*"
}

# The last command's output must match the extended regular expression $1 ($2 says what it means).
expect() { grep -Eq -- "$1" /tmp/out || miss "'$LAST' does not show ${2:-$1}"; }

# Blanks between a field's name and value: nvme-cli pads with spaces or tabs.
S='[[:space:]]*'

# The value of field $1 in the last output ("name : value" lines, as id-ctrl prints them), trimmed.
field() { sed -n "s/^$1$S:$S//p" /tmp/out | head -n1 | sed 's/[[:space:]]*$//'; }

step "discovery log: every entry points at the advertised address"
run nvme discover -t tcp -a "$TARGET" -s "$PORT"
expect "subnqn: *$NQN\$" "the subsystem $NQN"
expect "traddr: *$TARGET\$" "TRADDR $TARGET"
grep -E "traddr:" /tmp/out | grep -vq "traddr: *$TARGET\$" && miss "a discovery entry has another TRADDR than $TARGET"
expect "adrfam: *ipv4" "ADRFAM ipv4"

step "connect-all follows the discovery log"
run nvme connect-all -t tcp -a "$TARGET" -s "$PORT"
DEV=$(find_dev) || fail "connect-all brought up no namespace of $NQN (see the discovery log above)"
CTRL=$(find_ctrl) || fail "connect-all left no controller of $NQN"
C=$(basename "$CTRL")
N=$(basename "$DEV")
echo "connected: $CTRL $DEV ($(cat "/sys/class/nvme/$C/address"))"
grep -q "traddr=$TARGET,trsvcid=$PORT" "/sys/class/nvme/$C/address" || miss "connect-all connected to $(cat "/sys/class/nvme/$C/address")"
SERIAL=$(tr -d ' ' <"/sys/class/nvme/$C/serial")
CNTLID=$(cat "/sys/class/nvme/$C/cntlid")
[ -n "$SERIAL" ] || miss "the controller has no serial number"

run nvme list
expect "^$DEV .*$SERIAL" "$DEV with serial $SERIAL"
run nvme list-subsys
expect "NQN=$NQN" "the subsystem NQN"
expect "$C tcp traddr=$TARGET,trsvcid=$PORT.* live" "$C live at $TARGET:$PORT"
run nvme list-ns "$CTRL"
expect "\]:0x1\$" "namespace 1"
run nvme list-ctrl "$CTRL"
expect "num of ctrls present: *[1-9]" "a controller"
expect "\]:$(printf '0x%x' "$CNTLID")\$" "this controller's CNTLID $CNTLID"

run nvme id-ctrl "$CTRL"
expect "^sn *: *$SERIAL *\$" "serial $SERIAL"
expect "^subnqn *: *$NQN\$" "subnqn $NQN"
expect "^cntlid *: *$(printf '0x%x' "$CNTLID")\$" "cntlid $CNTLID"
FR=$(field fr)
run nvme id-ns "$DEV"
expect "^nsze *: *0x200000\$" "NSZE of 1 GiB in 512-byte blocks"
expect "in use" "the LBA format in use"
run nvme ns-descs "$DEV"
expect "nguid *: *$(tr -d '-' <"/sys/block/$N/nguid")" "the NGUID sysfs shows"
expect "uuid *: *$(cat "/sys/block/$N/uuid")" "the UUID sysfs shows"
expect "csi *: *0" "CSI 0 (NVM)"
run nvme nvm-id-ctrl "$CTRL"
expect "^wzsl *: *0\$" "WZSL (no Write Zeroes limit)"
run nvme id-iocs "$CTRL"
expect "Combination\[0\]: *0?x?1\$" "combination 0 = NVM"

step "a read past the end fails with LBA Out of Range and is recorded in the error log"
nvme read "$DEV" --start-block=2097152 --block-count=0 --data-size=512 --data=/tmp/past >/tmp/out 2>&1 && miss "a read past the end succeeded"
cat /tmp/out
run nvme smart-log "$CTRL"
expect "^critical_warning$S:${S}0\$" "no critical warning"
expect "^temperature$S:${S}30" "the composite temperature (30 C)"
expect "^available_spare$S:${S}100%" "100 % spare"
expect "^num_err_log_entries$S:${S}[1-9]" "the failed read counted"
run nvme error-log "$CTRL"
expect "Error Log Entries for device:$C entries:64" "the 64 entries of ELPE 63"
expect "^error_count$S:${S}[1-9]" "the newest entry numbered"
expect "^lba$S:${S}(0x200000|2097152)\$" "the failed read's LBA"
expect "^status_field$S:${S}0x(c|4)?0?8[01]" "LBA Out of Range as the status"
run nvme fw-log "$CTRL"
expect "^afi$S:${S}0x1\$" "slot 1 active"
expect "^frs1$S:.*\\($FR" "slot 1 running firmware $FR (id-ctrl FR)"
# Plain effects-log prints nothing for a fabrics controller in nvme-cli 2.3 (nor for nvmet's);
# naming the command set prints the table.
run nvme effects-log "$CTRL" --csi=0
expect "ACS6 .*Identify.* 00000001" "Identify supported"
expect "IOCS1 .*Write.* 00000003" "Write supported, changing block content"
# nvme-cli 2.3 sizes this log without the NSID list when ANACAP bit 6 is set (ours is: the group
# never changes) yet asks for the NSIDs, so it shows "nsid : 0"; the kernel reads the whole
# page, and sysfs below shows the state it found for namespace 1. (With bit 6 clear, nvme-cli
# sizes the log for MNAN namespaces, more than its 4 KiB chunk, and reads the rest at an offset
# beyond the end of the page, which the specification makes Invalid Field; nvmet ignores offsets.)
run nvme ana-log "$CTRL"
expect "^grpid$S:${S}1\$" "ANA group 1"
expect "^state$S:${S}optimized" "ANA state optimized"
ana=$(cat /sys/block/"$C"c*n1/ana_state)
echo "sysfs ana_state of namespace 1: $ana"
[ "$ana" = optimized ] || miss "the kernel found namespace 1 $ana in the ANA log"
# An empty list prints nothing in plain output; JSON names the device and lists no namespace.
run nvme changed-ns-list-log "$CTRL" -o json
expect "\"Changed Namespace List Log\"$S:$S\"$C\"" "the changed namespace list of $C"
grep -Eq '"\[ *[0-9]+\]"|0x[0-9a-f]' /tmp/out && miss "a namespace is listed as changed, yet none changed"
run nvme supported-log-pages "$CTRL"
expect "LID 0x2 \(SMART / Health Information\), supports 0x1" "the SMART log page"
expect "LID 0xc \(Asymmetric Namespace Access\), supports 0x1" "the ANA log page"
expect "LID 0x80 .*supports 0x1" "the reservation notification log page"
run nvme get-log "$CTRL" --log-id=0x80 --log-len=64
expect "0000: 00 00 00 00 00 00 00 00" "an empty reservation notification log (no notice yet)"

# nvme-cli 2.3 show-regs fails on every fabrics controller (nvmet's too: "get-property: No such
# file or directory", exit 1, then freed memory printed) although each Property Get it sends
# is answered Invalid Field, as nvmet answers it; so its exit code is not held against the target. The
# properties a fabrics controller has are read one by one below.
step "nvme show-regs $CTRL (nvme-cli 2.3 fails on every fabrics controller)"
nvme show-regs "$CTRL" || echo "show-regs exited $? (nvme-cli 2.3 defect, nvmet alike)"
run nvme get-property "$CTRL" --offset=0x0
expect "value: [0-9a-f]*07f\$" "CAP with MQES 127 (128 entries)"
run nvme get-property "$CTRL" --offset=0x8
expect "value: 20000\$" "VS 2.0"
run nvme get-property "$CTRL" --offset=0x14
expect "value: 46[0-9a-f]{3}1\$" "CC with IOCQES 4, IOSQES 6 and EN set"
run nvme get-property "$CTRL" --offset=0x1c
expect "value: 1\$" "CSTS with RDY set"

for f in 1 2 4 5 6 7 8 0xa 0xb 0xf; do
  run nvme get-feature "$CTRL" -f "$f" -H
  expect "get-feature:0x0*${f#0x} .*Current value" "feature $f's current value"
  case $f in
    5) expect "\(TLER\): 0 ms" "TLER 0" ;;
    6) expect "\(WCE\): Enabled" "the volatile write cache enabled" ;;
    7) expect "\(NSQA\): $(($(cat "/sys/class/nvme/$C/queue_count") - 1))\$" "as many I/O queues as the kernel uses" ;;
    0xb) expect "Asymmetric Namespace Access Change Notices *: Send async event" "ANA change notices enabled" ;;
    0xf) expect "in milliseconds: [1-9][0-9]*\$" "a keep-alive timeout" ;;
    4) expect "\(TMPTH\): 85.*\(358 Kelvin\)" "an over-temperature threshold (85 C) above the SMART temperature" ;;
  esac
done
run nvme get-feature "$CTRL" -f 9 -H
expect "get-feature:0x0*9 .*Current value" "the interrupt vector configuration"
# The host identifier is 128 bits on fabrics: EXHID (CDW11 bit 0) asks for it.
run nvme get-feature "$CTRL" -f 0x81 --cdw11=1
hostid=$(cat /etc/nvme/hostid 2>/dev/null || sed 's/.*uuid://' /etc/nvme/hostnqn)
expect "0000: $(echo "$hostid" | cut -c1-8 | sed 's/\(..\)/\1 /g; s/ $//')" "the host identifier connect sent ($hostid)"
for f in 0x82 0x83; do
  run nvme get-feature "$CTRL" -f $f -n 1 -H
  expect "get-feature:$f .*Current value" "feature $f of namespace 1"
done

step "I/O: write a pattern, read it back, compare, verify, deallocate, write zeroes, flush"
dd if=/dev/urandom of=/tmp/pattern bs=4096 count=1 2>/dev/null
dd if=/dev/urandom of=/tmp/other bs=4096 count=1 2>/dev/null
dd if=/dev/zero of=/tmp/zeros bs=4096 count=1 2>/dev/null
# 8 blocks (block counts are 0-based) at LBA 2048.
IO="--start-block=2048 --block-count=7 --data-size=4096"
# shellcheck disable=SC2086 # IO is a list of options
{
  run nvme write "$DEV" $IO --data=/tmp/pattern
  expect "write: Success"
  run nvme read "$DEV" $IO --data=/tmp/back
  expect "read: Success"
  cmp /tmp/pattern /tmp/back || miss "nvme read did not return what nvme write wrote"
  run nvme compare "$DEV" $IO --data=/tmp/pattern
  expect "compare: Success"
  step "a compare with other data must fail"
  nvme compare "$DEV" $IO --data=/tmp/other >/tmp/out 2>&1 && miss "nvme compare of different data succeeded"
  cat /tmp/out
  run nvme verify "$DEV" --start-block=2048 --block-count=7
  expect "Verify.*[Ss]uccess"
  run nvme dsm "$DEV" --ad --slbs=2048 --blocks=8
  expect "DSM.*[Ss]uccess"
  run nvme read "$DEV" $IO --data=/tmp/back
  cmp /tmp/zeros /tmp/back || miss "a deallocated range does not read zeros"
  run nvme write "$DEV" $IO --data=/tmp/pattern
  run nvme write-zeroes "$DEV" --start-block=2048 --block-count=7
  expect "Write Zeroes.*[Ss]uccess"
  run nvme read "$DEV" $IO --data=/tmp/back
  cmp /tmp/zeros /tmp/back || miss "a write-zeroes range does not read zeros"
  run nvme flush "$DEV"
  expect "Flush.*[Ss]uccess"
}

step "reservations: register, report, acquire, write, release, clear (one host; two-host rules in reservations.sh)"
run nvme resv-register "$DEV" --nrkey=0x1234 --rrega=0
expect "NVME Reservation.* success"
run nvme resv-acquire "$DEV" --crkey=0x1234 --rtype=1 --racqa=0
expect "NVME Reservation.* success"
run nvme resv-report "$DEV" --eds
expect "^rtype$S:${S}1\$" "a Write Exclusive reservation"
expect "^regctl$S:${S}1\$" "one registered controller"
expect "rkey$S:${S}(0x)?1234" "the registered key"
# shellcheck disable=SC2086 # IO is a list of options
run nvme write "$DEV" $IO --data=/tmp/pattern
run nvme resv-release "$DEV" --crkey=0x1234 --rtype=1 --rrela=0
expect "NVME Reservation.* success"
run nvme resv-release "$DEV" --crkey=0x1234 --rrela=1
expect "NVME Reservation.* success"
run nvme resv-report "$DEV" --eds
expect "^regctl$S:${S}0\$" "no registrant after the clear"

run nvme ns-rescan "$CTRL"
DEV=$(find_dev) || fail "namespace 1 is gone after ns-rescan"
echo "after ns-rescan: $DEV, $(cat "/sys/block/$N/size") sectors"

# The kernel logs "resetting controller" for a reset the host asked for: announce it, so that the
# test holds only other resets against the target.
echo "NOVASTOR-EXPECT-KERNEL: $C: resetting controller" >/dev/kmsg
run nvme reset "$CTRL"
i=0
while [ "$(cat "/sys/class/nvme/$C/state")" != live ] && [ $i -lt 100 ]; do
  i=$((i + 1))
  sleep 0.1
done
echo "after reset: $C $(cat "/sys/class/nvme/$C/state")"
[ "$(cat "/sys/class/nvme/$C/state")" = live ] || miss "controller $C is not live after reset"
# shellcheck disable=SC2086 # IO is a list of options
{
  run nvme write "$DEV" $IO --data=/tmp/other
  run nvme read "$DEV" $IO --data=/tmp/back
  cmp /tmp/other /tmp/back || miss "after reset, nvme read did not return what nvme write wrote"
}
dd if="$DEV" bs=4096 skip=256 count=1 iflag=direct 2>/dev/null | cmp - /tmp/other || miss "after reset, the block device reads other data"

run nvme disconnect-all
i=0
while [ -e "/sys/class/nvme/$C" ] && [ $i -lt 100 ]; do
  i=$((i + 1))
  sleep 0.1
done
[ -e "/sys/class/nvme/$C" ] && miss "$C still exists after disconnect-all"
[ -e "$DEV" ] && miss "$DEV still exists after disconnect-all"
run nvme list
grep -q "$N" /tmp/out && miss "nvme list still shows $N after disconnect-all"

[ -z "$FAILED" ] || fail "checks failed:$FAILED"
ok
