using NovaStor.Protocol.Authentication;
using Xunit;

namespace NovaStor.Protocol.Tests.Authentication;

public sealed class DhchapSecretTests
{
    // Printed by nvme-cli 2.3: nvme gen-dhchap-key -l 32 -m 0 -s 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    private const string NvmeCliSecret = "DHHC-1:00:ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze/wsXcs:";

    [Fact]
    public void A_secret_nvme_cli_printed_reads_back_as_its_key_and_formats_the_same()
    {
        using var secret = DhchapSecret.Parse(NvmeCliSecret);
        Assert.Equal(0, secret.TransformHash);
        Assert.Equal(Convert.FromHexString("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), secret.TransformFor("any"));
        Assert.Equal(NvmeCliSecret, secret.Format());
    }

    [Fact]
    public void ToString_never_shows_the_key()
    {
        using var secret = DhchapSecret.Parse(NvmeCliSecret);
        Assert.DoesNotContain("ASNFZ4mrze8", secret.ToString(), StringComparison.Ordinal);
        Assert.Equal("DHHC-1:00:<32-byte key>:", secret.ToString());
    }

    [Theory]
    [InlineData("", "expected DHHC-1")]
    [InlineData("DHHC-2:00:ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze/wsXcs:", "expected DHHC-1")]
    [InlineData("DHHC-1:07:ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze/wsXcs:", "00, 01, 02 or 03")]
    [InlineData("DHHC-1:00:not*base64:", "not base64")]
    [InlineData("DHHC-1:00:ASNFZ4mrze8BI0VniavN7wEj:", "must be 32, 48 or 64")]
    [InlineData("DHHC-1:00:ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze/wsXct:", "CRC")]
    public void A_malformed_secret_is_refused_with_what_is_wrong_and_without_the_key(string text, string problem)
    {
        var failure = Assert.Throws<FormatException>(() => DhchapSecret.Parse(text));
        Assert.Contains(problem, failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ASNFZ4", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(32, 0)]
    [InlineData(48, 2)]
    [InlineData(64, 3)]
    public void Generated_secrets_round_trip(int length, byte transform)
    {
        using var secret = DhchapSecret.Generate(length, transform);
        using var again = DhchapSecret.Parse(secret.Format());
        Assert.True(again.SameAs(secret));
        Assert.Equal(length, again.Length);
    }

    [Fact]
    public void A_transformed_key_is_the_hmac_of_the_nqn_and_the_fabrics_string()
    {
        using var secret = DhchapSecret.Parse(NvmeCliSecret.Replace("DHHC-1:00:", "DHHC-1:01:", StringComparison.Ordinal));
        byte[] key = Convert.FromHexString("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        byte[] expected = System.Security.Cryptography.HMACSHA256.HashData(key, System.Text.Encoding.ASCII.GetBytes("nqn.2014-08.io.host" + "NVMe-over-Fabrics"));
        Assert.Equal(expected, secret.TransformFor("nqn.2014-08.io.host"));
    }
}
