using System.CommandLine;
using System.Globalization;

namespace NovaStor.Cli.Commands;

/// <summary>read: blocks of a namespace into -d FILE, or as a hex dump on standard output.</summary>
internal static class ReadCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var data = DataFile.Option("File to write the data to (default: a hex dump on standard output)");
        var command = new Command("read", "Read a block range into a file (or dump it as hex)");
        fabrics.AddTo(command);
        space.AddRange(command);
        command.Add(data);
        command.SetAction((result, token) => Failures.GuardAsync(context, "read", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                long blocks = space.Blocks(result, ns.BlockSize, null);
                ulong start = result.GetValue(space.StartBlock);
                string? path = result.GetValue(data);
                var buffer = new byte[DataFile.PieceBlocks(ns.BlockSize, blocks) * ns.BlockSize];
                FileStream? file = path is null ? null : DataFile.Create(path);
                await using (file)
                {
                    if (file is null)
                    {
                        HexDump.WriteHeader(context.Out);
                    }

                    for (long done = 0; done < blocks;)
                    {
                        int count = (int)Math.Min(blocks - done, buffer.Length / ns.BlockSize);
                        var piece = buffer.AsMemory(0, count * ns.BlockSize);
                        (await ns.ReadAsync(start + (ulong)done, piece, token).ConfigureAwait(false)).ThrowIfFailed("Read");
                        if (file is null)
                        {
                            HexDump.Write(context.Out, piece.Span, done * ns.BlockSize);
                        }
                        else
                        {
                            await file.WriteAsync(piece, token).ConfigureAwait(false);
                        }

                        done += count;
                    }
                }

                if (path is not null)
                {
                    await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"read: Success ({blocks} blocks from {start}, {blocks * ns.BlockSize} bytes to {path})")).ConfigureAwait(false);
                }

                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
