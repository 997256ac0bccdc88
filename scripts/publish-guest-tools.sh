#!/usr/bin/env bash
# Publishes the NovaStor programs that run inside the QEMU test guest, NativeAOT for linux-x64:
# single binaries that need only libc and libm, which the guest's initramfs already carries (see
# ../shared/KERNEL-VM.md, ".NET programs inside the guest"). The conformance tests copy them into
# the guest at boot (run-scenario.sh's NOVASTOR_GUEST_EXTRA_DIR).
#
#   publish-guest-tools.sh [OUTDIR]     (default: artifacts/guest-tools)
#
# Produces OUTDIR/novastor-csi (the CSI driver) and OUTDIR/novastor (the CLI: attach serves a
# namespace as a ublk device). Incremental: a second run with nothing changed takes seconds.
# test.sh runs it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/guest-tools}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# -p:DebugType=none: the guest needs no symbols (the .dbg file would be 40 MB).
dotnet publish src/Csi/NovaStor.Csi.csproj -c Release -r linux-x64 -p:DebugType=none -o "$out" --nologo -v quiet
dotnet publish src/Cli/NovaStor.Cli.csproj -c Release -r linux-x64 -p:PublishAot=true -p:DebugType=none -o "$out" --nologo -v quiet
for tool in novastor-csi novastor; do
  [[ -x $out/$tool ]] || { echo "publish-guest-tools: $out/$tool was not produced" >&2; exit 1; }
  echo "publish-guest-tools: $out/$tool ($(du -h "$out/$tool" | cut -f1))"
done
