namespace NovaStor.Target.Hosting;

/// <summary>Where a namespace's blocks live (<see cref="NamespaceOptions.Backend"/>).</summary>
public enum NamespaceBackend
{
    /// <summary>The catalog volume named by Volume, or the file or block device at Path: the only backend that keeps data.</summary>
    File,

    /// <summary>RAM of SizeBytes, allocated and zeroed at start; its contents are lost when the target stops.</summary>
    Memory,

    /// <summary>No storage at all: writes are discarded and reads return zeroes. For transport benchmarks only.</summary>
    Null,
}

/// <summary>Reads <see cref="NamespaceOptions.Backend"/>, refusing anything but the names of <see cref="NamespaceBackend"/>.</summary>
internal static class NamespaceBackends
{
    /// <summary>
    /// The backend named by <paramref name="name"/> (any case). Numbers are refused although
    /// <see cref="Enum.TryParse{TEnum}(string?, bool, out TEnum)"/> would take them: "1" in a
    /// configuration file is a mistake, not a choice.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not File, Memory or Null; the message starts with <paramref name="where"/>.</exception>
    public static NamespaceBackend Parse(string? name, string where)
    {
        foreach (var backend in Enum.GetValues<NamespaceBackend>())
        {
            if (string.Equals(name?.Trim(), backend.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return backend;
            }
        }

        throw new InvalidOperationException($"{where}: Backend '{name}' is unknown; use File (the default), Memory or Null.");
    }
}
