using System.Text;

namespace NovaStor.Csi;

/// <summary>What the driver accepts as a host NQN (a node ID): "nqn." and at most NVMe's 223 bytes. The target checks the rest when it admits the host.</summary>
internal static class HostNqn
{
    public const int MaxBytes = 223;

    public static bool IsValid(string? nqn) =>
        nqn is not null && nqn.StartsWith("nqn.", StringComparison.Ordinal) && Encoding.UTF8.GetByteCount(nqn) <= MaxBytes;
}
