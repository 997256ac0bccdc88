#!/usr/bin/env bash
# The disk loop floor (perf/README.md): what a one-thread C block server over loopback TCP
# (perf/LoopbackFloor/disk-loop-floor.c) reaches on the rung's 4 KiB QD32 file rows, beside fio on
# the same file and the NovaStor target driven by `novastor perf`, rounds alternated; medians and
# each one's ratio to fio in its round at the end.
#
#   perf/disk-loop-floor.sh --rounds 5 --seconds 4 [--depth 32] [--queues 1] [--poll-us 0] [--dir /var/tmp]
#       [--target ARG]... [--client ARG]...   (extra arguments for the target, for `novastor perf`)
#       [--floor-server-send batch|each] [--floor-client-send batch|each]
#                                             (the floor's sends: once per pass, or one per message)
# --queues N spreads NovaStor's depth over N I/O queues (depth / N each); the floor keeps one connection.
#
# Needs a C compiler and liburing (apt-get install -y gcc liburing-dev) and fio. The test file
# (1 GiB, prefilled) goes in a new directory under --dir, which must not be tmpfs (O_DIRECT).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 seconds=4 depth=32 queues=1 poll_us=0 base=/var/tmp target_args=() client_args=()
server_send=batch client_send=batch
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --queues) queues=$2; shift 2 ;;
    --poll-us) poll_us=$2; shift 2 ;;
    --dir) base=$2; shift 2 ;;
    --target) target_args+=("$2"); shift 2 ;;
    --client) client_args+=("$2"); shift 2 ;;
    --floor-server-send) server_send=$2; shift 2 ;;
    --floor-client-send) client_send=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "disk-loop-floor: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v cc >/dev/null || { echo "disk-loop-floor: no C compiler (apt-get install -y gcc)" >&2; exit 1; }
[[ -f /usr/include/liburing.h ]] || { echo "disk-loop-floor: no liburing (apt-get install -y liburing-dev)" >&2; exit 1; }
command -v fio >/dev/null || { echo "disk-loop-floor: no fio (apt-get install -y fio)" >&2; exit 1; }
work=$(mktemp -d "$base/novastor-disk-floor.XXXXXX")
[[ $(stat -f -c %T "$work") != tmpfs ]] || { echo "disk-loop-floor: $base is tmpfs; O_DIRECT needs a disk (--dir)" >&2; rm -rf "$work"; exit 2; }
target_pid=""
trap '[[ -z $target_pid ]] || { kill "$target_pid" 2>/dev/null; wait "$target_pid" 2>/dev/null; }; rm -rf "$work"' EXIT
cc -O2 -Wall -Wextra -o "$work/disk-loop-floor" "$root/perf/LoopbackFloor/disk-loop-floor.c" -luring
dotnet build "$root/src/Target/NovaStor.Target.csproj" -c Release --nologo -v quiet >/dev/null
dotnet build "$root/src/Cli/NovaStor.Cli.csproj" -c Release --nologo -v quiet >/dev/null

file=$work/file size=$((1 << 30))
fio --name=fill --filename="$file" --size="$size" --rw=write --bs=1M --iodepth=8 --ioengine=io_uring \
  --direct=1 --end_fsync=1 >/dev/null

wait_for_port() {
  for _ in $(seq 100); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.1; done
  return 1
}

# The NovaStor target on the same file, started once; `novastor perf` drives it like the rung's client.
port=$(python3 "$root/perf/loopback-port.py") nqn=nqn.2026-11.io.novastor:disk-floor
dotnet "$root/src/Target/bin/Release/net10.0/NovaStor.Target.dll" "--NovaStor:Port=$port" \
  "--NovaStor:DataDirectory=$work/data" "--NovaStor:Subsystems:0:Nqn=$nqn" --NovaStor:Subsystems:0:AllowAnyHost=true \
  --NovaStor:Subsystems:0:Namespaces:0:Volume=floor "--NovaStor:Subsystems:0:Namespaces:0:Path=$file" \
  "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=$size" --NovaStor:Subsystems:0:Namespaces:0:BlockSize=4096 \
  --Logging:LogLevel:Default=Warning "${target_args[@]}" >"$work/target.log" 2>&1 &
