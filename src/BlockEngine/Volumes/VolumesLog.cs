using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine.Volumes;

internal static partial class VolumesLog
{
    [LoggerMessage(100, LogLevel.Warning, "Volume {Name}: {What}")]
    public static partial void Repaired(ILogger logger, string name, string what);

    [LoggerMessage(101, LogLevel.Error, "Volume {Name} is in the catalog but its file {Path} is missing")]
    public static partial void MissingFile(ILogger logger, string name, string path);

    [LoggerMessage(102, LogLevel.Warning, "{Path} holds data but is not in the volume catalog; it is left alone")]
    public static partial void UnknownFile(ILogger logger, string path);

    [LoggerMessage(103, LogLevel.Warning, "Volume catalog {Path}: migrated from version {From} to version {To} and written back")]
    public static partial void CatalogMigrated(ILogger logger, string path, int from, int to);
}
