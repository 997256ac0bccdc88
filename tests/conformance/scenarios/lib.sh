# Helpers shared by the kernel-host scenarios (prepended to each scenario with TARGET, PORT, NQN set).
# Every helper fails the scenario with a clear message; the scenario ends with `ok`.

fail() { echo "SCENARIO-FAIL: $*"; exit 1; }
step() { echo "== $*"; }
ok() { echo "NOVASTOR-SCENARIO-OK"; }

# The block device of namespace 1 of $NQN (the multipath head, e.g. /dev/nvme0n1), waiting up to 10 s.
find_dev() {
  i=0
  while [ $i -lt 100 ]; do
    for c in /sys/class/nvme/nvme*; do
      [ -e "$c/subsysnqn" ] || continue
      [ "$(cat "$c/subsysnqn")" = "$NQN" ] || continue
      for b in /sys/block/nvme*n1; do
        [ -e "$b" ] || continue
        case "$(basename "$b")" in *c*) continue ;; esac
        [ -b "/dev/$(basename "$b")" ] && { echo "/dev/$(basename "$b")"; return 0; }
      done
    done
    i=$((i + 1))
    sleep 0.1
  done
  return 1
}

# The controller character device (e.g. /dev/nvme0) connected to $NQN.
find_ctrl() {
  for c in /sys/class/nvme/nvme*; do
    [ -e "$c/subsysnqn" ] && [ "$(cat "$c/subsysnqn")" = "$NQN" ] && { echo "/dev/$(basename "$c")"; return 0; }
  done
  return 1
}

# nvme connect with the scenario's arguments and the test's CONNECT_OPTIONS (e.g. digests).
connect() {
  # shellcheck disable=SC2086 # CONNECT_OPTIONS is a list of options
  set -- "$@" $CONNECT_OPTIONS
  step "nvme connect $*"
  nvme connect -t tcp -a "$TARGET" -s "$PORT" -n "$NQN" "$@" || fail "nvme connect $*"
  DEV=$(find_dev) || fail "no block device appeared for $NQN"
  CTRL=$(find_ctrl) || fail "no controller device for $NQN"
  echo "connected: $CTRL $DEV"
}

disconnect() {
  step "nvme disconnect"
  nvme disconnect -n "$NQN" || fail "nvme disconnect"
}

# Compares LENGTH bytes of FILE1 at SKIP1 with FILE2 at SKIP2 (bytes).
same_bytes() { cmp -n "$5" -i "$2:$4" "$1" "$3" || fail "$6"; }

# After the scenario printed NOVASTOR-RESTART-TARGET: waits for the target to go down, then to
# listen again. A plain TCP probe (bash /dev/tcp): polling with nvme discover would fill the kernel log.
listening() { (exec 3<>"/dev/tcp/$TARGET/$PORT") 2>/dev/null; }
wait_for_restart() {
  step "waiting for the target to go down and come back"
  i=0
  while listening; do
    i=$((i + 1)); [ $i -gt 60 ] && fail "target did not go down"; sleep 0.5
  done
  i=0
  until listening; do
    i=$((i + 1)); [ $i -gt 120 ] && fail "target did not come back"; sleep 0.5
  done
}
