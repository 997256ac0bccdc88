using System.Buffers.Binary;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>
/// The ANA state of every group on one path, as its controller last reported them (log 0Ch) or as
/// a path status just told. Immutable: a path swaps in a new one, so readers never lock.
/// </summary>
internal sealed class AnaGroupStates
{
    /// <summary>A controller that reports no ANA (CMIC bit 3 clear): every namespace is optimized on it.</summary>
    public static readonly AnaGroupStates NotReported = new(new Dictionary<uint, AnaState>());

    private readonly Dictionary<uint, AnaState> _states;

    private AnaGroupStates(Dictionary<uint, AnaState> states) => _states = states;

    /// <summary>
    /// The state of <paramref name="group"/>. Group 0 (a namespace outside ANA) and a group the log
    /// does not list count as optimized: nothing says otherwise, and a path status corrects it.
    /// </summary>
    public AnaState StateOf(uint group) => _states.TryGetValue(group, out var state) ? state : AnaState.Optimized;

    /// <summary>A copy where <paramref name="group"/> has <paramref name="state"/>.</summary>
    public AnaGroupStates With(uint group, AnaState state) => new(new Dictionary<uint, AnaState>(_states) { [group] = state });

    /// <summary>
    /// Reads the group descriptors of an ANA log page (the layout is written above
    /// <see cref="AnaLog"/>); descriptors that do not fit in <paramref name="page"/> are left out.
    /// </summary>
    public static AnaGroupStates Parse(ReadOnlySpan<byte> page)
    {
        var states = new Dictionary<uint, AnaState>();
        if (page.Length < AnaLog.HeaderSize)
        {
            return new AnaGroupStates(states);
        }

        int groups = BinaryPrimitives.ReadUInt16LittleEndian(page[8..]);
        int at = AnaLog.HeaderSize;
        for (int i = 0; i < groups && at + AnaLog.GroupDescriptorSize <= page.Length; i++)
        {
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(page[at..]);
            uint nsids = BinaryPrimitives.ReadUInt32LittleEndian(page[(at + 4)..]);
            states[id] = (AnaState)(page[at + 16] & 0xF);
            long next = at + AnaLog.GroupDescriptorSize + (4L * nsids);
            if (next > page.Length)
            {
                break;
            }

            at = (int)next;
        }

        return new AnaGroupStates(states);
    }

    /// <summary>Whether I/O may go to a group in <paramref name="state"/> (optimized or non-optimized).</summary>
    public static bool IsUsable(AnaState state) => state is AnaState.Optimized or AnaState.NonOptimized;

    /// <summary>The state a path status (SCT 3) reports: 01h persistent loss, 02h inaccessible, 03h transition; null for other path errors.</summary>
    public static AnaState? FromPathStatus(NvmeStatus status) => status.CodeType != StatusCodeType.PathRelated ? null : status.Code switch
    {
        0x01 => AnaState.PersistentLoss,
        0x02 => AnaState.Inaccessible,
        0x03 => AnaState.Change,
        _ => null,
    };

    /// <summary>The path status a command would get in <paramref name="state"/>.</summary>
    public static NvmeStatus ToPathStatus(AnaState state) => state switch
    {
        AnaState.PersistentLoss => StatusCodes.AnaPersistentLoss,
        AnaState.Change => StatusCodes.AnaTransition,
        _ => StatusCodes.AnaInaccessible,
    };
}
