using System.Diagnostics;
using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>
/// A child process creates, resizes and deletes volumes in a loop and is killed with SIGKILL at a
/// random moment, again and again on the same folders. After every kill the catalog must load (the
/// old or the new one, never a torn one) and, once opened, match the files on disk exactly: every
/// member file of every volume, striped over both drives or not, and nothing else.
/// </summary>
public sealed class CatalogCrashTests
{
    private const int Rounds = 25;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_process_killed_while_changing_volumes_leaves_a_catalog_that_matches_the_disk()
    {
        using var directory = new TempDirectory();
        string drive0 = Path.Combine(directory.FullPath, "d0");
        string drive1 = Path.Combine(directory.FullPath, "d1");
        string child = Path.Combine(AppContext.BaseDirectory, "NovaStor.BlockEngine.CrashChild.dll");
        int changesSeen = 0;
        int stripedSeen = 0;

        for (int round = 0; round < Rounds; round++)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            // The test host's environment (profiler, startup-hook and runner variables) is not the child's.
            start.Environment.Clear();
            foreach (string name in (string[])["PATH", "HOME", "DOTNET_ROOT", "TMPDIR"])
            {
                if (Environment.GetEnvironmentVariable(name) is { } value)
                {
                    start.Environment[name] = value;
                }
            }

            start.ArgumentList.Add(child);
            start.ArgumentList.Add(directory.FullPath);
            start.ArgumentList.Add(round.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var process = Process.Start(start)!;
            // Read stderr as it comes (a message is built only on failure, never by waiting for EOF).
            var errors = new System.Text.StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                lock (errors)
                {
                    errors.AppendLine(e.Data);
                }
            };
            process.BeginErrorReadLine();
            string? ready = await process.StandardOutput.ReadLineAsync().WaitAsync(Limit);
            Assert.True(ready == "ready", $"the child did not start: {ready}");

            await Task.Delay(Random.Shared.Next(5, 120));
            if (process.HasExited)
            {
                await process.WaitForExitAsync().WaitAsync(Limit);
                Assert.Fail($"the child stopped by itself in round {round} (exit {process.ExitCode}): {errors}");
            }

            process.Kill(); // SIGKILL: no finally block, no flush, no dispose runs in the child
            await process.WaitForExitAsync().WaitAsync(Limit);

            // The catalog as the kill left it: old or new, never torn.
            var catalog = VolumeCatalog.Load(Path.Combine(drive0, VolumeCatalog.FileName));
            var manager = VolumeManager.Open(drive0, [("d0", drive0), ("d1", drive1)]);
            Assert.Equal(catalog.Volumes, manager.List()); // repair fixes files, never the catalog
            AssertCatalogMatchesDisk(manager, drive0, drive1);
            changesSeen += catalog.Volumes.Count;
            stripedSeen += catalog.Volumes.Count(v => v.IsStriped);
        }

        Assert.True(changesSeen > 0, "the child never committed a volume: the test exercised nothing");
        Assert.True(stripedSeen > 0, "the child never committed a striped volume: striping was not exercised");
    }

    private static void AssertCatalogMatchesDisk(VolumeManager manager, params string[] drives)
    {
        var expected = manager.List().SelectMany(manager.FilePaths).Order(StringComparer.Ordinal).ToArray();
        var present = drives.Where(Directory.Exists).SelectMany(d => Directory.EnumerateFiles(d, "*.img")).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, present);
        foreach (var volume in manager.List())
        {
            Assert.All(manager.FilePaths(volume), path => Assert.Equal(volume.SizeBytes, new FileInfo(path).Length));
        }

        Assert.Empty(drives.Where(Directory.Exists).SelectMany(d => Directory.EnumerateFiles(d, "*.deleting")));
        Assert.Empty(drives.Where(Directory.Exists).SelectMany(d => Directory.EnumerateFiles(d, "*.tmp")));
    }
}
