#!/usr/bin/env bash
# The end-to-end rung: fio on a raw file, then the NovaStor target serving that file over NVMe/TCP
# on loopback with the managed initiator as the client; see perf/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v fio >/dev/null || { echo "end-to-end: fio is not installed (apt-get install -y fio)" >&2; exit 1; }
dotnet build "$root/src/Target/NovaStor.Target.csproj" -c Release --nologo -v quiet
dotnet build "$root/perf/EndToEnd/NovaStor.EndToEnd.csproj" -c Release --nologo -v quiet
exec dotnet "$root/perf/EndToEnd/bin/Release/net10.0/NovaStor.EndToEnd.dll" "$@"
