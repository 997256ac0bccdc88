using System.Security.Cryptography;

namespace NovaStor.Protocol.Authentication;

/// <summary>
/// The sequence numbers (S1 of a challenge, S2 of a reply) this process gives out, as the Linux
/// host and target keep one counter: a random start, then one more each time, never 0 (0 in a
/// reply means "no bidirectional authentication").
/// </summary>
public static class DhchapSequenceNumbers
{
    private static int s_last = RandomNumberGenerator.GetInt32(1, int.MaxValue);

    public static uint Next()
    {
        uint next = (uint)Interlocked.Increment(ref s_last);
        return next == 0 ? (uint)Interlocked.Increment(ref s_last) : next;
    }
}
