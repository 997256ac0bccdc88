#!/usr/bin/env bash
# Boot the guest as a Linux kernel NVMe/TCP target (nvmet-tcp), reachable from the host
# at 127.0.0.1:HOSTPORT only (QEMU user networking hostfwd to the guest's port 4420).
#
#   run-target.sh OUTDIR HOSTPORT [LIFETIME_SECONDS]
#
# Runs scenarios/nvmet-target.sh through run-scenario.sh with restrict=on (the guest
# cannot open connections to the host or anywhere else; hostfwd still works). The
# console streams to stdout; the line
#   NOVASTOR-TARGET-READY nqn=NQN port=4420 ns=NSID:LBA_BYTES:BLOCKS ...
# says the target is listening. Stop it with SIGTERM (run-scenario.sh then stops QEMU
# and removes its temporary files); otherwise the guest ends by itself after
# LIFETIME_SECONDS (default 900).
#
# Environment (optional): NOVASTOR_TARGET_NQN, NOVASTOR_TARGET_NS1_BLOCK (512),
# NOVASTOR_TARGET_NS1_MIB (64), NOVASTOR_TARGET_NS2_BLOCK (4096), NOVASTOR_TARGET_NS2_MIB (64).
set -euo pipefail

die() { echo "run-target: ERROR: $*" >&2; exit 2; }

(($# >= 2 && $# <= 3)) || die "usage: $0 OUTDIR HOSTPORT [LIFETIME_SECONDS]"
OUTDIR=$1
HOSTPORT=$2
LIFETIME=${3:-900}
if ! [[ $HOSTPORT =~ ^[0-9]+$ ]] || ((HOSTPORT < 1 || HOSTPORT > 65535)); then
  die "bad HOSTPORT '$HOSTPORT'"
fi
[[ $LIFETIME =~ ^[1-9][0-9]*$ ]] || die "LIFETIME_SECONDS must be a positive integer, got '$LIFETIME'"
nqn=${NOVASTOR_TARGET_NQN:-nqn.2014-08.io.novastor:kernel-target}
[[ $nqn =~ ^nqn\.[A-Za-z0-9.:_-]+$ ]] || die "bad NQN '$nqn'"
settings=()
for name in NS1_BLOCK NS1_MIB NS2_BLOCK NS2_MIB; do
  var=NOVASTOR_TARGET_$name
  value=${!var:-}
  [[ -z $value ]] && continue
  [[ $value =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '$value'"
  settings+=("$name=$value")
done

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scenario=$(mktemp "${TMPDIR:-/tmp}/novastor-target.XXXXXX.sh")
trap 'rm -f "$scenario"' EXIT
{
  echo '#!/bin/sh'
  echo "NQN=$nqn"
  echo "LIFETIME=$LIFETIME"
  for s in "${settings[@]}"; do echo "$s"; done
  cat "$SCRIPT_DIR/scenarios/nvmet-target.sh"
} >"$scenario"

# Not exec: the EXIT trap must remove the scenario file. run-scenario.sh gets the TERM
# through the trap below and stops QEMU itself.
child=""
trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 143' TERM INT
# The control port (guest 5000: toggles namespace 2, see nvmet-target.sh) when asked for.
forwards=$HOSTPORT:4420
if [[ -n ${NOVASTOR_TARGET_CONTROL_PORT:-} ]]; then
  [[ $NOVASTOR_TARGET_CONTROL_PORT =~ ^[0-9]+$ ]] || die "bad NOVASTOR_TARGET_CONTROL_PORT"
  forwards+=,$NOVASTOR_TARGET_CONTROL_PORT:5000
fi
NOVASTOR_GUEST_HOSTFWD=$forwards NOVASTOR_GUEST_RESTRICT=1 \
  "$SCRIPT_DIR/run-scenario.sh" "$OUTDIR" "$scenario" $((LIFETIME + 60)) &
child=$!
rc=0
wait "$child" || rc=$?
exit "$rc"
