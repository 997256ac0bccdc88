using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>The connection broke: a termination request from the controller, a malformed PDU, or a closed socket.</summary>
public sealed class NvmeTransportException : Exception
{
    public NvmeTransportException(string message, FatalErrorStatus status = FatalErrorStatus.None, uint information = 0, Exception? inner = null)
        : base(message, inner)
    {
        Status = status;
        Information = information;
    }

    public NvmeTransportException()
    {
    }

    public NvmeTransportException(string message) : base(message)
    {
    }

    public NvmeTransportException(string message, Exception inner) : base(message, inner)
    {
    }

    /// <summary>FES of the termination request, when one ended the connection.</summary>
    public FatalErrorStatus Status { get; }

    /// <summary>FEI of the termination request.</summary>
    public uint Information { get; }
}
