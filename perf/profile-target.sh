#!/usr/bin/env bash
# Where the target's CPU goes under one load: starts the Release target with a memory namespace
# (or a file with --file PATH), drives it with `novastor perf` (the managed initiator), and takes
# `perf stat` (task clock, context switches) and a `perf record` call-graph profile of the target
# process only, with managed frames named (DOTNET_PerfMapEnabled=1; W^X off so perf can map them). See perf/README.md.
#
#   perf/profile-target.sh --rw randread --bs 4k --iodepth 32
#   perf/profile-target.sh --rw write --bs 128k --iodepth 8 --seconds 5 --target --NovaStor:Transport=Sockets
#
# Needs Debian's linux-perf (software events only on these VMs: task-clock, cpu-clock).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rw=randread bs=4k iodepth=32 seconds=5 file="" target_args=()
while (($#)); do
  case "$1" in
    --rw) rw=$2; shift 2 ;;
    --bs) bs=$2; shift 2 ;;
    --iodepth) iodepth=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    --target) target_args+=("$2"); shift 2 ;;
    *) echo "profile-target: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "profile-target: perf is not installed (apt-get install -y linux-perf)" >&2; exit 1; }
dotnet build "$root/src/Target/NovaStor.Target.csproj" -c Release --nologo -v quiet
dotnet build "$root/src/Cli/NovaStor.Cli.csproj" -c Release --nologo -v quiet

work=$(mktemp -d /tmp/novastor-profile.XXXXXX)
port=$(python3 "$root/perf/loopback-port.py")
nqn=nqn.2026-11.io.novastor:profile
if [[ -n $file ]]; then
  namespace=("--NovaStor:Subsystems:0:Namespaces:0:Path=$file")
else
  namespace=("--NovaStor:Subsystems:0:Namespaces:0:Backend=Memory")
fi
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet "$root/src/Target/bin/Release/net10.0/NovaStor.Target.dll" \
  "--NovaStor:Port=$port" "--NovaStor:DataDirectory=$work/data" \
  "--NovaStor:Subsystems:0:Nqn=$nqn" --NovaStor:Subsystems:0:AllowAnyHost=true \
  --NovaStor:Subsystems:0:Namespaces:0:Volume=profile "${namespace[@]}" \
  --NovaStor:Subsystems:0:Namespaces:0:SizeBytes=1073741824 --NovaStor:Subsystems:0:Namespaces:0:BlockSize=4096 \
  --Logging:LogLevel:Default=Warning "${target_args[@]}" >"$work/target.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [[ -n ${KEEP_PROFILE:-} ]] || rm -rf "$work"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done

novastor=("$root/src/Cli/bin/Release/net10.0/novastor" perf -a 127.0.0.1 -s "$port" -n "$nqn" --rw "$rw" --bs "$bs" --iodepth "$iodepth")
# Warm up (tiered JIT), then measure while the load runs: stat first, then the profile.
"${novastor[@]}" --runtime 2 >/dev/null
"${novastor[@]}" --runtime $((2 * seconds + 3)) >"$work/load.txt" &
load=$!
sleep 1
perf stat -e task-clock,context-switches,cpu-migrations -p "$pid" -- sleep "$seconds" 2>"$work/stat.txt"
perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep "$seconds" 2>/dev/null
wait $load
echo "== load ($rw bs=$bs iodepth=$iodepth, ${target_args[*]:-default target settings})"
tail -n 3 "$work/load.txt"
echo "== perf stat of the target"
grep -E "task-clock|context-switches|cpu-migrations|elapsed" "$work/stat.txt"
echo "== where the target's samples are (perf record -g, self time, top symbols)"
perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9]+\.[0-9]+%' | head -n 30
