#!/usr/bin/env bash
# The container rung: the repository's Dockerfile built with podman, run twice side by side on this
# machine's loopback (host network), each on its own data directory:
#   A: --security-opt seccomp=deploy/seccomp-novastor.json          (io_uring allowed)
#   B: --security-opt seccomp=tests/container/seccomp-default-docker.json (Docker 25.0.4+'s default: io_uring refused)
# and the managed initiator's load (novastor perf) against each, rows interleaved A then B, medians.
# Base images are the local ones the container tests make (tests/container/build-bases.sh).
#   perf/container-seccomp.sh [--repeats N] [--runtime S]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
repeats=3
runtime=5
while (( $# )); do
  case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    *) echo "usage: $0 [--repeats N] [--runtime S]" >&2; exit 2 ;;
  esac
done

podman=(podman --runtime runc --cgroup-manager=cgroupfs)
limits=(--ulimit nofile=1024:4096 --ulimit nproc=1024:4096)
cache=${NOVASTOR_CONTAINER_CACHE:-$root/.container-cache}
mapfile -t bases < <("$root/tests/container/build-bases.sh" "$cache" | grep '^localhost/')
sdk=$(printf '%s\n' "${bases[@]}" | grep novastor-sdk:)
runtime_image=$(printf '%s\n' "${bases[@]}" | grep novastor-aspnet:)
tag=localhost/novastor-perf:$$
work=$(mktemp -d /var/tmp/novastor-container-perf-XXXXXX)
cleanup() {
  "${podman[@]}" rm -f "novastor-perf-a-$$" "novastor-perf-b-$$" >/dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the image ($tag)..."
"${podman[@]}" build --format docker --network host "${limits[@]}" -q \
  -v "${NUGET_PACKAGES:-$HOME/.nuget/packages}:/root/.nuget/packages" -v /etc/ssl/certs:/etc/ssl/certs:ro \
  --build-arg "SDK_IMAGE=$sdk" --build-arg "RUNTIME_IMAGE=$runtime_image" \
  -t "$tag" -f "$root/Dockerfile" "$root" >/dev/null

dotnet build "$root/src/Cli" -c Release --nologo -v quiet >/dev/null
cli=(dotnet "$root/src/Cli/bin/Release/net10.0/novastor.dll")
nqn=nqn.2026-11.io.novastor:default

start() { # name port profile
  local data="$work/$1"
  mkdir -p "$data" && chown 1654:1654 "$data"
  "${podman[@]}" run -d --name "$1" --network host "${limits[@]}" --security-opt "seccomp=$3" \
    -v "$data:/var/lib/novastor" -e NOVASTOR_LISTEN_ADDRESS=127.0.0.1 -e "NovaStor__Port=$2" \
    -e NovaStor__ControlPlane__Enabled=false -e NovaStor__Metrics__Enabled=false "$tag" >/dev/null
  for _ in $(seq 60); do
    "${cli[@]}" discover -a 127.0.0.1 -s "$2" --timeout 2 >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  "${podman[@]}" logs "$1" >&2
  echo "container $1 did not start listening" >&2
  return 1
}

a=novastor-perf-a-$$ b=novastor-perf-b-$$
start "$a" 4581 "$root/deploy/seccomp-novastor.json"
start "$b" 4582 "$root/tests/container/seccomp-default-docker.json"
for name in "$a" "$b"; do
  echo "$name: $("${podman[@]}" logs "$name" 2>&1 | grep -o 'Block engine: [^;]*' | head -1); $("${podman[@]}" logs "$name" 2>&1 | grep -o 'NVMe/TCP transport: [^;]*' | head -1)"
done

# Prefill the whole default volume (1 GiB) so reads measure the disk, not holes.
for port in 4581 4582; do
  "${cli[@]}" perf -s $port -n $nqn --rw write --bs 128k --iodepth 8 --runtime 4 --ramp 0 >/dev/null
done

rows=("randwrite 32" "randread 32" "randwrite 1" "randread 1")
for repeat in $(seq "$repeats"); do
  for row in "${rows[@]}"; do
    read -r rw depth <<<"$row"
    for side in a b; do
      name=$([[ $side == a ]] && echo "$a" || echo "$b")
      port=$([[ $side == a ]] && echo 4581 || echo 4582)
      pid=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$name")
      "${cli[@]}" perf -s $port -n $nqn --rw "$rw" --bs 4k --iodepth "$depth" --runtime "$runtime" --ramp 1 \
        --target-pid "$pid" --json "$work/$side-$rw-$depth-$repeat.json" >/dev/null
    done
    echo "[$repeat/$repeats] 4K $rw QD$depth done"
  done
done

python3 - "$work" "$repeats" <<'PY'
import json, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
def load(side, rw, depth, metric):
    values = []
    for r in range(1, repeats + 1):
        d = json.load(open(f"{work}/{side}-{rw}-{depth}-{r}.json"))
        if metric == "cpu":
            values.append(d["target_cpu_s"] * 1e6 / d["ios"])
        else:
            values.append(d[metric])
    return statistics.median(values)
print()
print("| 4 KiB row | A: io_uring allowed, IOPS | B: Docker default seccomp, IOPS | B/A | p50 us A/B | target CPU us/IO A/B |")
print("|---|---:|---:|---:|---:|---:|")
for rw, depth in [("randwrite", 32), ("randread", 32), ("randwrite", 1), ("randread", 1)]:
    ia, ib = load("a", rw, depth, "iops"), load("b", rw, depth, "iops")
    print(f"| {rw} QD{depth} | {ia:,.0f} | {ib:,.0f} | {ib/ia:.2f}x | {load('a', rw, depth, 'lat_p50_us'):.1f}/{load('b', rw, depth, 'lat_p50_us'):.1f} | {load('a', rw, depth, 'cpu'):.1f}/{load('b', rw, depth, 'cpu'):.1f} |")
print(f"\nmedians of {repeats} interleaved runs; client: novastor perf (managed initiator), 1 I/O queue; 2 CPUs shared by client and both containers")
PY
