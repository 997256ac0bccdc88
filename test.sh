#!/usr/bin/env bash
# Runs the whole NovaStor test suite, installing what it needs first:
#   1. apt packages (qemu-system-x86, nvme-cli, fio, ...)   scripts/install-prereqs.sh
#   2. the QEMU guests with Debian's kernels 6.1 and 6.12 (cached) tests/conformance/guest/build-guest.sh
#      and the NativeAOT programs they run (the CSI node plugin) scripts/publish-guest-tools.sh
#   3. formatting check                                        dotnet format --verify-no-changes
#   4. every test project                                      dotnet test NovaStor.sln
#   5. target tests and data-path kernel scenarios again on the native AIO and fallback engines
#   6. coverage-guided fuzzing, 60 s per target (AFL++ via SharpFuzz)  scripts/fuzz.sh --target all
#   7. benchmark smoke runs (BenchmarkDotNet --job dry; engine-vs-fio and end-to-end --quick)  perf/
# A missing prerequisite is a failure, never a skip. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
started=$(date +%s)

scripts/install-prereqs.sh

export NOVASTOR_GUEST_DIR=${NOVASTOR_GUEST_DIR:-$root/.guest-cache}
tests/conformance/guest/build-guest.sh "$NOVASTOR_GUEST_DIR"
# The newer kernel, for what 6.1 lacks (DH-HMAC-CHAP, ublk); the same settings as the tests' NewerGuestImage.
export NOVASTOR_GUEST_612_DIR=${NOVASTOR_GUEST_612_DIR:-$root/.guest-cache-6.12}
NOVASTOR_GUEST_KERNEL_META=linux-image-6.12-amd64 NOVASTOR_GUEST_EXTRA_MODULES=ublk_drv \
  tests/conformance/guest/build-guest.sh "$NOVASTOR_GUEST_612_DIR"

# The programs the guest runs (the CSI node plugin), NativeAOT: tests/conformance/Csi copies them in.
scripts/publish-guest-tools.sh

# Formatting is part of the build's rules (STYLE.md): a change that breaks it fails here.
dotnet format NovaStor.sln --verify-no-changes || { echo "test.sh: run 'dotnet format NovaStor.sln'" >&2; exit 1; }

rm -f artifacts/kernel-host-warnings.log artifacts/fuzz/summary.txt
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test NovaStor.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The same target tests and the data-path kernel scenarios again on the engines Auto picks where
# io_uring is refused (containers with default seccomp profiles, old kernels): Linux native AIO,
# then positional I/O; both with Kestrel's socket transport.
for engine in Aio Fallback; do
  [[ $status -eq 0 ]] || break
  set +e
  NovaStor__Engine=$engine dotnet test tests/Target.Tests -c Release --no-build 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  if [[ $status -eq 0 ]]; then
    NovaStor__Engine=$engine dotnet test tests/conformance -c Release --no-build \
      --filter "DisplayName~fio-verify|DisplayName~discard|DisplayName~restart" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
  fi
  set -e
done

# The fuzzers (the PDU framer and whole target queues, tests/Fuzz) for a minute each, side by side:
# any crash or hang fails the run and lands in tests/Fuzz/regressions/ to be committed.
fuzz_status=0
if [[ $status -eq 0 ]]; then
  scripts/fuzz.sh --target all --seconds 60 2>&1 | tee -a "$log" || fuzz_status=1
  (( fuzz_status == 0 )) || echo "test.sh: the fuzzing run failed or found a crash or hang (above)" >&2
fi

# The benchmarks run in BenchmarkDotNet's shortest job, only to prove they still execute
# (their timings mean nothing here; measured runs are described in perf/README.md).
bench_status=0
if [[ $status -eq 0 ]]; then
  dotnet run -c Release --project perf/Benchmarks -- --filter '*' --job dry 2>&1 | tail -n 40 | tee -a "$log" || bench_status=1
  grep -q "Global total time" "$log" || bench_status=1
  (( bench_status == 0 )) || echo "test.sh: the benchmark smoke run failed" >&2
  # The engine-vs-fio rung on a small file for a second per row: proves it still runs end to
  # end (fio included); its figures come from a measured run (perf/README.md).
  if (( bench_status == 0 )); then
    perf/engine-vs-fio.sh --quick 2>&1 | tail -n 12 | tee -a "$log" || bench_status=1
    (( bench_status == 0 )) || echo "test.sh: the engine-vs-fio smoke run failed" >&2
  fi
  # The end-to-end rung (target process + managed initiator vs fio on the same file), likewise.
  if (( bench_status == 0 )); then
    perf/end-to-end.sh --quick 2>&1 | tail -n 30 | tee -a "$log" || bench_status=1
    (( bench_status == 0 )) || echo "test.sh: the end-to-end smoke run failed" >&2
  fi
fi

# One closing line over all test projects, from each project's totals: the block after
# "Total tests:" (normal verbosity) or the one-line "Passed!/Failed! - Failed: ..." form.
read -r passed failed skipped < <(awk '
  /^Total tests: / { block = 1; next }
  block && /^ +Passed: [0-9]+$/ { p += $2 }
  block && /^ +Failed: [0-9]+$/ { f += $2 }
  block && /^ +Skipped: [0-9]+$/ { s += $2 }
  block && /Total time:/ { block = 0 }
  /(Passed|Failed)! +- +Failed: / {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") f += $(i + 1) + 0
      if ($i == "Passed:") p += $(i + 1) + 0
      if ($i == "Skipped:") s += $(i + 1) + 0
    }
  }
  END { print p + 0, f + 0, s + 0 }' "$log")

if [[ -s artifacts/kernel-host-warnings.log ]]; then
  echo
  echo "Linux host kernel warnings per scenario (artifacts/kernel-host-warnings.log):"
  cat artifacts/kernel-host-warnings.log
fi
if [[ -s artifacts/fuzz/summary.txt ]]; then
  echo
  echo "Fuzzing, 60 s per target (scripts/fuzz.sh; artifacts/fuzz/summary.txt):"
  cat artifacts/fuzz/summary.txt
fi
echo
echo "suite took $(( $(date +%s) - started )) s"
if (( skipped > 0 )); then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
if (( status == 0 && passed == 0 )); then
  echo "test.sh: no test ran" >&2
  exit 1
fi
(( status == 0 )) || exit "$status"
(( bench_status == 0 )) || exit "$bench_status"
exit "$fuzz_status"
