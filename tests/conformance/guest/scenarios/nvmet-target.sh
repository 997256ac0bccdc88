#!/bin/sh
# Target mode: the guest becomes a Linux kernel NVMe/TCP target (nvmet-tcp) for an
# initiator on the host, reached through QEMU's hostfwd on 127.0.0.1. Started by
# run-target.sh, which prepends the settings below; defaults make it runnable by hand.
#
# Backing store: loop devices over files on the guest's tmpfs (no real disk). Loop
# was chosen over null_blk/brd because loop on tmpfs implements both discard and write
# zeroes by punching holes, so deallocated blocks really read back as zeros, and
# `losetup --sector-size` gives a 4096-byte LBA namespace next to a 512-byte one.
#
# Prints one line the host waits for, then idles until the host kills the VM:
#   NOVASTOR-TARGET-READY nqn=NQN port=4420 ns=NSID:LBA_BYTES:BLOCKS ...
set -eu

NQN=${NQN:-nqn.2014-08.io.novastor:kernel-target}
NS1_BLOCK=${NS1_BLOCK:-512}
NS1_MIB=${NS1_MIB:-64}
NS2_BLOCK=${NS2_BLOCK:-4096}
NS2_MIB=${NS2_MIB:-64}
# Bounded even if the host never kills the VM (run-target.sh's QEMU timeout is longer).
LIFETIME=${LIFETIME:-900}
PORT=4420
C=/sys/kernel/config/nvmet

fail() { echo "NOVASTOR-TARGET-FAIL: $*"; exit 1; }

[ -d "$C" ] || fail "$C missing (nvmet not loaded or configfs not mounted)"
mkdir "$C/subsystems/$NQN"
# Any host: the initiator under test makes up a new host NQN per run.
echo 1 >"$C/subsystems/$NQN/attr_allow_any_host"

ready="nqn=$NQN port=$PORT"
add_namespace() {  # add_namespace NSID LBA_BYTES MIB
  file=/tmp/ns$1.img
  truncate -s "$3M" "$file"
  loop=$(losetup --find --show --sector-size "$2" "$file") || fail "losetup for namespace $1"
  [ "$(blockdev --getss "$loop")" = "$2" ] || fail "$loop has sector size $(blockdev --getss "$loop"), wanted $2"
  mkdir "$C/subsystems/$NQN/namespaces/$1"
  printf '%s' "$loop" >"$C/subsystems/$NQN/namespaces/$1/device_path"
  echo 1 >"$C/subsystems/$NQN/namespaces/$1/enable" || fail "enabling namespace $1 ($loop)"
  ready="$ready ns=$1:$2:$(($3 * 1024 * 1024 / $2))"
}
add_namespace 1 "$NS1_BLOCK" "$NS1_MIB"
add_namespace 2 "$NS2_BLOCK" "$NS2_MIB"

# DH-HMAC-CHAP (6.12 kernels): NQN-auth admits only the AUTH_HOSTn hosts, each with its secret
# (and controller secret, hash and DH group) on its configfs host entry.
if [ -n "${AUTH_HOST1:-}" ]; then
  auth_nqn=$NQN-auth
  mkdir "$C/subsystems/$auth_nqn"
  echo 0 >"$C/subsystems/$auth_nqn/attr_allow_any_host"
  for n in 1 2 3; do
    eval "host=\${AUTH_HOST$n:-} key=\${AUTH_KEY$n:-} ctrl_key=\${AUTH_CTRL_KEY$n:-} hash=\${AUTH_HASH$n:-} group=\${AUTH_GROUP$n:-}"
    [ -n "$host" ] || continue
    [ -d "$C/hosts/$host/" ] || mkdir "$C/hosts/$host" || fail "configfs host entry $host"
    [ -f "$C/hosts/$host/dhchap_key" ] || fail "this kernel's nvmet has no DH-HMAC-CHAP (dhchap_key)"
    printf '%s' "$key" >"$C/hosts/$host/dhchap_key" || fail "dhchap_key of $host"
    [ -z "$ctrl_key" ] || printf '%s' "$ctrl_key" >"$C/hosts/$host/dhchap_ctrl_key" || fail "dhchap_ctrl_key of $host"
    [ -z "$hash" ] || echo "hmac($hash)" >"$C/hosts/$host/dhchap_hash" || fail "dhchap_hash $hash"
    [ -z "$group" ] || echo "$group" >"$C/hosts/$host/dhchap_dhgroup" || fail "dhchap_dhgroup $group"
    ln -s "$C/hosts/$host" "$C/subsystems/$auth_nqn/allowed_hosts/$host"
  done
  truncate -s 32M /tmp/auth.img
  loop=$(losetup --find --show /tmp/auth.img) || fail "losetup for the authenticated namespace"
  mkdir "$C/subsystems/$auth_nqn/namespaces/1"
  printf '%s' "$loop" >"$C/subsystems/$auth_nqn/namespaces/1/device_path"
  echo 1 >"$C/subsystems/$auth_nqn/namespaces/1/enable" || fail "enabling the authenticated namespace"
  ready="$ready authnqn=$auth_nqn"
fi

# 0.0.0.0, not 127.0.0.1: forwarded connections arrive at the guest's 10.0.2.15.
mkdir "$C/ports/1"
echo tcp >"$C/ports/1/addr_trtype"
echo ipv4 >"$C/ports/1/addr_adrfam"
echo 0.0.0.0 >"$C/ports/1/addr_traddr"
echo "$PORT" >"$C/ports/1/addr_trsvcid"
# Linking the subsystem to the port starts the listener and puts the subsystem in the
# port's discovery log (the discovery subsystem is implicit in nvmet).
ln -s "$C/subsystems/$NQN" "$C/ports/1/subsystems/$NQN"
[ -z "${auth_nqn:-}" ] || ln -s "$C/subsystems/$auth_nqn" "$C/ports/1/subsystems/$auth_nqn"

# The kernel runs with `quiet` and the VM is killed, not powered off, so /init never dumps
# dmesg: stream the kernel's NVMe lines and its errors instead (nvmet logs each controller
# it creates, every keep-alive expiry and every PDU it rejects), prefixed so that they
# cannot be mistaken for a marker. /proc/kmsg starts at boot; the filter drops the noise.
while IFS= read -r line; do
  case $line in
    *nvme*|"<0>"*|"<1>"*|"<2>"*|"<3>"*) echo "kmsg: $line" ;;
  esac
done </proc/kmsg &

# A control port for tests (forwarded from the host's 127.0.0.1 only): each connection takes
# namespace 2 away and brings it back, so nvmet raises Namespace Attribute Changed events.
cat >/toggle-ns2 <<TOGGLE
#!/bin/sh
echo 0 >"$C/subsystems/$NQN/namespaces/2/enable"
sleep 1
echo 1 >"$C/subsystems/$NQN/namespaces/2/enable"
echo toggled
TOGGLE
chmod +x /toggle-ns2
nc -ll -p 5000 -e /toggle-ns2 &

echo "NOVASTOR-TARGET-READY $ready"
sleep "$LIFETIME"
