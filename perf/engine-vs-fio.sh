#!/usr/bin/env bash
# The engine-vs-fio rung in Release: the block engine and fio (io_uring, O_DIRECT) on the same
# file, side by side. Arguments go to the tool, e.g.
#   perf/engine-vs-fio.sh --repeats 3 --runtime 5 --json artifacts/perf/engine-vs-fio.json
#   perf/engine-vs-fio.sh --quick          # CI smoke: 1 s per run, 1 repeat, 64 MiB file
# See perf/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v fio >/dev/null || { echo "engine-vs-fio: fio is not installed (apt-get install -y fio)" >&2; exit 1; }
dotnet build "$root/perf/EngineVsFio/NovaStor.EngineVsFio.csproj" -c Release --nologo -v quiet
exec dotnet "$root/perf/EngineVsFio/bin/Release/net10.0/NovaStor.EngineVsFio.dll" "$@"
