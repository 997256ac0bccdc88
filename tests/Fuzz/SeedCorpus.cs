using System.Security.Cryptography;
using System.Text;
using NovaStor.Protocol;

namespace NovaStor.Fuzz;

/// <summary>
/// Writes the committed seed corpus from <see cref="SeedStreams"/>, with the project's own PDU
/// writers, so that it follows the code: run <c>NovaStor.Fuzz seed tests/Fuzz</c> after changing
/// the wire format, and commit the result. Every <c>queue</c> seed is first run through the harness
/// and must do what it says (each command answered as expected, no termination, the healthy probe
/// passes), so a seed that stopped being valid fails here instead of silently fuzzing less.
/// </summary>
internal static class SeedCorpus
{
    /// <summary>The segment lengths (minus one) the framer seeds are also framed in, in turn.</summary>
    private static readonly byte[] Splits = [255, 0, 7, 63, 12, 130];

    public static int Write(string directory)
    {
        string queueDirectory = Path.Combine(directory, "corpus", "queue");
        string framerDirectory = Path.Combine(directory, "corpus", "framer");
        var queueSeeds = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var framerSeeds = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var queue = new QueueCase();
        foreach (var seed in SeedStreams.Queue(QueueCase.SubsystemNqn))
        {
            var input = seed.ToInput();
            var views = queue.Run(input, probe: true);
            if (seed.Check(views) is { } problem)
            {
                Console.Error.WriteLine($"seed {seed.Name}: {problem}");
                return 1;
            }

            queueSeeds.Add(seed.Name, input);

            for (int i = 0; i < seed.Connections.Length; i++)
            {
                var sent = seed.Connections[i].ToArray();
                framerSeeds.TryAdd(Hash(0, sent), sent);
                framerSeeds.TryAdd(Hash(FramerCase.ReceiverIsHost, views[i].Raw), views[i].Raw);

                if (seed.Connections[i].Digests != DigestOptions.None && sent.Length > PduSizes.InitializeConnection)
                {
                    // Already initialized with digests: the framer meets digested PDUs from the first byte.
                    byte control = (byte)(FramerCase.StartInitialized
                        | (seed.Connections[i].HeaderDigest ? FramerCase.HeaderDigest : 0)
                        | (seed.Connections[i].DataDigest ? FramerCase.DataDigest : 0));
                    var rest = sent[PduSizes.InitializeConnection..];
                    framerSeeds.TryAdd(Hash(control, rest), rest);
                }
            }
        }

        // Every seed passed: only now replace the committed files.
        foreach (var folder in new[] { queueDirectory, framerDirectory })
        {
            Directory.CreateDirectory(folder);
            foreach (var stale in Directory.GetFiles(folder))
            {
                File.Delete(stale);
            }
        }

        foreach (var (name, input) in queueSeeds)
        {
            File.WriteAllBytes(Path.Combine(queueDirectory, name), input);
        }

        int index = 0;
        foreach (var (name, stream) in framerSeeds.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            byte control = Convert.FromHexString(name[..2])[0];
            byte[] input = [control, Splits[index % Splits.Length], .. stream];
            File.WriteAllBytes(Path.Combine(framerDirectory, name), input);
            index++;
        }

        File.WriteAllText(Path.Combine(directory, "nvme-tcp.dict"), Dictionary());
        Console.WriteLine($"wrote {queueSeeds.Count} queue seeds, {framerSeeds.Count} framer seeds and nvme-tcp.dict under {directory}");
        return 0;
    }

    /// <summary>A stable name for a framer seed: its control byte, then a digest of its bytes.</summary>
    private static string Hash(byte control, byte[] stream) =>
        $"{control:x2}-{Convert.ToHexStringLower(SHA256.HashData(stream))[..16]}";

    /// <summary>
    /// AFL's dictionary: tokens it splices into inputs. The connection separator, the NQNs the target
    /// knows, and the first bytes of each PDU type's header (type, flags, HLEN, PDO), with and
    /// without digests, so that havoc can build new PDUs instead of waiting to guess them.
    /// </summary>
    private static string Dictionary()
    {
        var text = new StringBuilder();
        text.AppendLine("# AFL dictionary for the NovaStor fuzz targets; written by `NovaStor.Fuzz seed`, do not edit.");
        Add(text, "connection_separator", QueueCase.ConnectionSeparator.ToArray());
        Add(text, "subsystem_nqn", Encoding.ASCII.GetBytes(QueueCase.SubsystemNqn));
        Add(text, "discovery_nqn", Encoding.ASCII.GetBytes(SeedStreams.DiscoveryNqn));
        Add(text, "host_nqn", Encoding.ASCII.GetBytes(SeedStreams.Host.HostNqn));
        foreach (var type in Enum.GetValues<PduType>())
        {
            byte hlen = (byte)PduSizes.HeaderLengthOf(type);
            foreach (var flags in new[] { PduFlags.None, PduFlags.HeaderDigest, PduFlags.HeaderDigest | PduFlags.DataDigest, PduFlags.LastPdu })
            {
                Add(text, $"pdu_{type}_{(byte)flags:x2}", [(byte)type, (byte)flags, hlen]);
            }
        }

        foreach (var (name, opcode) in new[] { ("fabrics", AdminOpcode.Fabrics), ("identify", AdminOpcode.Identify), ("get_log_page", AdminOpcode.GetLogPage), ("write", IoOpcode.Write), ("read", IoOpcode.Read) })
        {
            Add(text, $"sqe_{name}_sgl", [opcode, SubmissionQueueEntry.SglFlags]);
        }

        Add(text, "sgl_transport_data_block", [SglDescriptor.TransportDataBlock]);
        return text.ToString();
    }

    private static void Add(StringBuilder text, string name, byte[] value)
    {
        text.Append(name).Append("=\"");
        foreach (byte b in value)
        {
            text.Append(b is >= 0x20 and < 0x7F and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:X2}");
        }

        text.AppendLine("\"");
    }
}
