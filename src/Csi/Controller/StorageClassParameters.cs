using Grpc.Core;

namespace NovaStor.Csi.Controller;

/// <summary>
/// A StorageClass's parameters (CreateVolume's): the LBA size hosts see, and how nodes attach the
/// volume. Unknown keys are refused, so a misspelt parameter is an error, not a silent default.
/// </summary>
internal sealed record StorageClassParameters(uint BlockSize, string? AttachMode)
{
    /// <summary>The LBA size hosts see: 512 or 4096 (default).</summary>
    public const string BlockSizeKey = "blockSize";

    /// <summary>
    /// How a node attaches the volume: <c>kernel</c> (the kernel's NVMe/TCP host) or <c>managed</c>
    /// (the managed initiator as a ublk device); absent, the node's own default decides.
    /// </summary>
    public const string AttachModeKey = "attachMode";

    private const uint DefaultBlockSize = 4096;

    // Keys the Kubernetes sidecars may add to the parameters (PV/PVC names with --extra-create-metadata).
    private const string SidecarPrefix = "csi.storage.k8s.io/";

    /// <exception cref="RpcException">INVALID_ARGUMENT: an unknown key or a value out of range.</exception>
    public static StorageClassParameters Parse(IDictionary<string, string> parameters)
    {
        uint blockSize = DefaultBlockSize;
        string? attachMode = null;
        foreach (var (key, value) in parameters)
        {
            if (key.StartsWith(SidecarPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            switch (key)
            {
                case BlockSizeKey:
                    blockSize = value switch
                    {
                        "512" => 512,
                        "4096" => 4096,
                        _ => throw Refused($"Parameter {BlockSizeKey} '{value}' must be 512 or 4096."),
                    };
                    break;
                case AttachModeKey:
                    attachMode = VolumeContext.IsAttachMode(value)
                        ? value
                        : throw Refused($"Parameter {AttachModeKey} '{value}' must be '{VolumeContext.AttachKernel}' or '{VolumeContext.AttachManaged}'.");
                    break;
                default:
                    throw Refused($"Unknown parameter '{key}'; this driver takes '{BlockSizeKey}' (512 or 4096) and '{AttachModeKey}' ({VolumeContext.AttachKernel} or {VolumeContext.AttachManaged}).");
            }
        }

        return new StorageClassParameters(blockSize, attachMode);
    }

    private static RpcException Refused(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
