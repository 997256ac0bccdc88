using Xunit;

namespace NovaStor.Cli.Tests;

public sealed class SizesTests
{
    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("4k", 4096L)]
    [InlineData("4K", 4096L)]
    [InlineData("1m", 1L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("2t", 2L << 40)]
    [InlineData("0", 0L)]
    public void Sizes_parse_with_binary_suffixes(string text, long expected)
    {
        Assert.True(Sizes.TryParse(text, out long bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("k")]
    [InlineData("-1")]
    [InlineData("1.5g")]
    [InlineData("99999999999t")]
    public void Malformed_sizes_are_refused(string text) => Assert.False(Sizes.TryParse(text, out _));
}
