using System.Buffers.Binary;
using System.Net;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a target that hangs up every connection once the host has
/// shut the controller down, as SPDK's target does: it watches the host's bytes for a Property Set
/// of CC with SHN = 01b, then closes everything right after relaying the
/// <paramref name="answersBeforeClose"/>-th chunk the target sends back (1: the Property Set's own
/// completion, before the host can read CSTS; 2: also the first CSTS read, which reports the
/// shutdown complete).
/// </summary>
internal sealed class CloseAfterShutdownRelay(IPEndPoint target, int answersBeforeClose) : LoopbackRelay(target)
{
    private int _answersLeft = -1; // -1 until the shutdown is seen

    /// <summary>True once the relay has hung up.</summary>
    public bool Closed { get; private set; }

    protected override ValueTask BeforeRelayAsync(bool towardTarget, ReadOnlyMemory<byte> chunk)
    {
        if (towardTarget && Volatile.Read(ref _answersLeft) < 0 && WritesShutdown(chunk.Span))
        {
            Volatile.Write(ref _answersLeft, answersBeforeClose);
        }

        return ValueTask.CompletedTask;
    }

    protected override void AfterRelay(bool towardTarget)
    {
        if (!towardTarget && Volatile.Read(ref _answersLeft) > 0 && Interlocked.Decrement(ref _answersLeft) == 0)
        {
            Closed = true;
            CloseAll();
        }
    }

    /// <summary>
    /// Finds a CapsuleCmd PDU (type 04h, HLEN 72) holding a Fabrics Property Set (opcode 7Fh, FCTYPE
    /// 00h) of CC (OFST 14h) whose value has SHN (bits 15:14) = 01b. SQE bytes: 0 opcode, 4 FCTYPE,
    /// 44 OFST, 48 VALUE.
    /// </summary>
    private static bool WritesShutdown(ReadOnlySpan<byte> chunk)
    {
        const int CommonHeader = 8, Sqe = 64;
        for (int i = 0; i + CommonHeader + Sqe <= chunk.Length; i++)
        {
            var sqe = chunk.Slice(i + CommonHeader, Sqe);
            if (chunk[i] == 0x04 && chunk[i + 2] == 72 && sqe[0] == 0x7F && sqe[4] == 0x00
                && BinaryPrimitives.ReadUInt32LittleEndian(sqe[44..]) == 0x14
                && ((BinaryPrimitives.ReadUInt32LittleEndian(sqe[48..]) >> 14) & 3) == 1)
            {
                return true;
            }
        }

        return false;
    }
}
