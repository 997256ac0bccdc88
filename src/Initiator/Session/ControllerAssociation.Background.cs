using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>The association's background work: Keep Alive and Asynchronous Event Requests.</summary>
internal sealed partial class ControllerAssociation
{
    /// <summary>Keep Alive every KATO / 2; no answer within KATO breaks the association.</summary>
    private async Task KeepAliveLoopAsync(TimeSpan keepAliveTimeout)
    {
        var token = _stopping.Token;
        try
        {
            using var timer = new PeriodicTimer(keepAliveTimeout / 2);
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                deadline.CancelAfter(keepAliveTimeout);
                var completion = await Admin.Admin.IssueAsync(NvmeCommands.KeepAlive(), cancellationToken: deadline.Token).ConfigureAwait(false);
                if (!completion.Status.IsSuccess)
                {
                    Abort(new NvmeCommandException("Keep Alive", completion.Status));
                    return;
                }
            }
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
