using NovaStor.Initiator;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>Timing and allocation tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;

/// <summary>A target shared by a test class; each test uses its own block range.</summary>
public sealed class SharedTarget : IAsyncLifetime
{
    public RunningTarget Target { get; private set; } = null!;

    public async Task InitializeAsync() => Target = await RunningTarget.StartAsync();

    public async Task DisposeAsync() => await Target.DisposeAsync();
}

internal static class Support
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public const string FourKNqn = "nqn.2026-11.io.novastor:test-4k";

    /// <summary>Switches for a target whose one subsystem has a 4096-byte-block namespace.</summary>
    public static readonly string[] FourKTarget =
    [
        $"--NovaStor:Subsystems:0:Nqn={FourKNqn}",
        "--NovaStor:Subsystems:0:AllowAnyHost=true",
        "--NovaStor:Subsystems:0:Namespaces:0:Id=1",
        "--NovaStor:Subsystems:0:Namespaces:0:Volume=fourk",
        "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=268435456",
        "--NovaStor:Subsystems:0:Namespaces:0:BlockSize=4096",
    ];

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Limit);

    public static Task Within(this Task task) => task.WaitAsync(Limit);

    public static Task<T> Within<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Limit);

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static Task<NvmeController> ConnectAsync(RunningTarget target, NvmeConnectionOptions? options = null, string nqn = RunningTarget.DefaultNqn) =>
        NvmeController.ConnectAsync(target.EndPoint, nqn, options).Within();

    public static void AssertSuccess(NvmeResult result, string operation) =>
        Assert.True(result.IsSuccess, $"{operation}: {result}");
}
