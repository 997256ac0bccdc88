using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>Every namespace command, each checked by reading the data back.</summary>
internal static class CommandExercise
{
    /// <summary>Uses 64 blocks from <paramref name="first"/> (and 64 more for Copy's destination).</summary>
    public static async Task RunAsync(NvmeNamespace ns, ulong first, int seed)
    {
        int block = ns.BlockSize;

        // Write then read: one block (in-capsule for 512), eight blocks (R2T beyond the capsule limit).
        var one = Support.RandomBytes(block, seed);
        Support.AssertSuccess(await ns.WriteAsync(first, one).Within(), "Write");
        var eight = Support.RandomBytes(8 * block, seed + 1);
        Support.AssertSuccess(await ns.WriteAsync(first + 1, eight, forceUnitAccess: true).Within(), "Write FUA");
        var back = new byte[9 * block];
        Support.AssertSuccess(await ns.ReadAsync(first, back).Within(), "Read");
        Assert.Equal([.. one, .. eight], back);

        Support.AssertSuccess(await ns.FlushAsync().Within(), "Flush");

        // Compare: equal data succeeds, different data reports Compare Failure by name.
        Support.AssertSuccess(await ns.CompareAsync(first + 1, eight).Within(), "Compare (equal)");
        var different = (byte[])eight.Clone();
        different[^1] ^= 0x5A;
        var mismatch = await ns.CompareAsync(first + 1, different).Within();
        Assert.False(mismatch.IsSuccess, "Compare of different data succeeded");
        Assert.Equal("Compare Failure", mismatch.StatusName);

        // Write Zeroes over blocks 1..4, the rest intact.
        Support.AssertSuccess(await ns.WriteZeroesAsync(first + 1, 4).Within(), "Write Zeroes");
        Support.AssertSuccess(await ns.ReadAsync(first, back).Within(), "Read after Write Zeroes");
        Assert.Equal(one, back[..block]);
        Assert.True(back.AsSpan(block, 4 * block).IndexOfAnyExcept((byte)0) < 0, "Write Zeroes left data behind");
        Assert.Equal(eight[(4 * block)..], back[(5 * block)..]);

        // Copy blocks 0..8 to first + 64.
        Support.AssertSuccess(await ns.CopyAsync(first, 9, first + 64).Within(), "Copy");
        var copied = new byte[9 * block];
        Support.AssertSuccess(await ns.ReadAsync(first + 64, copied).Within(), "Read the copy");
        Assert.Equal(back, copied);

        // Deallocate the copy: reads zeros when the namespace says so (DLFEAT), else just succeeds.
        Support.AssertSuccess(await ns.DeallocateAsync(first + 64, 9).Within(), "Deallocate");
        if (ns.Info.DeallocatedReadsAsZeros)
        {
            Support.AssertSuccess(await ns.ReadAsync(first + 64, copied).Within(), "Read after Deallocate");
            Assert.True(copied.AsSpan().IndexOfAnyExcept((byte)0) < 0, "deallocated blocks did not read as zeros");
        }

        // An NVMe error is a typed result with the status name, not an exception.
        var beyond = await ns.ReadAsync(ns.BlockCount, new byte[block]).Within();
        Assert.False(beyond.IsSuccess);
        Assert.Equal(StatusCodes.Describe(StatusCodes.LbaOutOfRange), beyond.StatusName);
        Assert.Equal("LBA Out of Range", beyond.StatusName);
    }
}
