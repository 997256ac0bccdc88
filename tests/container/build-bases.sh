#!/usr/bin/env bash
# Local stand-ins for the official .NET base images, for building the repository's Dockerfile
# with podman where no image registry is reachable (CI, these machines):
#
#   localhost/novastor-base:bookworm   Debian 12 minbase + ca-certificates, libssl3 and the user
#                                      'app' (uid/gid 1654), as runtime-deps:10.0 has them
#   localhost/novastor-aspnet:10.0     the base + this machine's .NET shared runtime
#                                      (Microsoft.NETCore.App, Microsoft.AspNetCore.App) in
#                                      /usr/share/dotnet, as aspnet:10.0 has it
#   localhost/novastor-sdk:10.0        the base + this machine's whole .NET SDK, as sdk:10.0
#
#   build-bases.sh CACHE_DIR
#
# The Debian root file system (debootstrap --variant=minbase, about 30 s) is kept as a tarball
# in CACHE_DIR and each image carries a label with the hash of what it was made from: a second
# run only checks (about 1 s); a changed script, SDK or runtime rebuilds what changed. On a fresh
# machine everything is made again. Prints the three image names on success.
# Needs root, podman, runc and debootstrap (scripts/install-prereqs.sh).
set -euo pipefail

die() { echo "build-bases: ERROR: $*" >&2; exit 1; }
log() { echo "build-bases: $*" >&2; }

(($# == 1)) || die "usage: $0 CACHE_DIR"
CACHE=$1
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
[[ $(id -u) -eq 0 ]] || die "must run as root (podman import and debootstrap)"
for c in podman runc debootstrap sha256sum tar flock; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null || die "'$c' not found; run scripts/install-prereqs.sh as root"
done
export PATH="$PATH:/usr/sbin:/sbin"

# Podman as CONTAINERS.md says: runc (crun refuses hybrid cgroups), cgroupfs, ulimits within the
# machine's hard limits (no CAP_SYS_RESOURCE to raise them).
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
LIMITS=(--ulimit nofile=1024:4096 --ulimit nproc=1024:4096)

DOTNET=$(readlink -f "$(command -v dotnet)") || die "dotnet not found"
DOTNET_DIR=$(dirname "$DOTNET")
[[ -d $DOTNET_DIR/shared/Microsoft.AspNetCore.App && -d $DOTNET_DIR/sdk ]] \
  || die "$DOTNET_DIR has no shared/Microsoft.AspNetCore.App or sdk: not a .NET SDK installation"

SUITE=bookworm
MIRROR=${NOVASTOR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
INCLUDE=ca-certificates,libssl3
# What the root file system is made from: change it (or the steps below that use it) to rebuild.
rootfs_recipe=$(echo "v1 $SUITE minbase $INCLUDE app:1654" | sha256sum | cut -c1-16)

# One build at a time per cache (two test runs at once would import the same image twice).
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "timed out waiting for another build in $CACHE"

# The image a rebuild replaces is removed once nothing uses it (the store keeps no stale copies).
id_of() { "${PODMAN[@]}" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
stale=()
label_of() { "${PODMAN[@]}" image inspect --format '{{ index .Labels "io.novastor.recipe" }}' "$1" 2>/dev/null || true; }

# ---- localhost/novastor-base:bookworm, from the Debian root file system (a cached tarball) ---
# The image's label names the recipe: an image made from the same recipe is kept, even by a fresh
# clone whose cache folder is empty (the tarball is needed only to make the image).
BASE=localhost/novastor-base:$SUITE
base_recipe=$rootfs_recipe
rootfs_tar=$CACHE/rootfs-$SUITE-minbase-$rootfs_recipe.tar
if [[ $(label_of "$BASE") != "$base_recipe" ]]; then
  if [[ ! -s $rootfs_tar ]]; then
    log "debootstrap --variant=minbase $SUITE (cached afterwards in $rootfs_tar)"
    work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
      || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    # The non-root user of the official .NET images (APP_UID 1654), so that the same USER works.
    chroot "$work/root" groupadd --gid 1654 app
    chroot "$work/root" useradd --no-log-init --uid 1654 --gid 1654 --create-home app
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* "$work/root/var/log/"*
    tar --numeric-owner -C "$work/root" -cf "$work/rootfs.tar" .
    rm -f "$CACHE"/rootfs-$SUITE-minbase-*.tar
    mv "$work/rootfs.tar" "$rootfs_tar"
    rm -rf "$work"
    trap - EXIT
  fi
  log "podman import $BASE"
  stale+=("$(id_of "$BASE")")
  "${PODMAN[@]}" import --quiet \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV APP_UID=1654" \
    --change "ENV DOTNET_RUNNING_IN_CONTAINER=true" \
    --change "LABEL io.novastor.recipe=$base_recipe" \
    "$rootfs_tar" "$BASE" >/dev/null
fi

# ---- images with this machine's .NET: copied in from a read-only bind mount ----------------
# $1 image, $2 recipe, $3 shell commands run in the build with the .NET folder at /mnt/dotnet.
dotnet_image() {
  local image=$1 recipe=$2 copy=$3
  recipe=$recipe-$(echo "$copy" | sha256sum | cut -c1-8)
  [[ $(label_of "$image") == "$recipe" ]] && return 0
  log "building $image from $DOTNET_DIR"
  stale+=("$(id_of "$image")")
  local context
  context=$(mktemp -d "$CACHE/context.XXXXXX")
  cat >"$context/Containerfile" <<EOF
FROM $BASE
RUN $copy && ln -sf /usr/share/dotnet/dotnet /usr/bin/dotnet
ENV DOTNET_ROOT=/usr/share/dotnet DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true
LABEL io.novastor.recipe=$recipe
EOF
  "${PODMAN[@]}" build --quiet "${LIMITS[@]}" --network none -v "$DOTNET_DIR:/mnt/dotnet:ro" \
    -t "$image" -f "$context/Containerfile" "$context" >/dev/null \
    || { rm -rf "$context"; die "podman build of $image failed"; }
  rm -rf "$context"
}

runtime_version=$(ls "$DOTNET_DIR/shared/Microsoft.AspNetCore.App" | sort -V | tail -n1)
sdk_version=$("$DOTNET" --version)
ASPNET=localhost/novastor-aspnet:10.0
SDK=localhost/novastor-sdk:10.0
dotnet_image "$ASPNET" "$(id_of "$BASE" | cut -c1-12)-$runtime_version" \
  "mkdir -p /usr/share/dotnet && cp -a /mnt/dotnet/dotnet /mnt/dotnet/host /mnt/dotnet/shared /mnt/dotnet/LICENSE.txt /usr/share/dotnet/"
dotnet_image "$SDK" "$(id_of "$BASE" | cut -c1-12)-$sdk_version-$runtime_version" \
  "cp -a /mnt/dotnet /usr/share/dotnet"

# Derived images first, then the old base they were made from.
for ((i = ${#stale[@]} - 1; i >= 0; i--)); do
  [[ -n ${stale[i]} ]] && "${PODMAN[@]}" rmi "${stale[i]}" >/dev/null 2>&1 || true
done

echo "$BASE"
echo "$ASPNET"
echo "$SDK"
