using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Native;
using NovaStor.Initiator;

namespace NovaStor.Ublk;

/// <summary>How a namespace becomes a ublk device.</summary>
public sealed record UblkDeviceOptions
{
    /// <summary>Hardware queues of the block device, each served by a thread of its own.</summary>
    public int Queues { get; init; } = 1;

    /// <summary>Requests in flight per queue (the block layer's tags), each with a buffer of <see cref="MaxRequestBytes"/>.</summary>
    public int QueueDepth { get; init; } = 64;

    /// <summary>The largest request the block layer sends (the kernel splits larger ones); the initiator splits it by MDTS.</summary>
    public int MaxRequestBytes { get; init; } = 512 * 1024;
}

/// <summary>
/// A namespace of the managed initiator served as /dev/ublkbN (Linux ublk_drv): the device is
/// added with the namespace's block size, capacity, transfer, discard and write-zeroes limits and
/// its volatile cache (so the file systems above send flushes and FUA writes), then its queues
/// start, then the device. I/O follows the initiator's multipath, reconnect and loss timeout: while
/// the controller reconnects, requests wait; after the loss timeout they fail with EIO.
/// </summary>
public sealed partial class UblkDevice : IAsyncDisposable
{
    private readonly NvmeController _controller;
    private readonly NvmeNamespace _namespace;
    private readonly ILogger _logger;
    private readonly int _charFd;
    private readonly UblkQueue[] _queues;
    private readonly long _allocatedAtStart;
    private int _stopped;

    private UblkDevice(int deviceId, NvmeController controller, NvmeNamespace ns, ILogger logger, int charFd, UblkQueue[] queues)
    {
        DeviceId = deviceId;
        _controller = controller;
        _namespace = ns;
        _logger = logger;
        _charFd = charFd;
        _queues = queues;
        Ended = Task.WhenAll(queues.Select(q => q.Ended));
        _allocatedAtStart = GC.GetTotalAllocatedBytes(precise: true);
    }

    public int DeviceId { get; }

    /// <summary>After <see cref="DisposeAsync"/>: requests served, and the bytes this process allocated while serving them (every thread's, so an upper bound).</summary>
    public (long Requests, long AllocatedBytes) Served { get; private set; }

    /// <summary>The block device, /dev/ublkbN.</summary>
    public string BlockDevice => UblkAbi.BlockDevice(DeviceId);

    /// <summary>Completes when every queue has ended (the device was stopped, here or by the driver).</summary>
    public Task Ended { get; }

