using BenchmarkDotNet.Attributes;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Reactors;
using NovaStor.Initiator;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Benchmarks;

/// <summary>
/// The target's whole per-command path on either transport, with a <see cref="MemoryVolume"/>:
/// <list type="bullet">
/// <item><c>Pipes</c>: a real <see cref="Target.Transport.PipeQueue"/> (framing, command table, I/O
/// command set, memory volume completions on the thread pool, responses written by the completing
/// thread, data buffers from the positional engine's bounded pool) behind in-memory pipes: no socket.</item>
/// <item><c>Reactor</c>: a real <see cref="Target.Transport.ReactorQueue"/> on one io_uring reactor
/// behind a loopback TCP connection (recv, sendmsg, the memory volume inline on the reactor), driven
/// by a blocking socket on the benchmark thread.</item>
/// </list>
/// Each invocation sends <see cref="Depth"/> 4 KiB commands at once and waits for all their
/// responses, so the reported time and allocation are per command. Allocation counts every thread
/// of the process (the target's receive path, the reactor, engine completions included).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class TargetQueueBenchmarks
{
    [Params("Pipes", "Reactor", "AioReactor")]
    public string Transport { get; set; } = "Pipes";

    /// <summary>Commands per invocation, all outstanding at once (the I/O queue holds 128).</summary>
    public const int Depth = 64;

    private const string Nqn = "nqn.2024-01.io.novastor:bench";
    private const int BlockSize = 4096;
    private const int TransferLength = 4096;
    private const long VolumeBytes = 64L * 1024 * 1024;

    private MemoryVolume? _volume;
    private ReactorPool? _reactors;
    private NovaStor.BlockEngine.Aio.AioReactorPool? _aio;
    private BlockEngineHost? _positional;
    private IBenchmarkQueue? _admin;
    private IBenchmarkQueue? _io;
    // I/O queue 2, connected with SQ flow control disabled: its reads end with a SUCCESS-flagged C2HData.
    private IBenchmarkQueue? _ioWithoutSqFlowControl;
    /// <summary>
    /// R2T writes outstanding per invocation: 16 x 16 KiB keeps the data in the host-to-target pipe
    /// under the pipe's pool of 256 segment objects; at 64 x 16 KiB the pipe itself (the transport's
    /// side, not the target) drops and reallocates segment objects, about 1.5 B per command.
    /// </summary>
    public const int R2TDepth = 16;

    private const int R2TTransferLength = 16 * 1024;

    private byte[] _reads = [];
    private byte[] _writes = [];
    private byte[] _r2tWrites = [];
    private byte[] _r2tData = [];

    [GlobalSetup]
    public void Setup()
    {
        _volume = new MemoryVolume(VolumeBytes, BlockSize);
        var ns = new Namespace(1, "bench", _volume, Identity.NamespaceGuid(Nqn, "bench"), Identity.NamespaceUuid(Nqn, "bench"));
        var registry = new SubsystemRegistry([new Subsystem(Nqn, allowAnyHost: true, [], [ns])]);
        var limits = new TargetLimits();
        var host = HostIdentity.Create();
        EngineLane? lane = null;
        if (Transport == "Reactor")
        {
            _reactors = new ReactorPool(new ReactorPoolOptions { Count = 1 });
            lane = _reactors.AcquireLane();
        }
        else if (Transport == "AioReactor")
        {
            // Where io_uring is refused: the same queue on a native AIO reactor, its socket through epoll.
            _aio = new NovaStor.BlockEngine.Aio.AioReactorPool();
            lane = _aio.AcquireLane();
        }
        else
        {
            // The positional engine's lane: no reactor, but the bounded command buffers every queue rents from.
            _positional = BlockEngineHost.Create(EngineKind.Fallback);
            lane = _positional.AcquireLane();
        }

        IBenchmarkQueue Open() => Transport == "Pipes" ? new InMemoryQueue(registry, limits, lane) : new ReactorSocketQueue(registry, limits, lane);

        // Admin queue: ICReq, Connect, then enable the controller as the Linux host does.
        _admin = Open();
        _admin.Initialize();
        var connectData = new byte[ConnectData.Length];
        new ConnectData(host.HostId, ConnectData.DynamicControllerId, Nqn, host.HostNqn).WriteTo(connectData);
        var connected = _admin.Submit(NvmeCommands.Connect(0, 31, 0), connectData);
        HostController.Check("Connect admin queue", connected);
        ushort controllerId = (ushort)connected.Dw0;

        const uint configuration = 1 | (6u << 4) | (6u << 16) | (4u << 20);
        HostController.Check("Property Set CC", _admin.Submit(NvmeCommands.PropertySet(ControllerProperties.Configuration, configuration)));
        WaitUntilReady(_admin);

        // I/O queue 1 on a second connection, 128 entries.
        _io = Open();
        _io.Initialize();
        new ConnectData(host.HostId, controllerId, Nqn, host.HostNqn).WriteTo(connectData);
        HostController.Check("Connect I/O queue", _io.Submit(NvmeCommands.Connect(1, 127, 0), connectData));
        _ioWithoutSqFlowControl = Open();
        _ioWithoutSqFlowControl.Initialize();
        HostController.Check("Connect I/O queue 2", _ioWithoutSqFlowControl.Submit(NvmeCommands.Connect(2, 127, 0, ConnectCommand.DisableSqFlowControl), connectData));

        // Prepared batches: Depth reads of 4 KiB, Depth in-capsule writes of 4 KiB, distinct CIDs and blocks.
        const int capsule = PduSizes.CapsuleCommandHeader;
        _reads = new byte[Depth * capsule];
        _writes = new byte[Depth * (capsule + TransferLength)];
        var payload = new byte[TransferLength];
        new Random(1).NextBytes(payload);
        // Writes above the 8 KiB in-capsule limit go by R2T and H2CData, as the initiator sends them.
        _r2tWrites = new byte[R2TDepth * capsule];
        _r2tData = new byte[R2TTransferLength];
        new Random(2).NextBytes(_r2tData);
        int readAt = 0, writeAt = 0, r2tAt = 0;
        for (int i = 0; i < Depth; i++)
        {
            ulong block = (ulong)i * (TransferLength / BlockSize);
            readAt += InMemoryQueue.Capsule(_reads.AsSpan(readAt), NvmeCommands.Read(1, block, TransferLength / BlockSize), (ushort)i, default, TransferLength);
            writeAt += InMemoryQueue.Capsule(_writes.AsSpan(writeAt), NvmeCommands.Write(1, block, TransferLength / BlockSize), (ushort)i, payload);
        }

        for (int i = 0; i < R2TDepth; i++)
        {
            ulong block = (ulong)i * (R2TTransferLength / BlockSize);
            r2tAt += InMemoryQueue.Capsule(_r2tWrites.AsSpan(r2tAt), NvmeCommands.Write(1, block, R2TTransferLength / BlockSize), (ushort)i, default, R2TTransferLength);
        }

        // Warm up: every command slot that the measured loop will use gets its buffer now.
        for (int i = 0; i < 16; i++)
        {
            _io.RoundTrip(_writes, Depth);
            _io.RoundTrip(_reads, Depth);
            _io.RoundTrip(_r2tWrites, R2TDepth, _r2tData);
            _ioWithoutSqFlowControl.RoundTrip(_reads, Depth);
        }
    }

    private static void WaitUntilReady(IBenchmarkQueue admin)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var status = admin.Submit(NvmeCommands.PropertyGet(ControllerProperties.Status, false));
            HostController.Check("Property Get CSTS", status);
            if ((status.Dw0 & (uint)ControllerStatus.Ready) != 0)
            {
                return;
            }

            Thread.Sleep(10);
        }

        throw new TimeoutException("controller did not become ready");
    }

    /// <summary>4 KiB Read: CapsuleCmd in; engine read; C2HData (4 KiB) and CapsuleResp out.</summary>
    [Benchmark(OperationsPerInvoke = Depth)]
    public void Read4K() => _io!.RoundTrip(_reads, Depth);

    /// <summary>
    /// 4 KiB Read on a queue whose host disabled SQ flow control: CapsuleCmd in; engine read;
    /// C2HData (4 KiB, SUCCESS flag) out, no CapsuleResp.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Depth)]
    public void Read4KCompletedByData() => _ioWithoutSqFlowControl!.RoundTrip(_reads, Depth);

    /// <summary>4 KiB Write with in-capsule data: CapsuleCmd + 4 KiB in; engine write; CapsuleResp out.</summary>
    [Benchmark(OperationsPerInvoke = Depth)]
    public void Write4KInCapsule() => _io!.RoundTrip(_writes, Depth);

    /// <summary>16 KiB Write by R2T: CapsuleCmd in; R2T out; H2CData (16 KiB) in; engine write; CapsuleResp out.</summary>
    [Benchmark(OperationsPerInvoke = R2TDepth)]
    public void Write16KByR2T() => _io!.RoundTrip(_r2tWrites, R2TDepth, _r2tData);

    [GlobalCleanup]
    public void Cleanup()
    {
        // The I/O queues first, then the admin queue (which tears the controller down).
        _ioWithoutSqFlowControl?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _io?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _admin?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _volume?.Dispose();
        _reactors?.Dispose();
        _aio?.Dispose();
        _positional?.Dispose();
    }
}
