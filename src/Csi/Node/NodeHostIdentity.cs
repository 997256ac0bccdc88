namespace NovaStor.Csi.Node;

/// <summary>
/// The node's NVMe host identity, stable for the node's life: the host NQN and host ID the kernel
/// host and nvme-cli use (<c>/etc/nvme/hostnqn</c>, <c>/etc/nvme/hostid</c>). Read when they exist;
/// made once when they do not (the NQN in the UUID form <c>nvme gen-hostnqn</c> prints, the ID its
/// UUID), so every connect of this node, and every restart of the plugin, presents the same host.
/// The host NQN is also the node's CSI node ID: the controller admits it to a volume's subsystem.
/// </summary>
internal sealed record NodeHostIdentity(string HostNqn, Guid HostId)
{
    public const string HostNqnFile = "hostnqn";
    public const string HostIdFile = "hostid";
    private const string UuidNqnPrefix = "nqn.2014-08.org.nvmexpress:uuid:";

    /// <summary>Reads the identity in <paramref name="folder"/> (/etc/nvme), making what is missing.</summary>
    /// <exception cref="InvalidOperationException">A file exists but does not hold an NQN or a UUID.</exception>
    public static NodeHostIdentity LoadOrCreate(string folder)
    {
        Directory.CreateDirectory(folder);
        string nqnPath = Path.Combine(folder, HostNqnFile), idPath = Path.Combine(folder, HostIdFile);
        string? nqn = ReadLine(nqnPath);
        if (nqn is not null && !Csi.HostNqn.IsValid(nqn))
        {
            throw new InvalidOperationException($"{nqnPath} holds '{nqn}', not a host NQN (nqn. and at most 223 bytes); fix or remove it.");
        }

        Guid? id = null;
        if (ReadLine(idPath) is { } idText)
        {
            id = Guid.TryParse(idText, out var parsed) ? parsed : throw new InvalidOperationException($"{idPath} holds '{idText}', not a UUID; fix or remove it.");
        }

        if (nqn is null)
        {
            nqn = UuidNqnPrefix + (id ?? Guid.NewGuid()).ToString();
            WriteOnce(nqnPath, nqn);
        }

        if (id is null)
        {
            // The UUID of a UUID-form NQN, as nvme-cli does; otherwise a new one.
            id = nqn.StartsWith(UuidNqnPrefix, StringComparison.Ordinal) && Guid.TryParse(nqn[UuidNqnPrefix.Length..], out var fromNqn) ? fromNqn : Guid.NewGuid();
            WriteOnce(idPath, id.Value.ToString());
        }

        return new NodeHostIdentity(nqn, id.Value);
    }

    private static string? ReadLine(string path) =>
        File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } text ? text : null;

    /// <summary>Writes a new file whole or not at all (a temporary file renamed into place).</summary>
    private static void WriteOnce(string path, string value)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, value + "\n");
        File.Move(temporary, path, overwrite: false);
    }
}
