namespace NovaStor.Target.Core;

/// <summary>
/// What the controller side needs from the transport that carries a queue: the narrow seam of
/// the Linux target's nvmet_fabrics_ops. Controller code never sees a socket.
/// </summary>
internal interface IQueueTransport
{
    /// <summary>
    /// Sends the request's completion: its data first when it is read-like and succeeded, then
    /// the response capsule. May be called from any thread, once per command.
    /// </summary>
    void Complete(NvmeRequest request);

    /// <summary>Tears the connection down (keep-alive expiry, controller reset); idempotent.</summary>
    void Disconnect(string reason);

    /// <summary>The peer, for logs.</summary>
    string RemoteEndPoint { get; }
}
