using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>
/// How an NVMe command ended: its status (a value, not an exception) and DW0 of the completion.
/// Transport failures are exceptions; an error status is not.
/// </summary>
public readonly record struct NvmeResult(NvmeStatus Status, uint Result = 0)
{
    public static readonly NvmeResult Success = default;

    public bool IsSuccess => Status.IsSuccess;

    /// <summary>The status code's name, e.g. "LBA Out of Range".</summary>
    public string StatusName => StatusCodes.Describe(Status);

    public static NvmeResult From(in CompletionQueueEntry completion) => new(completion.Status, completion.Dw0);

    /// <summary>Throws <see cref="NvmeCommandException"/> naming <paramref name="operation"/> and the status, unless it succeeded.</summary>
    public void ThrowIfFailed(string operation)
    {
        if (!IsSuccess)
        {
            throw new NvmeCommandException(operation, Status);
        }
    }

    public override string ToString() => Status.ToString();
}
