using System.Buffers;
using BenchmarkDotNet.Attributes;
using NovaStor.Protocol;

namespace NovaStor.Benchmarks;

/// <summary>
/// Framing on the target's receive path: a CapsuleCmd (64-byte SQE, no data) and an H2CData with
/// 4 KiB of data, each as one segment and split across segments the way a pipe may hand them out.
/// With digests, the header and data CRC32C are checked too. Expected: 0 B allocated.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class PduFramerBenchmarks
{
    private const int DataLength = 4096;
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private PduFramingRules _rules;
    private ReadOnlySequence<byte> _capsule;
    private ReadOnlySequence<byte> _capsuleSplit;
    private ReadOnlySequence<byte> _data;
    private ReadOnlySequence<byte> _dataSplit;

    /// <summary>Header and data digests negotiated (HDGST/DDGST present and checked).</summary>
    [Params(false, true)]
    public bool Digests { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rules = new PduFramingRules(PduReceiver.Controller, true, Digests, Digests, 8192, 128 * 1024);

        var capsule = new byte[PduWriter.MaxHeaderWithDigest];
        var command = new SubmissionQueueEntry
        {
            Opcode = IoOpcode.Read,
            Flags = SubmissionQueueEntry.SglFlags,
            CommandId = 7,
            NamespaceId = 1,
            Sgl = new SglDescriptor(0, DataLength, SglDescriptor.TransportDataBlock),
        };
        int capsuleLength = PduWriter.WriteCapsuleCommandHeader(capsule, command, 0, Digests, Digests);
        capsule = capsule[..capsuleLength];
        _capsule = new ReadOnlySequence<byte>(capsule);
        // The common header itself straddles two segments, then the SQE a third time.
        _capsuleSplit = Sequences.Split(capsule, 5, 40);

        var data = new byte[PduWriter.MaxHeaderWithDigest + DataLength + PduSizes.Digest];
        var transfer = new DataTransferHeader(7, 3, 0, DataLength);
        int length = PduWriter.WriteDataHeader(data, PduType.HostToControllerData, transfer, last: true, success: false, Digests, Digests);
        new Random(1).NextBytes(data.AsSpan(length, DataLength));
        int dataEnd = length + DataLength;
        if (Digests)
        {
            PduWriter.WriteDataDigest(data.AsSpan(dataEnd), data.AsSpan(length, DataLength));
            dataEnd += PduSizes.Digest;
        }

        data = data[..dataEnd];
        _data = new ReadOnlySequence<byte>(data);
        // Header split, data split in the middle, digest split: four segments.
        _dataSplit = Sequences.Split(data, 12, length + 1000, dataEnd - 2);

        if (Frame(_capsule) != capsuleLength || Frame(_capsuleSplit) != capsuleLength || Frame(_data) != dataEnd || Frame(_dataSplit) != dataEnd)
        {
            throw new InvalidOperationException("the prepared PDUs do not frame");
        }
    }

    [Benchmark]
    public int CapsuleCommand() => Frame(_capsule);

    [Benchmark]
    public int CapsuleCommandMultiSegment() => Frame(_capsuleSplit);

    [Benchmark]
    public int HostToControllerData4K() => Frame(_data);

    [Benchmark]
    public int HostToControllerData4KMultiSegment() => Frame(_dataSplit);

    private int Frame(in ReadOnlySequence<byte> buffer)
    {
        var status = PduFramer.TryFrame(buffer, _rules, _header, out var frame, out _);
        return status == FrameStatus.Complete && frame.DataDigestValid ? frame.Length : -1;
    }
}

/// <summary>
/// The fixed-size PDUs the target's send path writes per command: CapsuleResp and the C2HData
/// header (4 KiB of data follow it). With digests, the header digest is computed. Expected: 0 B.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class PduWriterBenchmarks
{
    private readonly byte[] _destination = new byte[PduWriter.MaxHeaderWithDigest];
    private readonly CompletionQueueEntry _completion = new(0, 0, 12, 1, 7, NvmeStatus.Success);
    private readonly DataTransferHeader _transfer = new(7, 0, 0, 4096);

    [Params(false, true)]
    public bool Digests { get; set; }

    [Benchmark]
    public int WriteCapsuleResponse() => PduWriter.WriteCapsuleResponse(_destination, _completion, Digests);

    [Benchmark]
    public int WriteDataHeader() => PduWriter.WriteDataHeader(_destination, PduType.ControllerToHostData, _transfer, last: true, success: false, Digests, Digests);
}

/// <summary>CRC32C (header and data digests) over one contiguous buffer. Expected: 0 B.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(4 * 1024, 128 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(1).NextBytes(_data);
    }

    [Benchmark]
    public uint Compute() => Crc32C.Compute(_data);
}