    /// <summary>
    /// Adds and starts the device for namespace <paramref name="namespaceId"/> of <paramref name="controller"/>.
    /// Runs the control commands on the calling thread (blocking: START_DEV returns once the queues have fetched).
    /// </summary>
    /// <exception cref="UblkException">The driver is missing or refused.</exception>
    public static UblkDevice Start(NvmeController controller, uint namespaceId, UblkDeviceOptions options, ILogger logger)
    {
        var ns = controller.Namespace(namespaceId);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Queues, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.QueueDepth, UblkAbi.MaxQueueDepth);
        int maxRequest = Math.Max(ns.BlockSize, options.MaxRequestBytes / ns.BlockSize * ns.BlockSize);
        using var control = UblkControl.Open();
        var info = new DeviceInfo
        {
            QueueCount = (ushort)options.Queues,
            QueueDepth = (ushort)options.QueueDepth,
            MaxIoBufferBytes = (uint)maxRequest,
            DeviceId = uint.MaxValue, // the driver picks
            // A server that dies leaves the device quiesced, its requests waiting, for Recover.
            Flags = UblkAbi.FlagCommandIoctlEncode | UblkAbi.FlagUserRecovery | UblkAbi.FlagUserRecoveryReissue,
        };
        control.AddDevice(ref info);
        int id = (int)info.DeviceId;
        int charFd = -1;
        var queues = new List<UblkQueue>();
        try
        {
            var parameters = Parameters(controller.Info, ns, maxRequest);
            control.SetParameters(id, ref parameters);
            charFd = OpenCharDevice(id);
            StartQueues(id, charFd, options.Queues, options.QueueDepth, maxRequest, new UblkRequests(ns, logger), logger, queues);
            control.StartDevice(id, Environment.ProcessId);
            return new UblkDevice(id, controller, ns, logger, charFd, [.. queues]);
        }
        catch
        {
            _ = control.StopDevice(id);
            // A queue still waiting holds the char device: deleting would then wait for ever. Left
            // to the process's exit, which closes the rings and lets the driver finish.
            bool ended = queues.All(queue => Settles(queue.Ended, TimeSpan.FromSeconds(10)));
            if (ended)
            {
                foreach (var queue in queues)
                {
                    queue.Dispose();
                }

                if (charFd >= 0)
                {
                    _ = Libc.Close(charFd);
                }

                _ = control.DeleteDevice(id);
            }

            throw;
        }
    }

    /// <summary>Whether <paramref name="task"/> ends (well or not) within <paramref name="timeout"/>.</summary>
    private static bool Settles(Task task, TimeSpan timeout)
    {
        try
        {
            return task.Wait(timeout);
        }
        catch (AggregateException)
        {
            return true; // ended, with the failure already logged by the queue
        }
    }

    /// <summary>
    /// Takes over device <paramref name="deviceId"/> after its server died (UBLK_F_USER_RECOVERY):
    /// the block device stayed, its requests waiting (the ones the dead server had taken are sent
    /// again); this process's queues fetch them and the device is live again, the file system above
    /// none the wiser. The namespace must be the one the device was made for (same size).
    /// </summary>
    /// <exception cref="UblkException">No such device, it is not waiting for a server, or it does not match the namespace.</exception>
    public static UblkDevice Recover(NvmeController controller, uint namespaceId, int deviceId, ILogger logger)
    {
        var ns = controller.Namespace(namespaceId);
        using var control = UblkControl.Open();
        DeviceInfo info = default;
        // The driver quiesces the device once the dead server's rings are torn down and the
        // requests it had taken are back: at once when it held none, else at the block layer's
        // request timeout (30 s by default; seen in the 6.12 guest: 0 s idle, 32 s under fio).
        var until = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            int result = control.TryGetDeviceInfo(deviceId, out info);
            if (result < 0)
            {
                throw new UblkException(-result, $"There is no ublk device {deviceId} to recover ({Errno.Describe(-result)}).");
            }

            // Its old server may still be exiting: the driver quiesces the device once it is gone.
            if (info.State is DeviceInfo.StateQuiesced || DateTime.UtcNow > until)
            {
                break;
            }

            Thread.Sleep(100);
        }

        if (info.State != DeviceInfo.StateQuiesced || (info.Flags & UblkAbi.FlagUserRecovery) == 0)
        {
            throw new UblkException(Errno.EBUSY, $"ublk device {deviceId} is not waiting for a new server (state {info.State}, flags 0x{info.Flags:x}; a server that is alive keeps it).");
        }

        long deviceBytes = ReadSectors(deviceId) << 9;
        if (deviceBytes != (long)(ns.BlockCount * (ulong)ns.BlockSize))
        {
            throw new UblkException(Errno.EINVAL, $"{UblkAbi.BlockDevice(deviceId)} has {deviceBytes} bytes, namespace {namespaceId} of {controller.SubsystemNqn} {ns.BlockCount * (ulong)ns.BlockSize}: not the device of this namespace.");
        }

        control.StartUserRecovery(deviceId);
        int charFd = OpenCharDevice(deviceId);
        var queues = new List<UblkQueue>();
        StartQueues(deviceId, charFd, info.QueueCount, info.QueueDepth, (int)info.MaxIoBufferBytes, new UblkRequests(ns, logger), logger, queues);
        control.EndUserRecovery(deviceId, Environment.ProcessId);
        return new UblkDevice(deviceId, controller, ns, logger, charFd, [.. queues]);
    }

    /// <summary>
    /// Starts the device's queue threads (into <paramref name="queues"/>, so a caller can clean up
    /// after a failure) and waits until each has fetched every tag: START_DEV and END_USER_RECOVERY
    /// wait in the kernel for that, so they are never sent before.
    /// </summary>
    private static void StartQueues(int id, int charFd, int count, int depth, int bufferBytes, UblkRequests requests, ILogger logger, List<UblkQueue> queues)
    {
        for (int q = 0; q < count; q++)
        {
            var queue = new UblkQueue(charFd, (ushort)q, depth, bufferBytes, requests, logger);
            queues.Add(queue);
            queue.Start();
        }

        if (!Task.WhenAll(queues.Select(q => q.Fetched)).Wait(TimeSpan.FromSeconds(30)))
        {
            throw new UblkException(Errno.ETIMEDOUT, $"The queues of ublk device {id} did not fetch their requests within 30 s.");
        }
    }

    private static long ReadSectors(int deviceId)
    {
        string path = $"/sys/block/ublkb{deviceId}/size";
        return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), out long sectors) ? sectors : -1;
    }

    /// <summary>What the block layer is told: the namespace's geometry and limits.</summary>
    private static DeviceParameters Parameters(Initiator.Identify.ControllerInfo info, NvmeNamespace ns, int maxRequest)
    {
        byte blockShift = (byte)System.Numerics.BitOperations.Log2((uint)ns.BlockSize);
        // Discard and write zeroes go out as one command each: Write Zeroes counts 65536 blocks at most.
        uint maxZeroSectors = (uint)Math.Min(uint.MaxValue >> 1, (65536L * ns.BlockSize) >> 9);
        return new DeviceParameters
        {
            Types = DeviceParameters.TypeBasic | DeviceParameters.TypeDiscard,
            Attributes = info.VolatileWriteCache ? DeviceParameters.AttributeVolatileCache | DeviceParameters.AttributeFua : 0,
            LogicalBlockShift = blockShift,
            PhysicalBlockShift = blockShift,
            IoMinimumShift = blockShift,
            IoOptimalShift = blockShift,
            MaxSectors = (uint)(maxRequest >> 9),
            DeviceSectors = (ns.BlockCount * (ulong)ns.BlockSize) >> 9,
            DiscardGranularity = (uint)ns.BlockSize,
            MaxDiscardSectors = info.SupportsDatasetManagement ? maxZeroSectors : 0,
            MaxWriteZeroesSectors = info.SupportsWriteZeroes ? maxZeroSectors : 0,
            MaxDiscardSegments = 1,
        };
    }

    /// <summary>/dev/ublkcN appears (devtmpfs, udev) shortly after ADD_DEV.</summary>
    private static int OpenCharDevice(int id)
    {
        string path = UblkAbi.CharDevice(id);
        var until = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0, out int errno);
            if (fd >= 0)
            {
                return fd;
            }

            if (errno != Errno.ENOENT || DateTime.UtcNow > until)
            {
                throw new UblkException(errno, $"Opening {path} failed: {Errno.Describe(errno)}.");
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>
    /// Flushes the namespace's volatile cache, stops the device (the block device goes away; the
    /// queues end), and deletes it. Safe to call twice.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocatedAtStart;

        try
        {
            if (_controller.Info.VolatileWriteCache)
            {
                (await _namespace.FlushAsync().ConfigureAwait(false)).ThrowIfFailed("flush before detaching");
            }
        }
        catch (Exception e) when (e is ControllerLostException or NvmeTransportException or NvmeCommandException)
        {
            Log.FlushFailed(_logger, BlockDevice, e.Message);
        }

        // The control ring belongs to the thread that opens it: all of it runs on one thread.
        await Task.Factory.StartNew(() =>
        {
            using var control = UblkControl.Open();
            int stopped = control.StopDevice(DeviceId);
            if (stopped < 0)
            {
                Log.ControlFailed(_logger, "stop", DeviceId, Errno.Describe(-stopped));
            }

            foreach (var queue in _queues)
            {
                if (!Settles(queue.Ended, TimeSpan.FromSeconds(30)))
                {
                    Log.ControlFailed(_logger, "stop (a queue did not end)", DeviceId, "timed out");
                }
            }

            Served = (_queues.Sum(queue => queue.Requests), allocated);
            foreach (var queue in _queues)
            {
                queue.Dispose();
            }

            _ = Libc.Close(_charFd);
            int deleted = control.DeleteDevice(DeviceId);
            if (deleted < 0)
            {
                Log.ControlFailed(_logger, "delete", DeviceId, Errno.Describe(-deleted));
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "Flushing before detaching {Device} failed: {Error}")]
        public static partial void FlushFailed(ILogger logger, string device, string error);

        [LoggerMessage(21, LogLevel.Warning, "ublk {Operation} of device {Id} failed: {Error}")]
        public static partial void ControlFailed(ILogger logger, string operation, int id, string error);
    }
}
