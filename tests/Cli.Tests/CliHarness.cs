using System.Globalization;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>One in-process run of the CLI: exit code and what it wrote.</summary>
public sealed record CliRun(int ExitCode, string Out, string Error)
{
    public string All => Out + Error;

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>A target shared by a test class; each test uses its own block range.</summary>
public sealed class CliTarget : IAsyncLifetime
{
    public RunningTarget Target { get; private set; } = null!;

    /// <summary>-a/-s/-n for the target's default subsystem.</summary>
    public string[] Fabrics => ["-a", "127.0.0.1", "-s", Target.Port.ToString(CultureInfo.InvariantCulture), "-n", RunningTarget.DefaultNqn];

    public async Task InitializeAsync() => Target = await RunningTarget.StartAsync();

    public async Task DisposeAsync() => await Target.DisposeAsync();

    public Task<CliRun> RunAsync(string command, params string[] args) => Harness.RunAsync([command, .. Fabrics, .. args]);
}

/// <summary>A temporary folder for data files, deleted afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "novastor-cli-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Harness
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static async Task<CliRun> RunAsync(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = await Cli.RunAsync(args, output, error).WaitAsync(Limit);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    public static void Succeeded(CliRun run) => Assert.True(run.ExitCode == 0, run.ToString());

    /// <summary>Expected failures are one message, never an exception's stack.</summary>
    public static void NoStackTrace(CliRun run)
    {
        Assert.DoesNotContain("   at ", run.All, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception:", run.All, StringComparison.Ordinal);
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
