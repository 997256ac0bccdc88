using System.Text;
using System.Text.RegularExpressions;

namespace NovaStor.Target.Core;

/// <summary>
/// What an NQN must look like (NVMe Base 2.0, section 4.5): "nqn.", a year and month, the
/// reversed domain of the naming authority, optionally ":" and a name of its own; at most 223
/// bytes of UTF-8. The UUID form (nqn.2014-08.org.nvmexpress:uuid:...) is a case of it.
/// </summary>
internal static partial class NqnRules
{
    public const int MaxBytes = 223;

    [GeneratedRegex(@"^nqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[^\x00-\x1f]+)?$")]
    private static partial Regex Format();

    /// <summary>Why <paramref name="nqn"/> is not a valid NQN, in words that say how to fix it; null when it is valid.</summary>
    public static string? Problem(string nqn)
    {
        if (string.IsNullOrEmpty(nqn))
        {
            return "an NQN is required";
        }

        int bytes = Encoding.UTF8.GetByteCount(nqn);
        if (bytes > MaxBytes)
        {
            return $"'{nqn[..Math.Min(nqn.Length, 40)]}...' is {bytes} bytes; an NQN is at most {MaxBytes} bytes";
        }

        if (!Format().IsMatch(nqn))
        {
            return $"'{nqn}' is not an NQN: use nqn.YYYY-MM.reversed.domain[:name], e.g. nqn.2026-12.com.example:volume1";
        }

        return null;
    }
}
