namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// The catalog file exists but cannot be trusted. It is never replaced silently: the operator
/// decides (restore a copy, or move it aside to start empty).
/// </summary>
public sealed class CatalogCorruptException : Exception
{
    public CatalogCorruptException(string path, string reason, Exception? inner = null)
        : base($"The volume catalog {path} is corrupt: {reason}. It was left untouched; restore it or move it aside to start with an empty catalog.", inner)
    {
        CatalogPath = path;
    }

    public CatalogCorruptException()
    {
        CatalogPath = "";
    }

    public CatalogCorruptException(string message) : base(message)
    {
        CatalogPath = "";
    }

    public CatalogCorruptException(string message, Exception inner) : base(message, inner)
    {
        CatalogPath = "";
    }

    public string CatalogPath { get; }
}
