using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Tests;

/// <summary>A temporary file opened with O_DIRECT (ext4/xfs under the temp path), deleted on dispose.</summary>
internal sealed class DirectTestFile : IDisposable
{
    private readonly TempDirectory _directory = new();
    private int _fd;

    public DirectTestFile(long sizeBytes, bool direct = true)
    {
        FilePath = _directory.File("ring.img");
        int flags = Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC | (direct ? Libc.O_DIRECT : 0);
        _fd = Libc.Open(FilePath, flags, 0x180, out int errno);
        Assert.True(_fd >= 0, $"open({FilePath}, O_DIRECT) failed: {Libc.Describe(errno)}");
        Assert.Equal(0, Libc.Ftruncate(_fd, sizeBytes));
        if (direct)
        {
            // fdinfo "flags:" is octal; prove the kernel kept O_DIRECT.
            string flagsLine = File.ReadLines($"/proc/self/fdinfo/{_fd}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
            int fileFlags = Convert.ToInt32(flagsLine["flags:".Length..].Trim(), 8);
            Assert.True((fileFlags & Libc.O_DIRECT) != 0, $"{FilePath} is not open with O_DIRECT ({flagsLine})");
        }
    }

    public string FilePath { get; }

    public int Fd => _fd;

    /// <summary>Closes the descriptor early (the file stays until dispose).</summary>
    public void Close()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Assert.Equal(0, Libc.Close(fd));
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Libc.Close(fd);
        }
        _directory.Dispose();
    }
}

internal static class RingTestExtensions
{
    /// <summary>A ring on the calling thread; io_uring being unavailable fails the test with the reason.</summary>
    public static IoUring CreateRing(uint entries, uint flags = 0)
    {
        Assert.True(IoUring.IsSupported(out string reason), reason);
        return IoUring.Create(entries, flags);
    }

    /// <summary>Submits what is prepared and waits for exactly one completion, which it returns.</summary>
    public static IoUringCqe SubmitAndWaitOne(this IoUring ring)
    {
        Span<IoUringCqe> cqes = stackalloc IoUringCqe[1];
        _ = ring.Submit(waitFor: 1);
        Assert.Equal(1, ring.ReapCompletions(cqes));
        return cqes[0];
    }

    /// <summary>Gets an SQE, asserting the SQ has room.</summary>
    public static unsafe IoUringSqe* NextEntry(this IoUring ring)
    {
        Assert.True(ring.TryGetSubmissionEntry(out IoUringSqe* sqe), "the submission queue is full");
        return sqe;
    }
}
