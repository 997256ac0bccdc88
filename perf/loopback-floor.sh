#!/usr/bin/env bash
# The loopback floor (perf/README.md): what the kernel's TCP alone costs each side of a 128 KiB
# write on this machine, from a small C server and client (perf/LoopbackFloor/loopback-floor.c),
# rounds alternated with the end-to-end rung's "memory 128K write QD8" row (--rung) so the two
# are measured side by side; medians at the end.
#
#   perf/loopback-floor.sh --rounds 5 --seconds 4 --rung
#
# Needs a C compiler (apt-get install -y gcc) and an x86-64 CPU with AVX2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 seconds=4 rung=0
depth=8 # the rung's 128 KiB write row runs at QD8
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rung) rung=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "loopback-floor: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v cc >/dev/null || { echo "loopback-floor: no C compiler (apt-get install -y gcc)" >&2; exit 1; }
work=$(mktemp -d /tmp/novastor-floor.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -mavx2 -Wall -Wextra -o "$work/loopback-floor" "$root/perf/LoopbackFloor/loopback-floor.c"
if ((rung)); then
  dotnet build "$root/src/Target/NovaStor.Target.csproj" -c Release --nologo -v quiet >/dev/null
  dotnet build "$root/perf/EndToEnd/NovaStor.EndToEnd.csproj" -c Release --nologo -v quiet >/dev/null
fi

# One floor run: the server's median CPU per write over its windows, and the client's figures.
floor_run() { # mode
  local port server_pid
  port=$(python3 "$root/perf/loopback-port.py")
  "$work/loopback-floor" server "$port" "$1" >"$work/server.log" &
  server_pid=$!
  for _ in $(seq 50); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
  "$work/loopback-floor" client "$port" "$depth" "$seconds" >"$work/client.log"
  wait "$server_pid" || true
  # The first window includes the start; the rest are steady.
  python3 - "$work/server.log" "$work/client.log" <<'PY'
import re, statistics, sys
windows = [float(re.search(r"([\d.]+) us CPU", l).group(1)) for l in open(sys.argv[1])][1:]
client = open(sys.argv[2]).read().split()
server = statistics.median(windows) if windows else float("nan")
print(f"{server:.1f} {float(client[1]):.0f} {float(client[3]):.1f}")
PY
}

results=$work/results
: >"$results"
for round in $(seq "$rounds"); do
  for mode in null copy; do
    read -r server iops client < <(floor_run "$mode")
    echo "[$round/$rounds] floor $mode: $iops writes/s, server $server us CPU per write, client $client"
    echo "floor-$mode $server $iops $client" >>"$results"
  done
  if ((rung)); then
    dotnet "$root/perf/EndToEnd/bin/Release/net10.0/NovaStor.EndToEnd.dll" --no-file --only "memory 128K write" \
      --repeats 1 --runtime "$seconds" --ramp 1 --json "$work/rung.json" >"$work/rung.log" 2>&1
    read -r target iops client < <(python3 - "$work/rung.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["rows"][0]["runs"][0]
print(f"{run['target_cpu_us_per_io']:.1f} {run['report']['iops']:.0f} {run['client_cpu_us_per_io']:.1f}")
PY
)
    echo "[$round/$rounds] NovaStor memory 128K write QD8: $iops IOPS, target $target us CPU per write, client $client"
    echo "novastor $target $iops $client" >>"$results"
  fi
done

python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, server, iops, client = line.split()
    rows.setdefault(name, []).append((float(server), float(iops), float(client)))
print("| medians | writes/s | server (target) CPU us per write | client CPU us per write |")
print("|---|---:|---:|---:|")
for name, runs in rows.items():
    print(f"| {name} | {statistics.median(r[1] for r in runs):,.0f} | {statistics.median(r[0] for r in runs):.1f} | {statistics.median(r[2] for r in runs):.1f} |")
PY
