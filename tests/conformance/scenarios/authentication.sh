# DH-HMAC-CHAP: the Linux host authenticates to the target (Linux 6.12 guest; 6.1 has no
# NVME_HOST_AUTH). The test sets, for hosts 1 to 3, HOSTn (host NQN), HOSTIDn and SECRETn, and
# CTRL_SECRET3. Hosts 1 and 2 are entries of subsystem NQN in the target's configuration: host 1
# default choice (SHA-256, ffdhe2048), host 2 SHA-384 over the null group. Host 3 was added to
# subsystem NQN_RPC over the control plane (gRPC AddHost): SHA-512 with ffdhe2048 and a
# controller secret.

# auth_connect HOSTNQN HOSTID [nvme connect options...]
auth_connect() {
  host=$1 id=$2
  shift 2
  step "nvme connect -q $host $*"
  nvme connect -t tcp -a "$TARGET" -s "$PORT" -n "$NQN" -q "$host" -I "$id" -i 2 "$@"
}

# Marks the kernel log, so that what a step printed can be told from the steps before it.
mark() { echo "NOVASTOR-STEP $1" >/dev/kmsg; }
since_mark() { dmesg | sed -n "/NOVASTOR-STEP $1/,\$p"; }

verify_io() {
  DEV=$(find_dev) || fail "no block device appeared for $NQN"
  CTRL=$(find_ctrl) || fail "no controller device for $NQN"
  queues=$(cat "/sys/class/nvme/$(basename "$CTRL")/queue_count")
  [ "$queues" = 3 ] || fail "expected the admin queue and 2 authenticated I/O queues, the controller has $queues"
  step "fio randwrite + verify over the authenticated connection"
  fio --name=verify --filename="$DEV" --direct=1 --ioengine=libaio --rw=randwrite \
      --bssplit=4k/50:64k/50 --iodepth=8 --numjobs=2 --size=8M --offset_increment=64M \
      --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting >/tmp/fio.out || { cat /tmp/fio.out; fail "fio verify"; }
}

# authenticated HOSTNQN HOSTID "HASH DHGROUP" [nvme connect options...]: connects, verifies I/O over
# the authenticated queues and checks what the kernel says it negotiated (the caller disconnects).
step_number=0
authenticated() {
  host=$1 id=$2 expected=$3
  shift 3
  step_number=$((step_number + 1))
  mark "$step_number"
  auth_connect "$host" "$id" "$@" || fail "$host ($expected) could not connect"
  verify_io
  set -- $expected
  since_mark "$step_number" | grep -q "qid 0: authenticated with hash hmac($1) dhgroup $2" \
    || { since_mark "$step_number"; fail "the kernel did not report $1/$2 authentication"; }
}

authenticated "$HOST1" "$HOSTID1" "sha256 ffdhe2048" --dhchap-secret="$SECRET1"
disconnect
authenticated "$HOST2" "$HOSTID2" "sha384 null" --dhchap-secret="$SECRET2"
disconnect

step "a wrong secret is refused"
mark 4
auth_connect "$HOST1" "$HOSTID1" --dhchap-secret="$SECRET2" && fail "host 1 connected with host 2's secret"
since_mark 4 | grep -qi "authentication failed" || { since_mark 4; fail "the kernel did not log the failed authentication"; }
find_ctrl >/dev/null && fail "a controller is left after the refused connect"

step "a missing secret is refused"
mark 5
auth_connect "$HOST1" "$HOSTID1" && fail "host 1 connected without its secret"
find_ctrl >/dev/null && fail "a controller is left after the refused connect"

# Host 3, on the subsystem the control plane made.
NQN=$NQN_RPC
step_number=10
authenticated "$HOST3" "$HOSTID3" "sha512 ffdhe2048" --dhchap-secret="$SECRET3" --dhchap-ctrl-secret="$CTRL_SECRET3"
since_mark "$step_number" | grep -q "qid 0: controller authenticated" || { since_mark "$step_number"; fail "the kernel did not authenticate the controller"; }
disconnect

step "a host added over the control plane is refused without its secret"
mark 7
auth_connect "$HOST3" "$HOSTID3" && fail "host 3 connected without its secret"
find_ctrl >/dev/null && fail "a controller is left after the refused connect"

step "a wrong controller secret: the host refuses the target"
mark 6
auth_connect "$HOST3" "$HOSTID3" --dhchap-secret="$SECRET3" --dhchap-ctrl-secret="$SECRET1" \
  && fail "host 3 accepted a controller that proved another secret"
since_mark 6 | grep -q "qid 0: controller authentication failed" || { since_mark 6; fail "the kernel did not log the failed controller authentication"; }
find_ctrl >/dev/null && fail "a controller is left after the refused connect"
ok
