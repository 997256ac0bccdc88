#!/usr/bin/env bash
# Boot the guest built by build-guest.sh and run one scenario script inside it.
#
#   run-scenario.sh OUTDIR SCENARIO_FILE [TIMEOUT_SECONDS] [extra qemu args...]
#
# SCENARIO_FILE becomes /scenario.sh (mode 755) in a small extra cpio.gz archive
# appended to OUTDIR/initrd.cpio, or to OUTDIR/initrd.gz if there is no .cpio (the
# kernel unpacks concatenated cpio archives, compressed or not, in order).
# The guest's /init runs it with `sh -e`, prints the kernel log between
# NOVASTOR-DMESG-BEGIN / NOVASTOR-DMESG-END, then NOVASTOR-SCENARIO-EXIT=<code>, and
# powers off. The serial console streams to stdout line by line as it arrives (CR
# stripped); this script's own messages and QEMU's errors go to stderr.
#
# Exit code: the scenario's exit code from the marker; 124 if TIMEOUT_SECONDS (default
# 300) passed without the marker; 125 if the VM ended without the marker (QEMU error,
# kernel panic, ...); 2 for usage errors.
#
# Environment:
#   NOVASTOR_GUEST_HOSTFWD   "HOSTPORT[:GUESTPORT] ..." (space or comma separated;
#                            GUESTPORT defaults to 4420). Each becomes
#                            hostfwd=tcp:127.0.0.1:HOSTPORT-:GUESTPORT on the one
#                            user netdev, so a target in the guest is reachable from
#                            the host at 127.0.0.1:HOSTPORT. Always bound to loopback.
#   NOVASTOR_GUEST_RESTRICT=1  restrict=on: the guest cannot reach the host (nor
#                            anything else) at all; hostfwd still works. For
#                            scenarios that are entirely inside the guest.
#   NOVASTOR_GUEST_EXTRA_DIR a directory copied to /extra in the guest (test data).
#   NOVASTOR_GUEST_ACCEL     tcg (default, software emulation) | kvm (opt-in, faster
#                            where nested KVM works)
#
# Addresses: inside the guest, 10.0.2.2 is the host's 127.0.0.1 (QEMU user
# networking); scenarios must address nothing but 10.0.2.2 and the guest's loopback.
set -euo pipefail

die() { echo "run-scenario: ERROR: $*" >&2; exit 2; }
log() { echo "run-scenario: $*" >&2; }

