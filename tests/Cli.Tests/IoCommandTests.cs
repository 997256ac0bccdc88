using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>The I/O commands end to end through files; each test has its own block range of the 512-byte namespace.</summary>
public sealed class IoCommandTests(CliTarget shared) : IClassFixture<CliTarget>
{
    private const int Block = 512;

    [Fact]
    public async Task A_file_written_reads_back_into_another_file()
    {
        using var dir = new TempDir();
        // Larger than the CLI's 1 MiB piece and not a whole number of blocks: the last block is padded.
        var data = Harness.RandomBytes((3 << 20) + 100, 1);
        await File.WriteAllBytesAsync(dir.File("in"), data);
        var write = await shared.RunAsync("write", "-S", "10000", "-d", dir.File("in"), "--fua");
        Harness.Succeeded(write);
        int blocks = (data.Length + Block - 1) / Block;
        Assert.Contains($"write: Success ({blocks} blocks at 10000", write.Out, StringComparison.Ordinal);

        var read = await shared.RunAsync("read", "--start-block", "10000", "-c", blocks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data", dir.File("out"));
        Harness.Succeeded(read);
        var back = await File.ReadAllBytesAsync(dir.File("out"));
        Assert.Equal(blocks * Block, back.Length);
        Assert.Equal(data, back[..data.Length]);
        Assert.All(back[data.Length..], b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Read_without_a_file_dumps_hex_on_stdout()
    {
        using var dir = new TempDir();
        var data = "NovaStor hex dump"u8.ToArray().Concat(new byte[Block - 17]).ToArray();
        await File.WriteAllBytesAsync(dir.File("in"), data);
        Harness.Succeeded(await shared.RunAsync("write", "-S", "20000", "-d", dir.File("in")));
        var read = await shared.RunAsync("read", "-S", "20000", "-z", "512");
        Harness.Succeeded(read);
        Assert.Contains("00000000: 4e 6f 76 61 53 74 6f 72 20 68 65 78 20 64 75 6d  \"NovaStor hex dum\"", read.Out, StringComparison.Ordinal);
        Assert.Contains("000001f0:", read.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Flush_succeeds()
    {
        var run = await shared.RunAsync("flush", "-N", "1");
        Harness.Succeeded(run);
        Assert.Contains("flush: Success", run.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, 30000)]
    [InlineData(true, 31000)]
    public async Task Write_zeroes_then_the_range_reads_zeros(bool deallocate, int start)
    {
        using var dir = new TempDir();
        string first = start.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await File.WriteAllBytesAsync(dir.File("in"), Harness.RandomBytes(32 * Block, start));
        Harness.Succeeded(await shared.RunAsync("write", "-S", first, "-d", dir.File("in")));
        string[] extra = deallocate ? ["--deac"] : [];
        Harness.Succeeded(await shared.RunAsync("write-zeroes", ["-S", first, "-c", "32", .. extra]));
        Harness.Succeeded(await shared.RunAsync("read", "-S", first, "-c", "32", "-d", dir.File("out")));
        var back = await File.ReadAllBytesAsync(dir.File("out"));
        Assert.Equal(32 * Block, back.Length);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Dsm_deallocates_ranges()
    {
        using var dir = new TempDir();
        await File.WriteAllBytesAsync(dir.File("in"), Harness.RandomBytes(64 * Block, 7));
        Harness.Succeeded(await shared.RunAsync("write", "-S", "40000", "-d", dir.File("in")));
        var run = await shared.RunAsync("dsm", "--ad", "--slbs", "40000,40032", "--blocks", "16,16");
        Harness.Succeeded(run);
        Assert.Contains("dsm: Success (2 range(s) deallocated)", run.Out, StringComparison.Ordinal);

        // The default namespace reports DLFEAT "deallocated blocks read as zeros".
        var ns = await shared.RunAsync("id-ns");
        if (ns.Out.Contains("deallocated blocks read as zeros", StringComparison.Ordinal))
        {
            Harness.Succeeded(await shared.RunAsync("read", "-S", "40000", "-c", "16", "-d", dir.File("out")));
            Assert.All(await File.ReadAllBytesAsync(dir.File("out")), b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public async Task Dsm_without_ad_is_refused_with_usage()
    {
        var run = await shared.RunAsync("dsm", "--slbs", "0", "--blocks", "1");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("pass --ad", run.All, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public async Task Copy_then_the_destination_reads_as_the_sources()
    {
        using var dir = new TempDir();
        var data = Harness.RandomBytes(24 * Block, 9);
        await File.WriteAllBytesAsync(dir.File("in"), data);
        Harness.Succeeded(await shared.RunAsync("write", "-S", "50000", "-d", dir.File("in")));
        // Two ranges, placed one after the other from --sdlba: blocks 50016..50023 then 50000..50015.
        var copy = await shared.RunAsync("copy", "--slbs", "50016,50000", "--blocks", "8,16", "--sdlba", "51000");
        Harness.Succeeded(copy);
        Assert.Contains("copy: Success (24 blocks to 51000)", copy.Out, StringComparison.Ordinal);
        Harness.Succeeded(await shared.RunAsync("read", "-S", "51000", "-c", "24", "-d", dir.File("out")));
        var back = await File.ReadAllBytesAsync(dir.File("out"));
        Assert.Equal(data[(16 * Block)..], back[..(8 * Block)]);
        Assert.Equal(data[..(16 * Block)], back[(8 * Block)..]);
    }

    [Fact]
    public async Task Compare_succeeds_on_equal_data_and_reports_a_miscompare()
    {
        using var dir = new TempDir();
        var data = Harness.RandomBytes(16 * Block, 11);
        await File.WriteAllBytesAsync(dir.File("in"), data);
        Harness.Succeeded(await shared.RunAsync("write", "-S", "60000", "-d", dir.File("in")));

        var same = await shared.RunAsync("compare", "-S", "60000", "-d", dir.File("in"));
        Harness.Succeeded(same);
        Assert.Contains("compare: Success (16 blocks at 60000", same.Out, StringComparison.Ordinal);

        data[5 * Block] ^= 0xFF;
        await File.WriteAllBytesAsync(dir.File("other"), data);
        var different = await shared.RunAsync("compare", "-S", "60000", "-d", dir.File("other"));
        Assert.Equal(ExitCodes.NvmeStatus, different.ExitCode);
        Assert.Contains("Compare Failure", different.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(different);
    }

    [Fact]
    public async Task A_range_past_the_end_prints_the_status_name_and_exits_1()
    {
        using var dir = new TempDir();
        var run = await shared.RunAsync("read", "-S", ((1UL << 30) / Block).ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "1", "-d", dir.File("out"));
        Assert.Equal(ExitCodes.NvmeStatus, run.ExitCode);
        Assert.Contains("NVMe status", run.Error, StringComparison.Ordinal);
        Assert.Contains("LBA Out of Range", run.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }
}
