using System.Buffers;
using System.IO.Hashing;
using System.Text;
using Xunit;

namespace NovaStor.Protocol.Tests.Digests;

public sealed class Crc32CTests
{
    private static uint Oracle(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    private static byte[] RandomBytes(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static TheoryData<int> Lengths()
    {
        TheoryData<int> data = new();
        for (int n = 0; n <= 80; n++)
        {
            data.Add(n);
        }

        int[] interesting =
        [
            127, 128, 129, 255, 256, 257, 511, 512, 767, 768, 769, 1023, 1024, 1025, 1535, 1536, 1537,
            2303, 2304, 4095, 4096, 4097, 4100, 6143, 6144, 6145, 6151, 6912, 8192, 12287, 12288, 12289,
            12295, 13056, 16384, 32768, 65535, 65536, 65537, 69999, 70000,
        ];
        foreach (int n in interesting)
        {
            data.Add(n);
        }

        return data;
    }

    [Fact]
    public void KnownAnswer()
    {
        byte[] check = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, Crc32C.Compute(check));
        Assert.Equal(0xE3069283u, Crc32C.Finish(Crc32C.UpdateSoftware(Crc32C.InitialState, check)));
        Assert.Equal(0xE3069283u, Crc32C.Finish(Crc32C.UpdateHardware(Crc32C.InitialState, check)));
        Assert.Equal(0xE3069283u, Crc32C.Finish(Crc32C.UpdateHardwareSingleStream(Crc32C.InitialState, check)));
        Assert.Equal(0xE3069283u, Oracle(check));
    }

    [Fact]
    public void Rfc3720TestVectors()
    {
        byte[] zeros = new byte[32];
        byte[] ones = Enumerable.Repeat((byte)0xFF, 32).ToArray();
        byte[] up = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        byte[] down = Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray();
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(zeros));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(ones));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(up));
        Assert.Equal(0x113FDB5Cu, Crc32C.Compute(down));
    }

    [Fact]
    public void EmptyInputIsZero()
    {
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySpan<byte>.Empty));
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySequence<byte>.Empty));
        Assert.Equal(Crc32C.InitialState, Crc32C.Update(Crc32C.InitialState, ReadOnlySpan<byte>.Empty));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void MatchesSystemIoHashingAtEveryAlignment(int length)
    {
        byte[] buffer = RandomBytes(length + 8, length);
        for (int offset = 0; offset < 8; offset++)
        {
            ReadOnlySpan<byte> data = buffer.AsSpan(offset, length);
            uint expected = Oracle(data);
            Assert.Equal(expected, Crc32C.Compute(data));
            Assert.Equal(expected, Crc32C.Finish(Crc32C.UpdateSoftware(Crc32C.InitialState, data)));
            Assert.Equal(expected, Crc32C.Finish(Crc32C.UpdateHardware(Crc32C.InitialState, data)));
            Assert.Equal(expected, Crc32C.Finish(Crc32C.UpdateHardwareSingleStream(Crc32C.InitialState, data)));
        }
    }

    [Fact]
    public void RandomLengthsUpTo70000MatchOracle()
    {
        Random random = new(12345);
        byte[] buffer = RandomBytes(70_008, 99);
        for (int i = 0; i < 300; i++)
        {
            int length = random.Next(0, 70_001);
            int offset = random.Next(0, 8);
            ReadOnlySpan<byte> data = buffer.AsSpan(offset, length);
            uint expected = Oracle(data);
            Assert.Equal(expected, Crc32C.Compute(data));
            Assert.Equal(expected, Crc32C.Finish(Crc32C.UpdateSoftware(Crc32C.InitialState, data)));
            Assert.Equal(expected, Crc32C.Finish(Crc32C.UpdateHardware(Crc32C.InitialState, data)));
        }
    }

    [Fact]
    public void SoftwarePathEqualsHardwarePathFromAnyState()
    {
        Random random = new(7);
        for (int i = 0; i < 200; i++)
        {
            byte[] data = RandomBytes(random.Next(0, 20_000), i);
            uint state = (uint)random.Next() ^ ((uint)random.Next() << 16);
            uint software = Crc32C.UpdateSoftware(state, data);
            Assert.Equal(software, Crc32C.UpdateHardware(state, data));
            Assert.Equal(software, Crc32C.UpdateHardwareSingleStream(state, data));
        }
    }

    [Fact]
    public void IncrementalEqualsOneShot()
    {
        Random random = new(42);
        byte[] data = RandomBytes(70_000, 3);
        uint expected = Crc32C.Compute(data);
        for (int trial = 0; trial < 50; trial++)
        {
            uint state = Crc32C.InitialState;
            int at = 0;
            while (at < data.Length)
            {
                int step = Math.Min(data.Length - at, random.Next(0, trial % 2 == 0 ? 64 : 9000));
                state = Crc32C.Update(state, data.AsSpan(at, step));
                at += step;
            }

            Assert.Equal(expected, Crc32C.Finish(state));
        }
    }

    [Fact]
    public void AppendZerosOperatorMatchesFeedingZeros()
    {
        byte[] zeros = new byte[Crc32C.LongStride];
        Random random = new(5);
        for (int i = 0; i < 20; i++)
        {
            uint state = (uint)random.Next() ^ ((uint)random.Next() << 16);
            Assert.Equal(Crc32C.UpdateSoftware(state, zeros), Crc32C.AppendZerosSlow(state, zeros.Length));
            Assert.Equal(
                Crc32C.UpdateSoftware(state, zeros.AsSpan(0, Crc32C.ShortStride)),
                Crc32C.AppendZerosSlow(state, Crc32C.ShortStride));
        }
    }

    [Theory]
    [InlineData(new[] { 1, 1, 1 })]
    [InlineData(new[] { 0, 7, 0, 4096, 3 })]
    [InlineData(new[] { 5000, 5000, 5000 })]
    [InlineData(new[] { 24, 4096, 4 })]
    [InlineData(new[] { 8191, 1, 65536, 13 })]
    public void MultiSegmentSequenceEqualsContiguous(int[] segmentLengths)
    {
        byte[] contiguous = RandomBytes(segmentLengths.Sum(), segmentLengths.Length);
        ReadOnlySequence<byte> sequence = BuildSequence(contiguous, segmentLengths);
        Assert.False(sequence.IsSingleSegment);
        Assert.Equal(Crc32C.Compute(contiguous), Crc32C.Compute(sequence));
        Assert.Equal(Oracle(contiguous), Crc32C.Compute(sequence));
        Assert.Equal(
            Crc32C.Update(Crc32C.InitialState, contiguous),
            Crc32C.Update(Crc32C.InitialState, sequence));
    }

    [Fact]
    public void SingleSegmentSequenceEqualsSpan()
    {
        byte[] data = RandomBytes(1000, 1);
        Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(new ReadOnlySequence<byte>(data)));
    }

    [Fact]
    public void DigestIsLittleEndian()
    {
        Span<byte> digest = stackalloc byte[Crc32C.DigestLength];
        Crc32C.WriteDigest(digest, 0xE3069283);
        Assert.Equal(new byte[] { 0x83, 0x92, 0x06, 0xE3 }, digest.ToArray());
        Assert.Equal(0xE3069283u, Crc32C.ReadDigest(digest));
    }

    [Fact]
    public void ComputeDoesNotAllocate()
    {
        byte[] data = RandomBytes(70_000, 8);
        ReadOnlySequence<byte> sequence = BuildSequence(data, [30_000, 40_000]);
        _ = Crc32C.Compute(data);
        _ = Crc32C.Compute(sequence);
        long before = GC.GetAllocatedBytesForCurrentThread();
        uint sum = 0;
        for (int i = 0; i < 10; i++)
        {
            sum += Crc32C.Compute(data);
            sum += Crc32C.Compute(sequence);
            sum += Crc32C.Finish(Crc32C.UpdateSoftware(Crc32C.InitialState, data));
        }

        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.Equal(unchecked(30u * Crc32C.Compute(data)), sum);
    }

    private static ReadOnlySequence<byte> BuildSequence(byte[] data, int[] segmentLengths)
    {
        Segment? first = null;
        Segment? last = null;
        int at = 0;
        foreach (int length in segmentLengths)
        {
            Segment segment = new(data.AsMemory(at, length));
            at += length;
            if (first is null)
            {
                first = segment;
            }
            else
            {
                last!.Append(segment);
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
