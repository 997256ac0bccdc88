using System.Numerics;
using NovaStor.Protocol.Authentication;
using Xunit;

namespace NovaStor.Protocol.Tests.Authentication;

public sealed class FfdheTests
{
    public static TheoryData<DhchapGroup> Groups => [DhchapGroup.Ffdhe2048, DhchapGroup.Ffdhe3072, DhchapGroup.Ffdhe4096, DhchapGroup.Ffdhe6144, DhchapGroup.Ffdhe8192];

    [Theory]
    [MemberData(nameof(Groups))]
    public void Each_prime_has_its_size_and_rfc_7919_shape(DhchapGroup group)
    {
        var prime = FfdheKeyExchange.Prime(group);
        int bits = DhchapGroups.ValueLength(group) * 8;
        Assert.Equal(bits, (int)prime.GetBitLength());
        var low64 = (BigInteger.One << 64) - 1;
        Assert.Equal(low64, prime & low64);
        Assert.Equal(low64, prime >> (bits - 64));
    }

    [Theory]
    [InlineData(DhchapGroup.Ffdhe2048)]
    [InlineData(DhchapGroup.Ffdhe3072)]
    public void The_smaller_primes_are_safe_primes(DhchapGroup group)
    {
        var prime = FfdheKeyExchange.Prime(group);
        Assert.True(ProbablyPrime(prime), "p is composite");
        Assert.True(ProbablyPrime((prime - 1) / 2), "(p-1)/2 is composite");
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Both_sides_derive_the_same_secret(DhchapGroup group)
    {
        var host = new FfdheKeyExchange(group);
        var controller = new FfdheKeyExchange(group);
        Assert.Equal(DhchapGroups.ValueLength(group), host.PublicValue.Length);
        Assert.Equal(host.TryDeriveSharedSecret(controller.PublicValue), controller.TryDeriveSharedSecret(host.PublicValue));
    }

    [Fact]
    public void Public_values_that_force_a_known_secret_are_refused()
    {
        var side = new FfdheKeyExchange(DhchapGroup.Ffdhe2048);
        var prime = FfdheKeyExchange.Prime(DhchapGroup.Ffdhe2048);
        foreach (var value in new[] { BigInteger.Zero, BigInteger.One, prime - 1, prime })
        {
            var bytes = new byte[256];
            value.TryWriteBytes(bytes.AsSpan(256 - value.GetByteCount(true)), out _, isUnsigned: true, isBigEndian: true);
            Assert.Null(side.TryDeriveSharedSecret(bytes));
        }

        Assert.Null(side.TryDeriveSharedSecret(new byte[255]));
    }

    /// <summary>Miller-Rabin with the first 12 prime bases: enough to catch a mistyped constant.</summary>
    private static bool ProbablyPrime(BigInteger n)
    {
        var d = n - 1;
        int r = 0;
        while (d.IsEven)
        {
            d >>= 1;
            r++;
        }

        foreach (int a in new[] { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 })
        {
            var x = BigInteger.ModPow(a, d, n);
            if (x.IsOne || x == n - 1)
            {
                continue;
            }

            bool witness = true;
            for (int i = 1; i < r && witness; i++)
            {
                x = BigInteger.ModPow(x, 2, n);
                witness = x != n - 1;
            }

            if (witness)
            {
                return false;
            }
        }

        return true;
    }
}
