using NovaStor.BlockEngine;

namespace NovaStor.Ublk;

/// <summary>Asks a ublk device's server to detach it (the server flushes, stops and deletes the device), from any process.</summary>
public static class UblkDevices
{
    // Not among the block engine's Errno values: a signal, and the errnos only detach reports.
    private const int SigTerm = 15, ESRCH = 3, ETIME = 62;

    /// <summary>/dev/ublkbN of device number <paramref name="id"/>.</summary>
    public static string BlockDevice(int id) => UblkAbi.BlockDevice(id);

    /// <summary>The device number of /dev/ublkbN (or N itself).</summary>
    public static bool TryParse(string device, out int id)
    {
        string name = device.StartsWith("/dev/ublkb", StringComparison.Ordinal) ? device["/dev/ublkb".Length..] : device;
        return int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id);
    }

    /// <summary>
    /// Detaches device <paramref name="id"/>: refused while it is mounted (unless
    /// <paramref name="force"/>); otherwise its server gets SIGTERM and this waits until the device
    /// is gone. A device whose server is gone is stopped and deleted here.
    /// </summary>
    /// <returns>What happened, for the user.</returns>
    /// <exception cref="UblkException">No such device, still mounted, or it did not go away in time.</exception>
    public static async Task<string> DetachAsync(int id, bool force, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string device = UblkAbi.BlockDevice(id);
        if (!force && MountedAt(device) is { } mountPoint)
        {
            throw new UblkException(Errno.EBUSY, $"{device} is mounted at {mountPoint}: unmount it first (or --force, and the file system loses the device under it).");
        }

        var info = await OnControlThreadAsync(control =>
        {
            int result = control.TryGetDeviceInfo(id, out var found);
            return result == -Errno.ENODEV ? throw new UblkException(Errno.ENODEV, $"There is no ublk device {id}.")
                : result < 0 ? throw new UblkException(-result, $"Asking about ublk device {id} failed: {Errno.Describe(-result)}.")
                : found;
        }).ConfigureAwait(false);

        if (info.ServerPid > 0 && UblkNative.Signal(info.ServerPid, SigTerm) != ESRCH)
        {
            var until = DateTime.UtcNow + timeout;
            while (await OnControlThreadAsync(control => control.TryGetDeviceInfo(id, out _)).ConfigureAwait(false) != -Errno.ENODEV)
            {
                if (DateTime.UtcNow > until)
                {
                    throw new UblkException(ETIME, $"{device}: its server (pid {info.ServerPid}) was asked to detach but the device is still there after {timeout.TotalSeconds:0} s.");
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }

            return $"{device}: detached (its server, pid {info.ServerPid}, flushed and removed it)";
        }

        // No server: nothing to flush through; remove the device.
        await RemoveAsync(id).ConfigureAwait(false);
        return $"{device}: removed (it had no server)";
    }

    /// <summary>
    /// Stops and deletes device <paramref name="id"/> without asking a server: for a device whose
    /// server is gone and will not be recovered. Requests waiting in it fail with EIO.
    /// </summary>
    /// <returns>0, or the negative errno of the delete (-ENODEV: there was no such device).</returns>
    public static Task<int> RemoveAsync(int id) => OnControlThreadAsync(control => StopAndDelete(control, id));

    /// <summary>
    /// <see cref="RemoveAsync"/>, but only for a device that waits for a server (its server died and
    /// the driver quiesced it): a device a live server still serves is left alone.
    /// </summary>
    /// <returns>0 (removed), -ENODEV (no such device), -EBUSY (a server serves it), or another negative errno.</returns>
    public static Task<int> RemoveOrphanAsync(int id) =>
        OnControlThreadAsync(control =>
        {
            int result = control.TryGetDeviceInfo(id, out var info);
            if (result < 0)
            {
                return result;
            }

            return info.State == DeviceInfo.StateQuiesced ? StopAndDelete(control, id) : -Errno.EBUSY;
        });

    private static int StopAndDelete(UblkControl control, int id)
    {
        _ = control.StopDevice(id);
        return control.DeleteDevice(id);
    }

    private static string? MountedAt(string device)
    {
        foreach (string line in File.ReadLines("/proc/self/mounts"))
        {
            string[] fields = line.Split(' ');
            if (fields.Length > 1 && fields[0] == device)
            {
                return fields[1];
            }
        }

        return null;
    }

    /// <summary>A control ring belongs to its thread: each use opens one on a thread of its own.</summary>
    private static Task<T> OnControlThreadAsync<T>(Func<UblkControl, T> work) =>
        Task.Factory.StartNew(() =>
        {
            using var control = UblkControl.Open();
            return work(control);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
