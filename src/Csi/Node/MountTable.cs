using System.Text;

namespace NovaStor.Csi.Node;

/// <summary>One line of /proc/self/mountinfo: what is mounted where.</summary>
internal sealed record MountEntry(string MountPoint, string Root, string FileSystem, string Source, IReadOnlyList<string> Options);

/// <summary>
/// The mounts of this process's mount namespace, from /proc/self/mountinfo (the kernel's own
/// list, not /etc/mtab): whether a staging or target path is mounted and with what, so that stage
/// and publish can tell "already done" from "something else is there".
/// </summary>
internal static class MountTable
{
    public const string ProcMountInfo = "/proc/self/mountinfo";

    public static IReadOnlyList<MountEntry> Read(string path = ProcMountInfo) => Parse(File.ReadAllLines(path));

    /// <summary>
    /// Parses mountinfo lines: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE
    /// SOURCE SUPEROPTIONS" (proc(5)); paths have space, tab, newline and backslash escaped as \ooo.
    /// Lines that do not fit are skipped.
    /// </summary>
    public static IReadOnlyList<MountEntry> Parse(IEnumerable<string> lines)
    {
        var entries = new List<MountEntry>();
        foreach (string line in lines)
        {
            string[] fields = line.Split(' ');
            int separator = fields.Length > 8 ? Array.IndexOf(fields, "-", 6) : -1;
            if (separator < 6 || separator + 2 >= fields.Length)
            {
                continue;
            }

            // Per-mount options, then the filesystem's own (superblock) options.
            var superOptions = separator + 3 < fields.Length ? fields[separator + 3].Split(',') : [];
            var options = fields[5].Split(',').Concat(superOptions).Distinct(StringComparer.Ordinal).ToArray();
            entries.Add(new MountEntry(Unescape(fields[4]), Unescape(fields[3]), fields[separator + 1], Unescape(fields[separator + 2]), options));
        }

        return entries;
    }

    /// <summary>The topmost mount at <paramref name="path"/>, or null.</summary>
    public static MountEntry? At(IReadOnlyList<MountEntry> mounts, string path)
    {
        string wanted = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        return mounts.LastOrDefault(m => m.MountPoint == wanted);
    }

    private static string Unescape(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        var text = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && IsOctal(value, i + 1))
            {
                text.Append((char)Convert.ToInt32(value.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(value[i]);
            }
        }

        return text.ToString();
    }

    private static bool IsOctal(string value, int start) =>
        start + 3 <= value.Length && value.AsSpan(start, 3).IndexOfAnyExcept("01234567") < 0;
}
