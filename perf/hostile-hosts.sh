#!/usr/bin/env bash
# Hostile hosts against a target process on loopback, with its resident memory (VmRSS) before,
# during and after: a storm of connections, and slow readers (queues full of 128 KiB reads whose
# host never reads its socket). A measurement, not a test: see perf/README.md.
#
#   perf/hostile-hosts.sh [connections|slow-readers] [--count N] [--queues N] [--rounds N] [-- TARGET_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-connections}
shift || true
tool_args=()
target_args=()
while (($#)); do
  case $1 in
    --) shift; target_args=("$@"); break ;;
    *) tool_args+=("$1"); shift ;;
  esac
done

dotnet build -c Release src/Target >/dev/null && dotnet build -c Release perf/HostileHosts >/dev/null
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
data=$(mktemp -d /tmp/novastor-hostile.XXXXXX)
port=$(python3 perf/loopback-port.py)
dotnet src/Target/bin/Release/net10.0/NovaStor.Target.dll --NovaStor:Port="$port" --NovaStor:DataDirectory="$data" \
  --NovaStor:ControlPlane:Enabled=false --NovaStor:Metrics:Enabled=false --Logging:LogLevel:Default=Warning \
  "${target_args[@]}" >"$data/target.log" 2>&1 &
target=$!
trap 'kill $target 2>/dev/null; wait $target 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done
sleep 2
dotnet perf/HostileHosts/bin/Release/net10.0/NovaStor.HostileHosts.dll "$mode" --port "$port" --pid "$target" "${tool_args[@]}"
echo "target log lines: $(wc -l <"$data/target.log"); warnings about refusals:"
grep -c "closed at accept\|Controller Busy" "$data/target.log" || true
