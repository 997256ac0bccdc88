using NovaStor.Protocol;

namespace NovaStor.Benchmarks;

/// <summary>
/// The host's end of one target queue in a benchmark: setup calls (which may allocate) and the
/// measured <see cref="RoundTrip"/> (which must not).
/// </summary>
internal interface IBenchmarkQueue : IAsyncDisposable
{
    /// <summary>ICReq without digests; waits for ICResp.</summary>
    void Initialize();

    /// <summary>Sends one command (with in-capsule data when given) and returns its completion; setup only.</summary>
    CompletionQueueEntry Submit(SubmissionQueueEntry command, ReadOnlySpan<byte> inCapsule = default);

    /// <summary>
    /// The measured step: sends prepared CapsuleCmds (<paramref name="commands"/> of them, at once)
    /// and consumes the target's answers until every CapsuleResp has arrived. An R2T is answered at
    /// once with one H2CData carrying the first R2TL bytes of <paramref name="r2tData"/>. Throws if a
    /// command failed, so a broken setup cannot pass for a fast one.
    /// </summary>
    void RoundTrip(ReadOnlySpan<byte> batch, int commands, ReadOnlySpan<byte> r2tData = default);
}
