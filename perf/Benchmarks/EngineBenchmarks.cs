using BenchmarkDotNet.Attributes;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Aio;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.Benchmarks;

/// <summary>Which volume an <see cref="EngineBenchmarks"/> case runs against.</summary>
public enum EngineBackend
{
    /// <summary><see cref="IoUringFileVolume"/> on one reactor, O_DIRECT where the filesystem allows.</summary>
    IoUring,
    /// <summary><see cref="AioFileVolume"/> on one AIO reactor (Linux native AIO, O_DIRECT): where io_uring is refused.</summary>
    Aio,
    /// <summary><see cref="FileVolume"/>: pread/pwrite on the thread pool.</summary>
    File,
    /// <summary><see cref="MemoryVolume"/>: memory copies on the thread pool (the engine's overhead alone).</summary>
    Memory,
}

/// <summary>
/// The block engine's own per-request cost and allocation: <see cref="Operations"/> random 4 KiB
/// reads or writes per invocation, <see cref="Depth"/> in flight, each completion resubmitting
/// from the engine thread. Time and bytes are per request. Allocation is process wide, so the
/// reactor thread and the thread pool count too; the goal is 0 B per request.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EngineBenchmarks
{
    public const int Operations = 256;
    public const int Depth = 32;

    private const int BlockSize = 4096;
    private const long VolumeBytes = 64L * 1024 * 1024;

    private DirectoryInfo? _directory;
    private ReactorPool? _reactors;
    private AioReactorPool? _aio;
    private IBlockVolume? _volume;
    private EngineBatch? _batch;

    [Params(EngineBackend.IoUring, EngineBackend.Aio, EngineBackend.File, EngineBackend.Memory)]
    public EngineBackend Backend { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (Backend == EngineBackend.Memory)
        {
            _volume = new MemoryVolume(VolumeBytes, BlockSize);
        }
        else
        {
            _directory = Directory.CreateTempSubdirectory("novastor-engine-bench-");
            string path = Path.Combine(_directory.FullName, "volume.dat");
            WriteWholeFile(path);
            if (Backend == EngineBackend.IoUring)
            {
                _reactors = new ReactorPool(new ReactorPoolOptions { Count = 1 });
                _volume = IoUringFileVolume.OpenOrCreate(path, VolumeBytes, BlockSize, _reactors);
            }
            else if (Backend == EngineBackend.Aio)
            {
                _aio = new AioReactorPool();
                _volume = AioFileVolume.Create(FileVolume.OpenOrCreate(path, VolumeBytes, BlockSize), _aio);
            }
            else
            {
                _volume = FileVolume.OpenOrCreate(path, VolumeBytes, BlockSize);
            }
        }

        // As a target queue does: one lane (on io_uring, its buffers registered with the reactor's ring).
        _batch = new EngineBatch(_volume, Operations, Depth, BlockSize, _reactors?.AcquireLane() ?? _aio?.AcquireLane());
        // Warm up: the reactor's slot table, the inbox segment and the dispatcher's work items grow to their peak now.
        for (int i = 0; i < 32; i++)
        {
            _batch.Run(BlockOperation.Write);
            _batch.Run(BlockOperation.Read);
        }
        ThrowOnFailures();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        ThrowOnFailures();
        _volume?.Dispose();
        _reactors?.Dispose();
        _aio?.Dispose();
        _batch?.Dispose();
        _directory?.Delete(recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public void Read4K() => _batch!.Run(BlockOperation.Read);

    [Benchmark(OperationsPerInvoke = Operations)]
    public void Write4K() => _batch!.Run(BlockOperation.Write);

    /// <summary>Writes every byte once (not a sparse file), so reads measure the disk, not holes.</summary>
    private static void WriteWholeFile(string path)
    {
        var chunk = new byte[1 << 20];
        new Random(3).NextBytes(chunk);
        using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        for (long offset = 0; offset < VolumeBytes; offset += chunk.Length)
        {
            RandomAccess.Write(handle, chunk, offset);
        }
        RandomAccess.FlushToDisk(handle);
    }

    private void ThrowOnFailures()
    {
        if (_batch is { Failures: > 0 })
        {
            throw new InvalidOperationException($"{_batch.Failures} requests failed on {Backend}.");
        }
    }
}
