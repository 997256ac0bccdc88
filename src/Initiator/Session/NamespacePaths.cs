using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>
/// Where one namespace's I/O may go, by ANA: the paths where its group is optimized, then those
/// where it is non-optimized; paths where it is inaccessible, in persistent loss or in transition
/// are in neither. Built by the controller whenever a path's namespaces or ANA states change and
/// swapped into the namespace whole, so choosing a path is a few loads and no lock.
/// </summary>
internal sealed class NamespacePaths
{
    private readonly NvmePath[] _optimized;
    private readonly NvmePath[] _nonOptimized;

    // Round robin among several optimized (or non-optimized) paths; a racy increment only picks
    // another path, so it is not interlocked.
    private uint _cursor;

    public NamespacePaths(NvmePath[] optimized, NvmePath[] nonOptimized, NvmePath[] members, NvmeStatus unusableStatus)
    {
        _optimized = optimized;
        _nonOptimized = nonOptimized;
        Members = members;
        UnusableStatus = unusableStatus;
    }

    /// <summary>Every path that reports the namespace (with the same identity), usable or not.</summary>
    public NvmePath[] Members { get; }

    /// <summary>What a command gets when no path is usable: the path status of the most hopeful member's state.</summary>
    public NvmeStatus UnusableStatus { get; }

    /// <summary>At least one path is optimized or non-optimized for the namespace.</summary>
    public bool AnyUsable => _optimized.Length + _nonOptimized.Length > 0;

    /// <summary>A connected optimized path, else a connected non-optimized one, else null.</summary>
    public NvmePath? SelectLive() => Pick(_optimized) ?? Pick(_nonOptimized);

    /// <summary>Whether a usable path may still come back: one is connected or reconnecting.</summary>
    public bool AnyUsableMayReturn() => MayReturn(_optimized) || MayReturn(_nonOptimized);

    private NvmePath? Pick(NvmePath[] paths)
    {
        int count = paths.Length;
        if (count == 1)
        {
            var only = paths[0];
            return only.Current is null ? null : only;
        }

        uint start = count == 0 ? 0 : _cursor++;
        for (int i = 0; i < count; i++)
        {
            var path = paths[(int)((start + (uint)i) % (uint)count)];
            if (path.Current is not null)
            {
                return path;
            }
        }

        return null;
    }

    private static bool MayReturn(NvmePath[] paths)
    {
        foreach (var path in paths)
        {
            if (path.State is NvmeControllerState.Live or NvmeControllerState.Reconnecting)
            {
                return true;
            }
        }

        return false;
    }
}
