using System.Net.Sockets;
using System.Text;

namespace NovaStor.Conformance.Csi;

/// <summary>
/// The guest's command channel (csi-node.sh): a shell script sent over a forwarded port, run there
/// with <c>sh -e</c>, its output and exit code sent back; one connection per script, each bounded
/// in time.
/// </summary>
internal sealed class GuestShell(int port, Action<string> log)
{
    private const string ExitMarker = "NOVASTOR-COMMAND-EXIT=";

    public sealed record Result(int ExitCode, string Output);

    public async Task<Result> RunAsync(string script, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(script.ReplaceLineEndings("\n") + "\nNOVASTOR-END\n"), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string output;
        try
        {
            output = await reader.ReadToEndAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The guest did not finish this within {limit.TotalSeconds:0} s:\n{script}");
        }

        int marker = output.LastIndexOf(ExitMarker, StringComparison.Ordinal);
        if (marker < 0)
        {
            throw new IOException($"The guest's command channel closed without an exit code; output:\n{output}");
        }

        int exit = int.Parse(output.AsSpan(marker + ExitMarker.Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        string text = output[..marker];
        log($"[guest] $ {script.Trim().Replace("\n", "\n[guest] > ", StringComparison.Ordinal)}\n{text}[guest] exit {exit}");
        return new Result(exit, text);
    }

    /// <summary>Runs the script; it must succeed (<paramref name="what"/> says what it shows).</summary>
    public async Task<string> RequireAsync(string what, string script, int limitSeconds = 120)
    {
        var result = await RunAsync(script, TimeSpan.FromSeconds(limitSeconds));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"In the guest, {what}: failed (exit {result.ExitCode}):\n{result.Output}");
        }

        return result.Output;
    }
}
