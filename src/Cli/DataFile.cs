using System.CommandLine;
using NovaStor.Initiator;

namespace NovaStor.Cli;

/// <summary>
/// The -d/--data file of read, write and compare, moved in pieces so a range of any size needs
/// only one buffer of about a megabyte.
/// </summary>
internal static class DataFile
{
    private const int PieceBytes = 1 << 20;

    public static Option<string?> Option(string description) => new("--data", "-d") { Description = description, HelpName = "file" };

    /// <summary>Blocks per piece: about a megabyte, at least one block, never more than the range.</summary>
    public static int PieceBlocks(int blockSize, long rangeBlocks) =>
        (int)Math.Max(1, Math.Min(rangeBlocks, PieceBytes / blockSize));

    public static FileStream OpenRead(string path) =>
        File.Exists(path) ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true) : throw new CliUsageException($"data file {path} does not exist");

    public static FileStream Create(string path) =>
        new(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);

    /// <summary>
    /// Streams <paramref name="blocks"/> blocks of the file, piece by piece, to
    /// <paramref name="command"/> (first block, data) starting at <paramref name="start"/>;
    /// the first failed piece throws with <paramref name="name"/>. Write and Compare share it.
    /// </summary>
    public static async Task SendAsync(Stream file, int blockSize, ulong start, long blocks, string name,
        Func<ulong, ReadOnlyMemory<byte>, ValueTask<NvmeResult>> command, CancellationToken cancellationToken)
    {
        var buffer = new byte[PieceBlocks(blockSize, blocks) * blockSize];
        for (long done = 0; done < blocks;)
        {
            int count = (int)Math.Min(blocks - done, buffer.Length / blockSize);
            var piece = buffer.AsMemory(0, count * blockSize);
            await FillAsync(file, piece, cancellationToken).ConfigureAwait(false);
            (await command(start + (ulong)done, piece).ConfigureAwait(false)).ThrowIfFailed(name);
            done += count;
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from the file; what lies past its end reads as zeros (a short last block is padded).</summary>
    private static async Task FillAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int filled = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        buffer.Span[filled..].Clear();
    }
}
