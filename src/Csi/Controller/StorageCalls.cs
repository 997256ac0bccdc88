using Grpc.Core;

namespace NovaStor.Csi.Controller;

/// <summary>
/// Calls to a storage node's control plane, bounded in time. A node that does not answer (down,
/// refusing the credentials, timing out) becomes UNAVAILABLE naming the node, which the sidecars
/// retry; the node's own refusals (NOT_FOUND, ALREADY_EXISTS, ...) come back as they are for the
/// caller to interpret.
/// </summary>
internal static class StorageCalls
{
    public static async Task<T> CallAsync<T>(StorageNode node, TimeSpan timeout, Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(new CallOptions(deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (IsUnreachable(e.StatusCode))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"Storage node {node.Name} ({node.ControlPlane}) did not answer: {e.StatusCode}: {e.Status.Detail}"));
        }
    }

    /// <summary>As <see cref="CallAsync"/>, null when the node answers NOT_FOUND.</summary>
    public static async Task<T?> FindAsync<T>(StorageNode node, TimeSpan timeout, Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await CallAsync(node, timeout, call, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>True for the codes that say the node could not be asked, not that it refused.</summary>
    public static bool IsUnreachable(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Unknown or StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Cancelled;
}
