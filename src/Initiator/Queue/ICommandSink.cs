using NovaStor.Protocol;

namespace NovaStor.Initiator.Queue;

/// <summary>
/// Receives a command's outcome directly, instead of a <see cref="ValueTask"/> being awaited.
/// Called inline on the receive loop (or wherever the connection failed): implementations only
/// record the outcome and hand it on, never block.
/// </summary>
internal interface ICommandSink
{
    void OnResponse(in CompletionQueueEntry completion);

    void OnFailure(Exception failure);
}
