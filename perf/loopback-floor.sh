#!/usr/bin/env bash
# The loopback floor (perf/README.md): what the kernel's TCP alone costs each side of a 128 KiB
# write on this machine, from a small C server and client (perf/LoopbackFloor/loopback-floor.c)
# and from iperf3 streaming 128 KiB writes (a third party's sender and receiver), rounds
# alternated with the end-to-end rung's "memory 128K write QD8" and "null 128K write QD8" rows
# (--rung) so they are measured side by side; medians at the end.
#
#   perf/loopback-floor.sh --rounds 5 --seconds 4 --rung
#
# Needs a C compiler (apt-get install -y gcc), iperf3 (apt-get install -y iperf3) and an x86-64
# CPU with AVX2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 seconds=4 rung=0
depth=8 # the rung's 128 KiB write row runs at QD8
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rung) rung=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "loopback-floor: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v cc >/dev/null || { echo "loopback-floor: no C compiler (apt-get install -y gcc)" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "loopback-floor: no iperf3 (apt-get install -y iperf3)" >&2; exit 1; }
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
  # A client that fails leaves the server waiting for it: stop the server too.
  "$work/loopback-floor" client "$port" "$depth" "$seconds" >"$work/client.log" || { kill "$server_pid" 2>/dev/null; return 1; }
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

# One iperf3 run: a blocking sender streaming 128 KiB writes as fast as it can, no responses. CPU
# per write from iperf3's own accounting (getrusage of each side) over the bytes sent.
iperf3_run() {
  local port server_pid
  port=$(python3 "$root/perf/loopback-port.py")
  iperf3 --server --bind 127.0.0.1 --port "$port" --one-off >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
  iperf3 --client 127.0.0.1 --port "$port" --length 128K --time "$seconds" --json >"$work/iperf3.json" \
    || { kill "$server_pid" 2>/dev/null; return 1; }
  wait "$server_pid" || true
  python3 - "$work/iperf3.json" <<'PY'
import json, sys
end = json.load(open(sys.argv[1]))["end"]
seconds, writes = end["sum_sent"]["seconds"], end["sum_sent"]["bytes"] / 131072
cpu = end["cpu_utilization_percent"]
per_write = lambda percent: percent / 100 * seconds * 1e6 / writes
print(f"{per_write(cpu['remote_total']):.1f} {writes / seconds:.0f} {per_write(cpu['host_total']):.1f}")
PY
}

results=$work/results
: >"$results"
for round in $(seq "$rounds"); do
  for mode in null copy; do
    read -r server iops client < <(floor_run "$mode") || { echo "loopback-floor: the C floor's $mode run failed" >&2; exit 1; }
    echo "[$round/$rounds] floor $mode: $iops writes/s, server $server us CPU per write, client $client"
    echo "floor-$mode $server $iops $client" >>"$results"
  done
  read -r server iops client < <(iperf3_run) || { echo "loopback-floor: the iperf3 run failed" >&2; exit 1; }
  echo "[$round/$rounds] iperf3: $iops writes/s, receiver $server us CPU per write, sender $client"
  echo "iperf3 $server $iops $client" >>"$results"
  if ((rung)); then
    dotnet "$root/perf/EndToEnd/bin/Release/net10.0/NovaStor.EndToEnd.dll" --no-file --only "128K write" \
      --repeats 1 --runtime "$seconds" --ramp 1 --json "$work/rung.json" >"$work/rung.log" 2>&1
    python3 - "$work/rung.json" <<'PY' | while read -r backend target iops client; do
import json, sys
for row in json.load(open(sys.argv[1]))["rows"]:
    run = row["runs"][0]
    print(f"{row['backend']} {run['target_cpu_us_per_io']:.1f} {run['report']['iops']:.0f} {run['client_cpu_us_per_io']:.1f}")
PY
      echo "[$round/$rounds] NovaStor $backend 128K write QD8: $iops IOPS, target $target us CPU per write, client $client"
      echo "novastor-$backend $target $iops $client" >>"$results"
    done
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
