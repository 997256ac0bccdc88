using System.Text.Json;
using System.Text.Json.Serialization;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Reservations;

namespace NovaStor.Target.Hosting;

/// <summary>
/// Where reservations with Persist Through Power Loss live: reservations.json in the data folder,
/// next to the volume catalog and written the same way (a temporary file, fsync, rename, fsync of
/// the folder), so after a restart or kill -9 a namespace has the last acknowledged state, whole.
/// Only namespaces with PTPL set are kept; the others' reservations end with the process.
/// </summary>
internal sealed class ReservationStore
{
    public const string FileName = "reservations.json";
    private const int CurrentVersion = 1;

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly SortedDictionary<string, StoredNamespace> _stored = new(StringComparer.Ordinal);

    private ReservationStore(string path, IEnumerable<StoredNamespace> stored)
    {
        _path = path;
        foreach (var entry in stored)
        {
            _stored[Key(entry.Subsystem, entry.NamespaceId)] = entry;
        }
    }

    /// <summary>Reads the store; a missing file is an empty store.</summary>
    /// <exception cref="InvalidOperationException">The file exists but cannot be trusted (start-up stops: fencing must not silently vanish).</exception>
    public static ReservationStore Open(string dataDirectory)
    {
        string path = Path.Combine(dataDirectory, FileName);
        DurableFile.RemoveLeftover(path);
        if (!File.Exists(path))
        {
            return new ReservationStore(path, []);
        }

        StoredReservations? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(path), ReservationJsonContext.Default.StoredReservations);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"The reservation store {path} is not valid JSON ({e.Message}); fix or remove it (removing it drops every persistent reservation).", e);
        }

        if (document is null || document.Version != CurrentVersion || document.Namespaces is null
            || document.Namespaces.Any(n => n is null || string.IsNullOrEmpty(n.Subsystem) || n.Registrants is null || n.Type > ReservationType.ExclusiveAccessAllRegistrants
                || (n.Type != ReservationType.None && n.Registrants.All(r => r.HostId != n.Holder))))
        {
            throw new InvalidOperationException($"The reservation store {path} is not a version {CurrentVersion} store or has an incomplete entry (or a reservation whose holder is not registered); fix or remove it (removing it drops every persistent reservation).");
        }

        return new ReservationStore(path, document.Namespaces);
    }

    /// <summary>The stored state of a namespace, when it was stored for the same volume identity (NGUID).</summary>
    public ReservationState? Find(string subsystem, Namespace ns)
    {
        lock (_lock)
        {
            if (!_stored.TryGetValue(Key(subsystem, ns.Id), out var entry) || !entry.Nguid.Equals(Convert.ToHexString(ns.Nguid), StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            return new ReservationState(entry.Generation, entry.Type, entry.Holder, [.. entry.Registrants.Select(r => new Registrant(r.HostId, r.Key))], PersistThroughPowerLoss: true);
        }
    }

    /// <summary>Records a namespace's new state (or forgets it when PTPL is off) durably; throws IOException when it cannot.</summary>
    public void Save(string subsystem, Namespace ns, ReservationState state)
    {
        lock (_lock)
        {
            string key = Key(subsystem, ns.Id);
            var previous = _stored.GetValueOrDefault(key);
            if (state.PersistThroughPowerLoss)
            {
                _stored[key] = new StoredNamespace(subsystem, ns.Id, Convert.ToHexString(ns.Nguid), state.Generation, state.Type, state.Holder,
                    [.. state.Registrants.Select(r => new StoredRegistrant(r.HostId, r.Key))]);
            }
            else
            {
                _stored.Remove(key);
            }

            try
            {
                Write();
            }
            catch
            {
                // Not stored: the in-memory copy must keep saying what the file says.
                if (previous is null)
                {
                    _stored.Remove(key);
                }
                else
                {
                    _stored[key] = previous;
                }

                throw;
            }
        }
    }

    private void Write()
    {
        DurableFile.Replace(_path, JsonSerializer.SerializeToUtf8Bytes(new StoredReservations(CurrentVersion, [.. _stored.Values]), ReservationJsonContext.Default.StoredReservations));
    }

    private static string Key(string subsystem, uint namespaceId) => $"{subsystem}/{namespaceId}";
}

internal sealed record StoredReservations(int Version, IReadOnlyList<StoredNamespace> Namespaces);

internal sealed record StoredNamespace(string Subsystem, uint NamespaceId, string Nguid, uint Generation, ReservationType Type, Guid Holder, IReadOnlyList<StoredRegistrant> Registrants);

internal sealed record StoredRegistrant(Guid HostId, ulong Key);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(StoredReservations))]
internal sealed partial class ReservationJsonContext : JsonSerializerContext;
