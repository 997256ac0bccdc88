using System.Buffers.Binary;
using System.Net;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Discovery;

/// <summary>
/// Reads the discovery log (LID 70h) the way libnvme does: the header, then the entries at
/// offset 1024 in pieces of at most 4 KiB, then the header again; if GENCTR or NUMREC moved
/// in between, the whole read starts over (a bounded number of times).
/// </summary>
public static class NvmeDiscovery
{
    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    // Header: GENCTR u64 @0, NUMREC u64 @8, RECFMT u16 @16; entries from 1024.
    private const int PieceSize = 4096, MaxAttempts = 10;

    /// <summary>Connects to the discovery controller (KATO 0), reads the log, disconnects.</summary>
    public static async Task<DiscoveryLogPage> GetLogPageAsync(EndPoint endPoint, HostIdentity? host = null, HostQueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        await using var controller = await HostController.ConnectAsync(endPoint, DiscoveryNqn, host ?? HostIdentity.Create(), 0, options, enable: true, cancellationToken).ConfigureAwait(false);
        return await ReadLogPageAsync(controller, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a consistent log from a connected, enabled discovery controller.</summary>
    public static async Task<DiscoveryLogPage> ReadLogPageAsync(HostController controller, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(controller);
        var header = new byte[DiscoveryLog.HeaderSize];
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            await ReadAsync(controller, header, 0, cancellationToken).ConfigureAwait(false);
            ulong generation = BinaryPrimitives.ReadUInt64LittleEndian(header);
            ulong count = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
            if (count > 4096)
            {
                throw new NvmeTransportException($"discovery log: NUMREC {count} is implausible");
            }

            var entries = new byte[(int)count * DiscoveryLog.EntrySize];
            for (int offset = 0; offset < entries.Length; offset += PieceSize)
            {
                int length = Math.Min(PieceSize, entries.Length - offset);
                await ReadAsync(controller, entries.AsMemory(offset, length), (ulong)(DiscoveryLog.HeaderSize + offset), cancellationToken).ConfigureAwait(false);
            }

            await ReadAsync(controller, header, 0, cancellationToken).ConfigureAwait(false);
            if (BinaryPrimitives.ReadUInt64LittleEndian(header) != generation || BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8)) != count)
            {
                continue;
            }

            var records = new DiscoveryRecord[count];
            for (int i = 0; i < records.Length; i++)
            {
                records[i] = DiscoveryRecord.Parse(entries.AsSpan(i * DiscoveryLog.EntrySize, DiscoveryLog.EntrySize));
            }

            return new DiscoveryLogPage(generation, records);
        }

        throw new NvmeTransportException($"discovery log: GENCTR kept changing over {MaxAttempts} reads");
    }

    private static async Task ReadAsync(HostController controller, Memory<byte> destination, ulong offset, CancellationToken cancellationToken)
    {
        var completion = await controller.Admin.IssueAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.Discovery, destination.Length, offset), default, destination, cancellationToken).ConfigureAwait(false);
        HostController.Check($"Get Log Page 70h at offset {offset}", completion);
    }
}
