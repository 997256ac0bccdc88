#!/usr/bin/env bash
# Coverage-guided fuzzing of the target's parsers: SharpFuzz with AFL++ (Debian's afl++).
#
#   scripts/fuzz.sh [--target framer|queue|all] [--seconds N]   fuzz each target N seconds (default all, 60)
#   scripts/fuzz.sh --target framer|queue --replay PATH...       run saved cases once, without AFL, and
#                                                                 print what each does (exception, hang)
#   scripts/fuzz.sh --target framer|queue --stability FILE       run one case 20 times on the instrumented
#                                                                 build: which trace entries vary (AFL's instability)
#
# What it does (tests/Fuzz/README.md says what each target covers):
#   1. builds tests/Fuzz (Release) and copies its output to artifacts/fuzz/bin;
#   2. instruments NovaStor.Protocol and the target's Core and Transport namespaces there with the
#      sharpfuzz tool (SharpFuzz.CommandLine, installed into artifacts/tools on first use);
#   3. runs afl-fuzz per target for N seconds from the committed seeds (tests/Fuzz/corpus/TARGET,
#      with tests/Fuzz/nvme-tcp.dict), output in artifacts/fuzz/TARGET; with --target all the two
#      targets run side by side;
#   4. prints per target: executions, execs/s, corpus, coverage (bitmap and edges), stability,
#      crashes and hangs. Every crash or hang is copied to tests/Fuzz/regressions/TARGET/, replayed
#      once to show its exception, and the script exits 1: commit the file as a regression case
#      (the unit tests replay every file there).
# No prompts, no UI; needs afl-fuzz (scripts/install-prereqs.sh installs afl++) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARPFUZZ_VERSION=2.3.0
# A case bounds itself at 2 s (QueueCase.Limit) and then waits for this timeout, so AFL counts a hang.
AFL_TIMEOUT_MS=3000

target=all
seconds=60
replay=()
stability=
while (( $# > 0 )); do
  case $1 in
    --target) target=${2:?--target needs framer, queue or all}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --replay) shift; replay=("$@"); (( ${#replay[@]} > 0 )) || { echo "fuzz.sh: --replay needs a file or folder" >&2; exit 2; }; break ;;
    --stability) stability=${2:?--stability needs a file}; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $target in
  framer|queue) targets=("$target") ;;
  all) targets=(framer queue) ;;
  *) echo "fuzz.sh: --target must be framer, queue or all" >&2; exit 2 ;;
esac
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds must be a positive number" >&2; exit 2; }

build=tests/Fuzz/bin/Release/net10.0
out=artifacts/fuzz
bin=$out/bin
tools=artifacts/tools

echo "fuzz.sh: building tests/Fuzz (Release)"
dotnet build tests/Fuzz/NovaStor.Fuzz.csproj -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null \
  || { dotnet build tests/Fuzz/NovaStor.Fuzz.csproj -c Release -nologo -v quiet -clp:ErrorsOnly; exit 1; }

