using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>A command completed with an error status; the message names the status.</summary>
public sealed class NvmeCommandException : Exception
{
    public NvmeCommandException(string operation, NvmeStatus status)
        : base($"{operation} failed: {status}")
    {
        Status = status;
    }

    public NvmeCommandException()
    {
    }

    public NvmeCommandException(string message) : base(message)
    {
    }

    public NvmeCommandException(string message, Exception inner) : base(message, inner)
    {
    }

    public NvmeStatus Status { get; }
}