target_pid=$!
wait_for_port "$port" || { echo "disk-loop-floor: the target did not start:" >&2; cat "$work/target.log" >&2; exit 1; }
novastor=("$root/src/Cli/bin/Release/net10.0/novastor" perf -a 127.0.0.1 -s "$port" -n "$nqn" --bs 4k
  --nr-io-queues "$queues" --iodepth $((depth / queues)) --ramp 1 --target-pid "$target_pid" "${client_args[@]}")
"${novastor[@]}" --rw randread --runtime 2 >/dev/null # tiered JIT warm-up

fio_run() { # read|write -> "iops"
  fio --name=floor --filename="$file" --size="$size" --ioengine=io_uring --direct=1 --bs=4k --iodepth="$depth" \
    --rw="rand$1" --runtime="${seconds}s" --ramp_time=1s --time_based --numjobs=1 --randrepeat=0 --norandommap \
    --output-format=json | python3 -c 'import json, sys
job = json.load(sys.stdin)["jobs"][0]
print(round(job["read"]["iops"] + job["write"]["iops"]))'
}

floor_run() { # read|write -> "iops server_cpu client_cpu"
  local floor_port server_pid client
  floor_port=$(python3 "$root/perf/loopback-port.py")
  "$work/disk-loop-floor" server "$floor_port" "$file" "$poll_us" "$server_send" >"$work/server.log" &
  server_pid=$!
  wait_for_port "$floor_port" || { kill "$server_pid" 2>/dev/null; return 1; }
  client=$("$work/disk-loop-floor" client "$floor_port" "$size" "$1" "$depth" "$seconds" 1 "$client_send") \
    || { kill "$server_pid" 2>/dev/null; return 1; }
  wait "$server_pid"
  # client: "iops N cpu_us_per_io C"; server: "... R requests in S s, U us CPU per request"
  echo "$(echo "$client" | awk '{print $2}') $(awk '{print $6}' "$work/server.log") $(echo "$client" | awk '{print $4}')"
}

novastor_run() { # read|write -> "iops target_cpu client_cpu"
  "${novastor[@]}" --rw "rand$1" --runtime "$seconds" --json "$work/novastor.json" >/dev/null
  python3 - "$work/novastor.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['iops']:.0f} {r['target_cpu_s'] * 1e6 / r['ios']:.2f} {r['client_cpu_s'] * 1e6 / r['ios']:.2f}")
PY
}

results=$work/results
: >"$results"
for round in $(seq "$rounds"); do
  for rw in write read; do
    fio_iops=$(fio_run "$rw")
    # Who runs right after fio alternates by round.
    if ((round % 2)); then order=(floor novastor); else order=(novastor floor); fi
    for who in "${order[@]}"; do
      read -r iops server client < <("${who}_run" "$rw") || { echo "disk-loop-floor: the $who run failed" >&2; exit 1; }
      echo "[$round/$rounds] 4K rand$rw QD$depth: fio $fio_iops, $who $iops IOPS ($((100 * iops / fio_iops)) %), server $server us CPU/IO, client $client"
      echo "$rw $who $fio_iops $iops $server $client" >>"$results"
    done
  done
done

python3 - "$results" "$depth" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rw, who, fio, iops, server, client = line.split()
    rows.setdefault((rw, who), []).append((float(fio), float(iops), float(server), float(client)))
print(f"| 4 KiB QD{sys.argv[2]}, medians | fio IOPS | IOPS | vs fio (median of rounds) | server CPU us/IO | client CPU us/IO |")
print("|---|---:|---:|---:|---:|---:|")
names = {"floor": "C floor", "novastor": "NovaStor target + novastor perf"}
for (rw, who), runs in rows.items():
    median = lambda index: statistics.median(r[index] for r in runs)
    ratio = statistics.median(r[1] / r[0] for r in runs)
    print(f"| rand{rw}, {names[who]} | {median(0):,.0f} | {median(1):,.0f} | {100 * ratio:.0f} % | {median(2):.1f} | {median(3):.1f} |")
PY
