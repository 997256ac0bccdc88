using System.Buffers;
using System.Buffers.Binary;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests.Fuzzing;

/// <summary>
/// Breaks a valid host stream the way a faulty or hostile host would: bit flips, truncation,
/// length fields changed, PDUs duplicated, reordered, dropped, garbage between them. All choices
/// come from the <see cref="Random"/> given, so a seed and a case number say exactly what was sent.
/// </summary>
internal static class StreamMutator
{
    private static readonly uint[] InterestingLengths = [0, 1, 7, 8, 23, 24, 71, 72, 127, 128, 4095, 4096, 8192, 8263, 65536, 131072, 1 << 20, int.MaxValue, uint.MaxValue];

    /// <summary>The PDUs of a valid host stream, framed as the target frames them.</summary>
    public static List<byte[]> Pdus(byte[] stream)
    {
        var pdus = new List<byte[]>();
        var rules = PduFramingRules.BeforeInitialization(PduReceiver.Controller);
        var header = new byte[PduFramer.MaxHeaderLength];
        var remaining = new ReadOnlySequence<byte>(stream);
        while (PduFramer.TryFrame(remaining, rules, header, out var frame, out var error) is var status && status != FrameStatus.Incomplete)
        {
            if (status == FrameStatus.Fatal)
            {
                throw new InvalidOperationException($"a template stream is not valid: {error.Reason}");
            }

            if (frame.Type == PduType.InitializeConnectionRequest)
            {
                var digests = InitializeConnectionRequest.Read(header).Digests;
                rules = new PduFramingRules(PduReceiver.Controller, true, (digests & DigestOptions.Header) != 0, (digests & DigestOptions.Data) != 0, 8192, 131072);
            }

            pdus.Add(remaining.Slice(0, frame.Length).ToArray());
            remaining = remaining.Slice(frame.Length);
        }

        return pdus;
    }

    /// <summary>One to three mutations of <paramref name="pdus"/>; digests are recomputed half the time, so that some mutants get past them.</summary>
    public static (byte[] Bytes, string Description) Mutate(List<byte[]> pdus, Random random)
    {
        var mutant = pdus.Select(p => p.ToArray()).ToList();
        var done = new List<string>();
        bool truncate = false;
        int count = random.Next(1, 4);
        for (int i = 0; i < count && mutant.Count > 0; i++)
        {
            int at = random.Next(mutant.Count);
            var pdu = mutant[at];
            switch (random.Next(8))
            {
                case 0:
                    {
                        // Mostly in the headers, where the framing decisions are.
                        int offset = random.Next(4) > 0 ? random.Next(Math.Min(pdu.Length, 80)) : random.Next(pdu.Length);
                        int bit = random.Next(8);
                        pdu[offset] ^= (byte)(1 << bit);
                        done.Add($"flip bit {bit} of byte {offset} in PDU {at}");
                        break;
                    }

                case 1:
                    {
                        int offset = random.Next(Math.Min(pdu.Length, 80));
                        byte value = (byte)random.Next(5) switch { 0 => 0x00, 1 => 0xFF, 2 => 0x7F, 3 => 0x80, _ => (byte)random.Next(256) };
                        pdu[offset] = value;
                        done.Add($"byte {offset} of PDU {at} = 0x{value:X2}");
                        break;
                    }

                case 2:
                    done.Add(ChangeLengthField(pdu, at, random));
                    break;
                case 3:
                    mutant.Insert(at + 1, pdu.ToArray());
                    done.Add($"duplicate PDU {at}");
                    break;
                case 4 when mutant.Count > 1:
                    {
                        int other = random.Next(mutant.Count);
                        (mutant[at], mutant[other]) = (mutant[other], mutant[at]);
                        done.Add($"swap PDUs {at} and {other}");
                        break;
                    }

                case 5 when mutant.Count > 1:
                    mutant.RemoveAt(at);
                    done.Add($"drop PDU {at}");
                    break;
                case 6:
                    {
                        var garbage = new byte[random.Next(1, 65)];
                        random.NextBytes(garbage);
                        mutant.Insert(at, garbage);
                        done.Add($"{garbage.Length} random bytes before PDU {at}");
                        break;
                    }

                default:
                    truncate = true;
                    break;
            }
        }

        if (random.Next(2) == 0)
        {
            foreach (var pdu in mutant)
            {
                FixDigests(pdu);
            }

            done.Add("digests recomputed");
        }

        var bytes = mutant.SelectMany(p => p).ToArray();
        if (truncate && bytes.Length > 1)
        {
            int length = random.Next(1, bytes.Length);
            done.Add($"truncated to {length} of {bytes.Length} bytes");
            bytes = bytes[..length];
        }

        return (bytes, string.Join(", ", done));
    }

    private static string ChangeLengthField(byte[] pdu, int at, Random random)
    {
        if (pdu.Length < PduSizes.CommonHeader)
        {
            return $"PDU {at} too short for a length field";
        }

        var type = (PduType)pdu[0];
        var fields = new List<(string Name, int Offset, int Size)> { ("PLEN", 4, 4), ("HLEN", 2, 1), ("PDO", 3, 1) };
        if (type is PduType.HostToControllerData && pdu.Length >= PduSizes.DataHeader)
        {
            fields.Add(("DATAL", DataTransferHeader.DataLengthOffset, 4));
            fields.Add(("DATAO", DataTransferHeader.DataOffsetOffset, 4));
        }

        if (type is PduType.CapsuleCommand && pdu.Length >= PduSizes.CapsuleCommandHeader)
        {
            // SQE at byte 8: the SGL length at SQE byte 32, NLB (CDW12 bits 15:0) at SQE byte 48.
            fields.Add(("SGL length", PduSizes.CommonHeader + 32, 4));
            fields.Add(("NLB", PduSizes.CommonHeader + 48, 2));
        }

        var (name, offset, size) = fields[random.Next(fields.Count)];
        uint current = size switch
        {
            1 => pdu[offset],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(pdu.AsSpan(offset)),
            _ => BinaryPrimitives.ReadUInt32LittleEndian(pdu.AsSpan(offset)),
        };
        uint value = random.Next(3) switch
        {
            0 => current + (uint)random.Next(-8, 9),
            1 => InterestingLengths[random.Next(InterestingLengths.Length)],
            _ => (uint)random.Next(),
        };
        switch (size)
        {
            case 1:
                pdu[offset] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16LittleEndian(pdu.AsSpan(offset), (ushort)value);
                break;
            default:
                BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(offset), value);
                break;
        }

        return $"{name} of PDU {at}: {current} -> {value}";
    }

    /// <summary>Recomputes the header and data digests a PDU's flags announce, where its lengths allow.</summary>
    private static void FixDigests(byte[] pdu)
    {
        if (pdu.Length < PduSizes.CommonHeader)
        {
            return;
        }

        var header = PduHeader.Read(pdu);
        int headerLength = header.HeaderLength;
        if ((header.Flags & PduFlags.HeaderDigest) != 0 && headerLength >= PduSizes.CommonHeader && pdu.Length >= headerLength + PduSizes.Digest)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(headerLength), Crc32C.Compute(pdu.AsSpan(0, headerLength)));
        }

        int end = (int)Math.Min(header.PduLength, (uint)pdu.Length);
        if ((header.Flags & PduFlags.DataDigest) != 0 && header.DataOffset > 0 && end - PduSizes.Digest > header.DataOffset)
        {
            var data = pdu.AsSpan(header.DataOffset, end - PduSizes.Digest - header.DataOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(end - PduSizes.Digest), Crc32C.Compute(data));
        }
    }
}
