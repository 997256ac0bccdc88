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
# DH-HMAC-CHAP (a kernel with NVME_TARGET_AUTH, 6.12): NOVASTOR_TARGET_AUTH_HOSTn (a host NQN),
# NOVASTOR_TARGET_AUTH_KEYn, optional NOVASTOR_TARGET_AUTH_CTRL_KEYn (DHHC-1 secrets),
# NOVASTOR_TARGET_AUTH_HASHn (sha256|sha384|sha512) and NOVASTOR_TARGET_AUTH_GROUPn (null|ffdheN),
# for n = 1, 2, 3: nvmet then also serves NQN-auth, which admits only those hosts.
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

for n in 1 2 3; do
  host_var=NOVASTOR_TARGET_AUTH_HOST$n
  [[ -z ${!host_var:-} ]] && continue
  [[ ${!host_var} =~ ^nqn\.[A-Za-z0-9.:_-]+$ ]] || die "bad $host_var"
  settings+=("AUTH_HOST$n=${!host_var}")
  for part in KEY CTRL_KEY; do
    var=NOVASTOR_TARGET_AUTH_$part$n
    [[ -z ${!var:-} ]] && continue
    [[ ${!var} =~ ^DHHC-1:0[0-3]:[A-Za-z0-9+/=]+:$ ]] || die "$var is not a DHHC-1 secret"
    settings+=("AUTH_$part$n=${!var}")
  done
  var=NOVASTOR_TARGET_AUTH_HASH$n
  if [[ -n ${!var:-} ]]; then
    [[ ${!var} =~ ^sha(256|384|512)$ ]] || die "bad $var"
    settings+=("AUTH_HASH$n=${!var}")
  fi
  var=NOVASTOR_TARGET_AUTH_GROUP$n
  if [[ -n ${!var:-} ]]; then
    [[ ${!var} =~ ^(null|ffdhe(2048|3072|4096|6144|8192))$ ]] || die "bad $var"
    settings+=("AUTH_GROUP$n=${!var}")
  fi
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