(($# >= 2)) || die "usage: $0 OUTDIR SCENARIO_FILE [TIMEOUT_SECONDS] [extra qemu args...]"
OUTDIR=$1
SCENARIO=$2
shift 2
TIMEOUT=300
if (($# > 0)) && [[ $1 != -* ]]; then
  [[ $1 =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT_SECONDS must be a positive integer, got '$1'"
  TIMEOUT=$1
  shift
fi
EXTRA_QEMU_ARGS=("$@")

[[ -s $OUTDIR/vmlinuz && -s $OUTDIR/initrd.gz ]] \
  || die "no guest in '$OUTDIR' (vmlinuz/initrd.gz); run build-guest.sh $OUTDIR first"
[[ -f $SCENARIO && -r $SCENARIO ]] || die "scenario '$SCENARIO' is not a readable file"
for c in qemu-system-x86_64 cpio gzip timeout sed tee mkfifo; do
  command -v "$c" >/dev/null || die "'$c' not found; run scripts/install-prereqs.sh as root"
done

# ---- netdev: one -netdev line, host side always 127.0.0.1 -------------------------
netdev=user,id=n0
if [[ ${NOVASTOR_GUEST_RESTRICT:-0} == 1 ]]; then
  netdev+=,restrict=on
fi
hostfwd_specs=${NOVASTOR_GUEST_HOSTFWD:-}
for spec in ${hostfwd_specs//,/ }; do
  hp=${spec%%:*}
  gp=4420
  [[ $spec == *:* ]] && gp=${spec#*:}
  for p in "$hp" "$gp"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
      die "bad NOVASTOR_GUEST_HOSTFWD entry '$spec' (want HOSTPORT[:GUESTPORT], ports 1-65535)"
    fi
  done
  netdev+=,hostfwd=tcp:127.0.0.1:$hp-:$gp
done

# TCG (software emulation) by default: it behaves the same on every machine. KVM is
# opt-in only; on nested setups it can abort at start ("failed to set MSR 0x10a").
accel=${NOVASTOR_GUEST_ACCEL:-tcg}
[[ $accel == tcg || $accel == kvm ]] || die "NOVASTOR_GUEST_ACCEL must be tcg or kvm, got '$accel'"

# ---- initrd = base image + scenario archive ---------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/novastor-guest.XXXXXX")
qemu_pid=""
reader_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  # Only our own children, by pid. `timeout` passes the TERM on to QEMU (and KILLs it
  # after --kill-after); waiting reaps it so that no zombie outlives this script.
  if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
  if [[ -n $reader_pid ]]; then kill "$reader_pid" 2>/dev/null || true; wait "$reader_pid" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

mkdir -p "$TMP/root"
install -m 0755 "$SCENARIO" "$TMP/root/scenario.sh"
if [[ -n ${NOVASTOR_GUEST_EXTRA_DIR:-} ]]; then
  [[ -d $NOVASTOR_GUEST_EXTRA_DIR ]] || die "NOVASTOR_GUEST_EXTRA_DIR '$NOVASTOR_GUEST_EXTRA_DIR' is not a directory"
  mkdir -p "$TMP/root/extra"
  cp -a "$NOVASTOR_GUEST_EXTRA_DIR/." "$TMP/root/extra/"
fi
(cd "$TMP/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
  | gzip -1 >"$TMP/scenario.cpio.gz"
# Snapshot kernel and initrd under a shared lock: build-guest.sh holds the lock
# exclusively while it replaces them, so a concurrent rebuild never pairs a new
# initrd with an old kernel.
# The uncompressed base (initrd.cpio) saves the guest ~2 s of gunzip on the emulated
# CPU; an uncompressed and a gzip'd archive may be concatenated like two gzip'd ones.
snapshot() {
  local base=$OUTDIR/initrd.gz
  [[ -s $OUTDIR/initrd.cpio ]] && base=$OUTDIR/initrd.cpio
  cat "$base" "$TMP/scenario.cpio.gz" >"$TMP/initrd"
  cp "$OUTDIR/vmlinuz" "$TMP/vmlinuz"
}
if [[ -e $OUTDIR/.lock ]] && command -v flock >/dev/null; then
  exec 8<"$OUTDIR/.lock"
  flock -s -w 1800 8 || die "timed out waiting for a build in $OUTDIR to finish"
  snapshot
  exec 8<&-
else
  snapshot
fi

# shellcheck disable=SC2054  # the commas are QEMU option syntax
qemu_cmd=(
  qemu-system-x86_64 -accel "$accel" -cpu max -m 2048 -smp 2 -nographic -no-reboot
  -kernel "$TMP/vmlinuz" -initrd "$TMP/initrd"
  -append "console=ttyS0 quiet panic=-1"
  -netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile=
  "${EXTRA_QEMU_ARGS[@]}"
)
log "timeout ${TIMEOUT}s: ${qemu_cmd[*]}"

# ---- boot, streaming the console --------------------------------------------------
# QEMU writes the serial console to a fifo; `sed -u` strips the CRs of the guest's
# CRLF line ends and the firmware's terminal escapes (which would otherwise prefix the
# READY line) and passes each line on at once; `tee` copies it to stdout and to the
# log parsed below (-p: keep logging if the caller stops reading stdout). Both run in
# the background so that `wait` (unlike a foreground pipeline) lets the INT/TERM traps
# stop the VM promptly.
CONSOLE=$TMP/console
LOG=$TMP/console.log
mkfifo "$CONSOLE"
sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r//g' <"$CONSOLE" | tee -p "$LOG" &
reader_pid=$!
# stdin from /dev/null: -nographic would otherwise put a caller's terminal into raw
# mode and forward its keystrokes. --kill-after: a wedged QEMU still dies.
timeout --kill-after=10 "$TIMEOUT" "${qemu_cmd[@]}" </dev/null >"$CONSOLE" &
qemu_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
wait "$reader_pid" || true
reader_pid=""

marker=$(grep -aoE 'NOVASTOR-SCENARIO-EXIT=[0-9]+' "$LOG" | tail -n1 || true)
if [[ -n $marker ]]; then
  rc=${marker#*=}
  log "scenario exit code $rc"
  exit "$rc"
fi
if ((qemu_rc == 124 || qemu_rc == 137)); then
  log "timed out after ${TIMEOUT}s without NOVASTOR-SCENARIO-EXIT"
  exit 124
fi
if grep -aq 'NOVASTOR-GUEST-READY' "$LOG"; then
  log "guest was ready but the VM ended (QEMU exit $qemu_rc) without NOVASTOR-SCENARIO-EXIT"
else
  log "VM ended (QEMU exit $qemu_rc) before NOVASTOR-GUEST-READY; see QEMU errors above"
fi
exit 125
