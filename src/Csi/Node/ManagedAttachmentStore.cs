using System.Text.Json;
using System.Text.Json.Serialization;

namespace NovaStor.Csi.Node;

/// <summary>What a restarted plugin needs to take a managed volume's device back: the volume, how to reach it, and the ublk device number.</summary>
internal sealed record ManagedAttachmentRecord(string VolumeId, string Nqn, string? Nguid, string[] Paths, int DeviceId);

/// <summary>
/// One small JSON file per managed volume in the state folder, written to a temporary name and
/// renamed (a crash leaves the old record or the new one, never half of one). File names are the
/// volume ID's hex, so any ID is a safe name.
/// </summary>
internal sealed class ManagedAttachmentStore(string directory)
{
    private const string Suffix = ".json";

    public ManagedAttachmentRecord? Read(string volumeId)
    {
        string path = PathOf(volumeId);
        return File.Exists(path) ? Parse(path, _ => { }) : null;
    }

    /// <summary>Every readable record; each unreadable one is reported and skipped (left in place for a person to look at).</summary>
    public IReadOnlyList<ManagedAttachmentRecord> ReadAll(Action<string> problem)
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var records = new List<ManagedAttachmentRecord>();
        foreach (string path in Directory.EnumerateFiles(directory, "*" + Suffix))
        {
            if (Parse(path, problem) is { } record)
            {
                records.Add(record);
            }
        }

        return records;
    }

    public void Write(ManagedAttachmentRecord record)
    {
        Directory.CreateDirectory(directory);
        string path = PathOf(record.VolumeId), temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, record, ManagedAttachmentJsonContext.Default.ManagedAttachmentRecord);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    public void Delete(string volumeId)
    {
        string path = PathOf(volumeId);
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    private string PathOf(string volumeId) => Path.Combine(directory, Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(volumeId)) + Suffix);

    private ManagedAttachmentRecord? Parse(string path, Action<string> problem)
    {
        try
        {
            var record = JsonSerializer.Deserialize(File.ReadAllBytes(path), ManagedAttachmentJsonContext.Default.ManagedAttachmentRecord);
            if (record is null || record.VolumeId.Length == 0 || record.Paths.Length == 0 || record.DeviceId < 0 || PathOf(record.VolumeId) != path)
            {
                problem($"{path} is not a record of this plugin");
                return null;
            }

            return record;
        }
        catch (JsonException e)
        {
            problem($"{path}: {e.Message}");
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ManagedAttachmentRecord))]
internal sealed partial class ManagedAttachmentJsonContext : JsonSerializerContext;
