using System.ComponentModel;
using System.Diagnostics;

namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// A loop device over a sparse temp file, so block-device code is tested without touching a real
/// disk. Detached (losetup -d) and its file deleted on Dispose. Needs root and /dev/loop-control;
/// where they are missing the test fails and says so (CI runs as root on the same image).
/// </summary>
internal sealed class LoopDevice : IDisposable
{
    private int _disposed;

    private LoopDevice(string devicePath, string backingFile)
    {
        DevicePath = devicePath;
        BackingFile = backingFile;
    }

    /// <summary>/dev/loopN.</summary>
    public string DevicePath { get; }

    /// <summary>The sparse file behind the device, in the temp directory (ext4 here).</summary>
    public string BackingFile { get; }

    /// <param name="sizeBytes">Size of the backing file, hence of the device.</param>
    /// <param name="sectorSize">The device's logical block size (losetup --sector-size).</param>
    public static LoopDevice Create(long sizeBytes, int sectorSize = 512)
    {
        string file = Path.Combine(Path.GetTempPath(), $"novastor-loop-{Guid.NewGuid():N}.img");
        using (var stream = new FileStream(file, FileMode.CreateNew))
        {
            stream.SetLength(sizeBytes);
        }
        try
        {
            string device = Run("losetup", "--find", "--show", "--sector-size", sectorSize.ToString(System.Globalization.CultureInfo.InvariantCulture), file).Trim();
            Assert.True(device.StartsWith("/dev/loop", StringComparison.Ordinal), $"losetup printed '{device}', not a loop device");
            return new LoopDevice(device, file);
        }
        catch
        {
            File.Delete(file);
            throw;
        }
    }

    /// <summary>Reads the backing file (what the device holds, once flushed).</summary>
    public byte[] ReadBacking(long offset, int length)
    {
        byte[] data = new byte[length];
        using var stream = new FileStream(BackingFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Position = offset;
        stream.ReadExactly(data);
        return data;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            // A device still open (a volume whose Dispose timed out) is detached on its last close.
            Run("losetup", "-d", DevicePath);
        }
        finally
        {
            File.Delete(BackingFile);
        }
    }

    /// <summary>Runs a tool to completion; a missing tool or a non-zero exit fails the test with its output.</summary>
    public static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        string command = $"{tool} {string.Join(' ', arguments)}";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException)
        {
            Assert.Fail($"Cannot run '{command}': {ex.Message}. The block-device tests need util-linux and root.");
            throw; // not reached
        }
        using (process)
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> error = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(60_000), $"'{command}' did not finish within a minute");
            process.WaitForExit();
            Assert.True(process.ExitCode == 0,
                $"'{command}' failed with exit code {process.ExitCode}: {error.Result.Trim()}. The block-device tests need root and loop devices (/dev/loop-control).");
            return output.Result;
        }
    }
}

/// <summary>
/// An ext4 filesystem on a loop device with 4096-byte sectors, mounted in a temp directory: its
/// files report an O_DIRECT offset alignment of 4096 (the temp directory's is 512 here).
/// Unmounted, detached and deleted on Dispose.
/// </summary>
internal sealed class FourKibibyteFilesystem : IDisposable
{
    private readonly LoopDevice _device;
    private readonly string _mountPoint;
    private bool _mounted;

    public FourKibibyteFilesystem()
    {
        _device = LoopDevice.Create(64L << 20, 4096);
        _mountPoint = Path.Combine(Path.GetTempPath(), $"novastor-mnt-{Guid.NewGuid():N}");
        try
        {
            LoopDevice.Run("mkfs.ext4", "-q", "-F", _device.DevicePath);
            Directory.CreateDirectory(_mountPoint);
            LoopDevice.Run("mount", _device.DevicePath, _mountPoint);
            _mounted = true;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string File(string name) => Path.Combine(_mountPoint, name);

    public void Dispose()
    {
        try
        {
            if (_mounted)
            {
                _mounted = false;
                LoopDevice.Run("umount", _mountPoint);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(_mountPoint);
            }
            catch (IOException)
            {
            }
            _device.Dispose();
        }
    }
}
