#!/usr/bin/env bash
# The end-to-end rung: the NovaStor target as its own process serving a file and a memory
# namespace over NVMe/TCP on loopback, the managed initiator as the client, fio on the same file
# beside the file rows; see perf/README.md (--help lists the options).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
needs_fio=1
for argument in "$@"; do
  [[ $argument == --no-file || $argument == --help || $argument == -h ]] && needs_fio=0
done
if (( needs_fio )); then
  command -v fio >/dev/null || { echo "end-to-end: fio is not installed (apt-get install -y fio); --no-file runs the memory rows without it" >&2; exit 1; }
fi
dotnet build "$root/src/Target/NovaStor.Target.csproj" -c Release --nologo -v quiet
dotnet build "$root/perf/EndToEnd/NovaStor.EndToEnd.csproj" -c Release --nologo -v quiet
exec dotnet "$root/perf/EndToEnd/bin/Release/net10.0/NovaStor.EndToEnd.dll" "$@"
