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

# 0.0.0.0, not 127.0.0.1: forwarded connections arrive at the guest's 10.0.2.15.
mkdir "$C/ports/1"
echo tcp >"$C/ports/1/addr_trtype"
echo ipv4 >"$C/ports/1/addr_adrfam"
echo 0.0.0.0 >"$C/ports/1/addr_traddr"
echo "$PORT" >"$C/ports/1/addr_trsvcid"
# Linking the subsystem to the port starts the listener and puts the subsystem in the
# port's discovery log (the discovery subsystem is implicit in nvmet).
ln -s "$C/subsystems/$NQN" "$C/ports/1/subsystems/$NQN"

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