if (( ${#replay[@]} > 0 )); then
  [[ $target != all ]] || { echo "fuzz.sh: --replay needs --target framer or queue" >&2; exit 2; }
  # The uninstrumented build: instrumented code needs AFL's shared memory.
  exec dotnet "$build/NovaStor.Fuzz.dll" replay "$target" "${replay[@]}"
fi

command -v afl-fuzz >/dev/null || { echo "fuzz.sh: afl-fuzz not found: apt-get install afl++ (scripts/install-prereqs.sh does)" >&2; exit 1; }

# The instrumentation tool, pinned to the SharpFuzz package's version.
if [[ ! -x $tools/sharpfuzz ]] || ! dotnet tool list --tool-path "$tools" | grep -qi "sharpfuzz.commandline *$SHARPFUZZ_VERSION"; then
  echo "fuzz.sh: installing SharpFuzz.CommandLine $SHARPFUZZ_VERSION into $tools"
  rm -rf "$tools"
  dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$tools" >/dev/null
fi

# Instrument a fresh copy (sharpfuzz rewrites assemblies in place; the build output stays clean
# for the unit tests and --replay). Statistics and hosting code are left out: only what a host's
# bytes drive is traced.
rm -rf "$bin"
mkdir -p "$out"
cp -r "$build" "$bin"
"$tools/sharpfuzz" "$bin/NovaStor.Protocol.dll" >/dev/null
"$tools/sharpfuzz" "$bin/NovaStor.Target.dll" NovaStor.Target.Core NovaStor.Target.Transport >/dev/null

if [[ -n $stability ]]; then
  [[ $target != all ]] || { echo "fuzz.sh: --stability needs --target framer or queue" >&2; exit 2; }
  exec dotnet "$bin/NovaStor.Fuzz.dll" stability "$target" "$stability" 20
fi

export AFL_SKIP_BIN_CHECK=1                    # the target is `dotnet`; the trace map comes from SharpFuzz
export AFL_NO_UI=1                             # plain log lines, no terminal UI
export AFL_NO_AFFINITY=1                       # do not pin to a core: the machine is shared
export AFL_SKIP_CPUFREQ=1                      # no CPU governor check
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 # core_pattern may pipe to a handler; crashes are exceptions here
export AFL_NO_WARN_INSTABILITY=1

run_target() {
  local name=$1
  rm -rf "${out:?}/$name"
  afl-fuzz -V "$seconds" -t "$AFL_TIMEOUT_MS" -m none \
    -i "tests/Fuzz/corpus/$name" -o "$out/$name" -x tests/Fuzz/nvme-tcp.dict \
    -- dotnet "$bin/NovaStor.Fuzz.dll" "$name" >"$out/$name.log" 2>&1
}

echo "fuzz.sh: fuzzing ${targets[*]} for $seconds s each (logs in $out/TARGET.log)"
declare -A pids=()
for name in "${targets[@]}"; do
  run_target "$name" &
  pids[$name]=$!
done

status=0
declare -A failed=()
for name in "${targets[@]}"; do
  if ! wait "${pids[$name]}"; then
    failed[$name]=1
    status=1
  fi
done

stat() { awk -v key="$1" -F' *: *' '$1 == key { print $2 }' "$2"; }

# The table goes to the terminal and to $out/summary.txt (test.sh prints it again at the end).
row() { printf '%-7s %12s %9s %7s %9s %13s %10s %8s %6s\n' "$@" | tee -a "$out/summary.txt"; }
echo
: >"$out/summary.txt"
row target executions "execs/s" corpus coverage "edges found" stability crashes hangs
for name in "${targets[@]}"; do
  stats=$out/$name/default/fuzzer_stats
  if [[ ! -f $stats ]]; then
    printf '%-7s afl-fuzz did not run; the end of %s:\n' "$name" "$out/$name.log" | tee -a "$out/summary.txt"
    tail -n 25 "$out/$name.log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'
    status=1
    continue
  fi
  crashes=$(stat saved_crashes "$stats"); crashes=${crashes:-$(stat unique_crashes "$stats")}
  hangs=$(stat saved_hangs "$stats"); hangs=${hangs:-$(stat unique_hangs "$stats")}
  row "$name" "$(stat execs_done "$stats")" "$(stat execs_per_sec "$stats")" \
    "$(stat corpus_count "$stats")" "$(stat bitmap_cvg "$stats")" "$(stat edges_found "$stats")/$(stat total_edges "$stats")" \
    "$(stat stability "$stats")" "$crashes" "$hangs"
  if [[ -n ${failed[$name]:-} ]]; then
    echo "fuzz.sh: afl-fuzz for $name exited with an error; the end of $out/$name.log:"
    tail -n 25 "$out/$name.log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'
  fi
done

# Every crash and hang becomes a regression case, named by its content so that a rerun finds it again.
found=0
for name in "${targets[@]}"; do
  for kind in crash hang; do
    for file in "$out/$name/default/${kind}s"/id:* "$out/$name/default/${kind}es"/id:*; do
      [[ -e $file ]] || continue
      found=$((found + 1))
      regression="tests/Fuzz/regressions/$name/$kind-$(sha256sum "$file" | cut -c1-16)"
      mkdir -p "tests/Fuzz/regressions/$name"
      cp "$file" "$regression"
      echo
      echo "fuzz.sh: $name found a $kind: saved as $regression"
      dotnet "$build/NovaStor.Fuzz.dll" replay "$name" "$regression" 2>&1 | head -n 40 || true
    done
  done
done

if (( found > 0 )); then
  echo
  echo "fuzz.sh: $found case(s) found. Commit tests/Fuzz/regressions/ as regression cases (the unit tests replay"
  echo "         every file there), reproduce one with: scripts/fuzz.sh --target TARGET --replay FILE"
  status=1
fi
exit "$status"
