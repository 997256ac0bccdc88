using NovaStor.Initiator.Session;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>A path's ANA states and asynchronous events: read at connect, on an ANA change notice and after a path status.</summary>
public sealed partial class NvmePath
{
    // Room for 127 group descriptors without NSID lists (RGO): 16 + 127 x 32 bytes.
    private const int AnaLogLength = 4096;

    // 0: no refresh running; 1: one running; 2: one running and another asked for meanwhile.
    private int _anaRefresh;
    private AnaGroupStates _ana = AnaGroupStates.NotReported;

    /// <summary>The ANA state of <paramref name="group"/> on this path as last known (optimized when the controller reports no ANA).</summary>
    public AnaState AnaStateOf(uint group) => Volatile.Read(ref _ana).StateOf(group);

    /// <summary>Times this path's ANA log was read (connect, change notice, path status).</summary>
    public int AnaLogReads { get; private set; }

    private async Task<AnaGroupStates> ReadAnaAsync(ControllerAssociation association, CancellationToken cancellationToken)
    {
        if (!association.Info.AnaReporting)
        {
            return AnaGroupStates.NotReported;
        }

        // Groups only (RGO): the host learns a namespace's group from Identify Namespace ANAGRPID.
        // Reading the page also re-arms the controller's ANA change notice.
        var page = new byte[AnaLogLength];
        await association.AdminAsync("Get Log Page ANA", NvmeCommands.GetLogPage(LogPageIdentifiers.Ana, page.Length, specific: AnaLog.LspReturnGroupsOnly), page, cancellationToken).ConfigureAwait(false);
        AnaLogReads++;
        return AnaGroupStates.Parse(page);
    }

    /// <summary>
    /// A command on this path got a path status: take the state it reports for the namespace's
    /// group at once (so the retry goes elsewhere), and re-read the ANA log to learn the rest.
    /// </summary>
    internal void OnPathStatus(uint namespaceId, NvmeStatus status)
    {
        if (AnaGroupStates.FromPathStatus(status) is { } state && NamespaceInfos.TryGetValue(namespaceId, out var info))
        {
            lock (_lock)
            {
                Volatile.Write(ref _ana, _ana.With(info.AnaGroupId, state));
            }

            _owner.OnPathChanged(namespacesChanged: false);
        }

        RequestAnaRefresh();
    }

    /// <summary>Re-reads the ANA log in the background; requests made while one read runs are folded into one more read.</summary>
    private void RequestAnaRefresh()
    {
        if (Interlocked.Exchange(ref _anaRefresh, 2) == 0)
        {
            _ = RefreshAnaAsync();
        }
    }

    private async Task RefreshAnaAsync()
    {
        await Task.Yield();
        do
        {
            Volatile.Write(ref _anaRefresh, 1);
            if (Current is not { } association)
            {
                // Reconnecting: the next association reads the log before it serves.
                continue;
            }

            try
            {
                var ana = await ReadAnaAsync(association, CancellationToken.None).ConfigureAwait(false);
                lock (_lock)
                {
                    if (Current != association)
                    {
                        continue;
                    }

                    Volatile.Write(ref _ana, ana);
                }

                _owner.OnPathChanged(namespacesChanged: false);
            }
            catch (Exception ex) when (ex is NvmeTransportException or NvmeCommandException or ObjectDisposedException or InvalidOperationException)
            {
                // The association is going away (its successor reads the log) or refuses the page.
            }
        }
        while (Interlocked.CompareExchange(ref _anaRefresh, 0, 1) != 1);
    }

    /// <summary>
    /// Namespace Attribute Changed (notice, information 0): read the Changed Namespace List (log
    /// 04h, which clears the event) and rescan. ANA change (notice, information 3, log 0Ch): re-read
    /// the ANA log. Reservation log available (type 6h, log 80h): read every unread notice and
    /// raise <see cref="NvmeController.ReservationNotified"/>. Other events: read their log page to
    /// clear them.
    /// </summary>
    private async Task OnAsyncEventAsync(ControllerAssociation association, uint dw0)
    {
        uint type = dw0 & 0x7, information = (dw0 >> 8) & 0xFF;
        byte logPage = (byte)(dw0 >> 16);
        try
        {
            if (logPage == LogPageIdentifiers.ReservationNotification)
            {
                await ReadReservationNotificationsAsync(association).ConfigureAwait(false);
            }
            else if (logPage == LogPageIdentifiers.Ana)
            {
                RequestAnaRefresh();
            }
            else if (logPage != 0)
            {
                var log = new byte[ChangedNamespaceList.Length];
                await association.Admin.Admin.IssueAsync(NvmeCommands.GetLogPage(logPage, log.Length), default, log).ConfigureAwait(false);
            }

            if (type == 2 && information == 0 && Current == association)
            {
                await RescanAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NvmeTransportException or NvmeCommandException or InvalidOperationException or ObjectDisposedException)
        {
            // The association is going away or the log is unreadable; the next connect rescans anyway.
        }
    }

    /// <summary>Each read returns (and consumes) the oldest notice; stop at an empty page or when none is left (bounded).</summary>
    private async Task ReadReservationNotificationsAsync(ControllerAssociation association)
    {
        var page = new byte[ReservationNotification.Length];
        for (int read = 0; read < 256; read++)
        {
            var completion = await association.Admin.Admin.IssueAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.ReservationNotification, page.Length), default, page).ConfigureAwait(false);
            if (!completion.Status.IsSuccess)
            {
                return;
            }

            var notice = ReservationNotification.Read(page);
            if (notice.Type == ReservationNotificationType.Empty)
            {
                return;
            }

            _owner.RaiseReservationNotified(notice);
            if (notice.AvailableAfter == 0)
            {
                return;
            }
        }
    }
}
