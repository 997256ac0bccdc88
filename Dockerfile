# NovaStor: the NVMe/TCP target (ENTRYPOINT) and the novastor CLI, in one image.
#
#   docker build -t novastor .
#   docker run -d --name novastor --network host -v novastor-data:/var/lib/novastor novastor
#
# See README.md, "Running in a container", for ports, volumes, privileges and io_uring.
#
# Base images are build arguments, so that the same file builds with local images where no
# registry is reachable (the tests pass images made by tests/container/build-bases.sh).
#
# Runtime base: aspnet:10.0 with a framework-dependent publish, rather than runtime-deps:10.0 with
# a self-contained one. Measured with local stand-ins of both bases (Debian 12 minbase; README,
# "Running in a container"): 247 MB against 245 MB, and 0.6-0.7 s from `run` to a listening
# target for both. A self-contained publish copies in the same ASP.NET Core shared framework the
# aspnet image has, so it saves nothing untrimmed (trimming was not tried: the host's
# configuration binding and gRPC would first have to be made trim-safe). Framework-dependent, the target and the CLI keep folders of
# their own over one runtime (one self-contained folder for both would let one app's copy of a
# shared assembly overwrite the other's), a runtime fix is a rebuild of the last stage on a newer
# aspnet image, and nodes running other .NET services share its layers.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /src
# Restore from the project files alone: this layer is reused until a project or a package
# version changes. (The publish below restores again if a project was added meanwhile.)
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Protocol/NovaStor.Protocol.csproj src/Protocol/
COPY src/BlockEngine/NovaStor.BlockEngine.csproj src/BlockEngine/
COPY src/ControlPlane.Contracts/NovaStor.ControlPlane.Contracts.csproj src/ControlPlane.Contracts/
COPY src/Initiator/NovaStor.Initiator.csproj src/Initiator/
COPY src/Target/NovaStor.Target.csproj src/Target/
COPY src/Cli/NovaStor.Cli.csproj src/Cli/
COPY src/Ublk/NovaStor.Ublk.csproj src/Ublk/
COPY src/Csi/NovaStor.Csi.csproj src/Csi/
COPY perf/Load/NovaStor.Load.csproj perf/Load/
# No runtime identifier: a framework-dependent publish is portable, so the same file builds the
# amd64 and arm64 images (the SDK stage runs on the platform being built; its apphost matches).
RUN dotnet restore src/Target/NovaStor.Target.csproj \
 && dotnet restore src/Cli/NovaStor.Cli.csproj \
 && dotnet restore src/Csi/NovaStor.Csi.csproj
COPY src/ src/
COPY perf/Load/ perf/Load/
RUN dotnet publish src/Target/NovaStor.Target.csproj -c Release --no-self-contained -o /out/target \
 && dotnet publish src/Cli/NovaStor.Cli.csproj -c Release --no-self-contained -o /out/cli \
 && mkdir -p /out/var/lib/novastor /out/etc/novastor
# The CSI driver framework-dependent like the others (NativeAOT would need a C toolchain in the SDK
# stage; scripts/publish-guest-tools.sh makes the AOT binary for machines without .NET).
RUN dotnet publish src/Csi/NovaStor.Csi.csproj -c Release --no-self-contained -p:PublishAot=false -o /out/csi

# The CSI driver (deploy/csi): docker build --target csi -t novastor-csi .
# Controller and node plugin in one image. The node plugin runs the node's tools from here: nvme-cli,
# util-linux and mount (blkid, mount, umount), e2fsprogs (mkfs.ext4, resize2fs) and xfsprogs
# (mkfs.xfs, xfs_growfs); the kernel's nvme-tcp module is the node's. The controller runs as the
# image's user; the node DaemonSet runs it privileged as root (mounts, nvme connect).
FROM ${RUNTIME_IMAGE} AS csi
RUN apt-get update \
 && apt-get install -y --no-install-recommends nvme-cli util-linux mount e2fsprogs xfsprogs \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/csi /app/csi
USER 1654:1654
ENTRYPOINT ["/app/csi/novastor-csi"]

# The target (the default: the last stage).
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/target /app/target
COPY --from=build /out/cli /app/cli
# The data directory belongs to the non-root user (uid 1654, 'app' in the official images); the
# configuration folder is read-only for it. No RUN here: the stage needs no shell to build.
COPY --from=build --chown=1654:1654 /out/var/lib/novastor /var/lib/novastor
COPY --from=build /out/etc/novastor /etc/novastor

# The image listens for NVMe/TCP on every address (NOVASTOR_LISTEN_ADDRESS is beneath every
# configuration source: NovaStor:ListenAddress set anywhere wins); the control plane (9500) and
# the metrics endpoint (9100) stay on loopback unless configured. NOVASTOR_DATA points the CLI
# (docker exec ... novastor volume list) at the same data directory and its development
# certificates. appsettings.json is read from the working directory: mount one at
# /etc/novastor/appsettings.json.
ENV NOVASTOR_LISTEN_ADDRESS=0.0.0.0 \
    NovaStor__DataDirectory=/var/lib/novastor \
    NOVASTOR_DATA=/var/lib/novastor \
    PATH=/app/cli:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /etc/novastor
VOLUME /var/lib/novastor
# NVMe/TCP, gRPC control plane, Prometheus metrics.
EXPOSE 4420 9500 9100
# File-backed volumes need no privilege. Block devices: see README (device mounts, a group that
# may open them, or --user 0; never --privileged for that alone).
USER 1654:1654

# Asks the target itself: the discovery log over its own NVMe/TCP listener. NOVASTOR_HEALTH_ADDRESS
# (default 127.0.0.1) and NovaStor__Port (default 4420) say where; a target told to listen on one
# address other than loopback or the wildcard needs NOVASTOR_HEALTH_ADDRESS set to it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/bin/sh", "-c", "exec /app/cli/novastor discover -a \"${NOVASTOR_HEALTH_ADDRESS:-127.0.0.1}\" -s \"${NovaStor__Port:-4420}\" --timeout 5"]

ENTRYPOINT ["/app/target/NovaStor.Target"]
