using NovaStor.BlockEngine.Volumes;
using NovaStor.Target.Hosting;

// The NovaStor target. With no configuration it serves the catalog volume "default" in ./data (1 GiB, thin) as
// namespace 1 of nqn.2026-11.io.novastor:default on 127.0.0.1:4420 and logs the nvme connect line.
try
{
    using var app = TargetHost.Build(args);
    await app.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException or CatalogCorruptException)
{
    // Configuration, a volume file or the listen address is unusable: say which, without a stack trace.
    await Console.Error.WriteLineAsync($"novastor-target: {ex.Message}").ConfigureAwait(false);
    return 2;
}
