using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>The association's background work: Keep Alive and Asynchronous Event Requests.</summary>
internal sealed partial class ControllerAssociation
{
    /// <summary>Keep Alive commands answered with an error status.</summary>
    public int KeepAliveFailures { get; private set; }

    /// <summary>
    /// Keep Alive at once, then every KATO / 2; no answer within KATO breaks the association.
    /// An error status is not fatal here: the controller decides about expiry, and tears the
    /// queues down itself if it comes to that.
    /// </summary>
    private async Task KeepAliveLoopAsync(TimeSpan keepAliveTimeout)
    {
        var token = _stopping.Token;
        try
        {
            using var timer = new PeriodicTimer(keepAliveTimeout / 2);
            do
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                deadline.CancelAfter(keepAliveTimeout);
                var completion = await Admin.Admin.IssueAsync(NvmeCommands.KeepAlive(), cancellationToken: deadline.Token).ConfigureAwait(false);
                KeepAliveFailures += completion.Status.IsSuccess ? 0 : 1;
            }
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            Abort(new NvmeTransportException($"Keep Alive not answered within KATO ({keepAliveTimeout.TotalMilliseconds} ms)"));
        }
        catch (OperationCanceledException)
        {
        }
        catch (NvmeTransportException)
        {
            // The queue failed; its watcher reports that.
        }
    }

    /// <summary>
    /// Checks the I/O queues once a second (a quarter of the timeout when that is shorter): a
    /// command older than the I/O timeout means the controller stopped answering, so the
    /// association is aborted and its commands resent on the next one.
    /// </summary>
    private async Task IoWatchdogLoopAsync(TimeSpan timeout)
    {
        var token = _stopping.Token;
        var period = timeout / 4 < TimeSpan.FromSeconds(1) ? timeout / 4 : TimeSpan.FromSeconds(1);
        try
        {
            using var timer = new PeriodicTimer(period);
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                foreach (var queue in _ioQueues)
                {
                    if (queue.OldestCommandAge > timeout)
                    {
                        Abort(new NvmeTransportException($"an I/O command got no answer within {timeout.TotalSeconds:0.###} s (I/O timeout); resetting the association"));
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Keeps one Asynchronous Event Request posted. A completion's DW0 holds the event type
    /// (bits 2:0, 2 = notice), its information (bits 15:8, 0 = namespace attribute changed) and
    /// the log page to read to clear it (bits 23:16).
    /// </summary>
    private async Task AsyncEventLoopAsync()
    {
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var completion = await Admin.Admin.IssueAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest }, cancellationToken: token).ConfigureAwait(false);
                if (!completion.Status.IsSuccess)
                {
                    return;
                }

                if (AsyncEventReceived is { } handler)
                {
                    await handler(completion.Dw0).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (NvmeTransportException)
        {
        }
    }
}
