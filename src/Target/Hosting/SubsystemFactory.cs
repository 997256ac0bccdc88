using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Target.Core;

namespace NovaStor.Target.Hosting;

/// <summary>
/// Turns configuration into subsystems with open volumes. Bad configuration fails start-up with
/// a message that names the setting; nothing is served half-configured.
/// </summary>
internal sealed class SubsystemFactory(TargetOptions options, ILoggerFactory loggers) : IDisposable
{
    private readonly List<IBlockVolume> _volumes = [];
    private BlockEngineHost? _engine;

    public SubsystemRegistry Create()
    {
        var configured = options.Subsystems.Count == 0 ? [EmbeddedDefault.Subsystem()] : options.Subsystems;
        var logger = loggers.CreateLogger("NovaStor.Target");
        if (options.Reactors is < 1 or > 64)
        {
            throw new InvalidOperationException($"NovaStor:Reactors {options.Reactors} is outside 1..64.");
        }

        if (options.RegisteredBufferMegabytes is < 0 or > 1024)
        {
            throw new InvalidOperationException($"NovaStor:RegisteredBufferMegabytes {options.RegisteredBufferMegabytes} is outside 0..1024.");
        }

        var reactorOptions = new NovaStor.BlockEngine.Reactors.ReactorPoolOptions
        {
            Count = options.Reactors,
            PinThreads = options.PinReactors,
            SubmissionPolling = options.SubmissionPolling,
            RegisteredBufferBytes = (long)options.RegisteredBufferMegabytes << 20,
        };
        _engine = BlockEngineHost.Create(options.Engine, reactorOptions, loggers.CreateLogger("NovaStor.BlockEngine"));
        var subsystems = new List<Subsystem>();
        foreach (var subsystem in configured)
        {
            ValidateNqn(subsystem.Nqn);
            if (!subsystem.AllowAnyHost && subsystem.AllowedHosts.Count == 0)
            {
                throw new InvalidOperationException($"Subsystem {subsystem.Nqn} admits no host: set AllowAnyHost or list AllowedHosts.");
            }

            var namespaces = new List<Namespace>();
            uint nextId = 1;
            foreach (var ns in subsystem.Namespaces)
            {
                uint id = ns.Id == 0 ? nextId : ns.Id;
                nextId = Math.Max(nextId, id + 1);
                namespaces.Add(OpenNamespace(subsystem.Nqn, id, ns, logger));
            }

            subsystems.Add(new Subsystem(subsystem.Nqn, subsystem.AllowAnyHost, subsystem.AllowedHosts, namespaces));
        }

        return new SubsystemRegistry(subsystems);
    }

    private Namespace OpenNamespace(string nqn, uint id, NamespaceOptions ns, ILogger logger)
    {
        if (string.IsNullOrWhiteSpace(ns.Volume))
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: Volume (a stable name) is required.");
        }

        if (id > Subsystem.MaxNamespaces)
        {
            throw new InvalidOperationException($"Subsystem {nqn}: namespace id {id} above {Subsystem.MaxNamespaces}.");
        }

        if (ns.BlockSize is not (512 or 4096))
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: BlockSize {ns.BlockSize} must be 512 or 4096.");
        }

        if (ns.SizeBytes <= 0 || ns.SizeBytes % ns.BlockSize != 0)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: SizeBytes {ns.SizeBytes} must be a positive multiple of {ns.BlockSize}.");
        }

        string path = System.IO.Path.GetFullPath(ns.Path ?? ns.Volume + ".img", System.IO.Path.GetFullPath(options.DataDirectory));
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var volume = _engine!.OpenOrCreate(path, ns.SizeBytes, ns.BlockSize);
        _volumes.Add(volume);
        Log.NamespaceServed(logger, nqn, id, path, volume.SizeBytes, volume.BlockSize);
        return new Namespace(id, ns.Volume, volume, Identity.NamespaceGuid(nqn, ns.Volume), Identity.NamespaceUuid(nqn, ns.Volume));
    }

    /// <summary>The engine lane for a new queue (unbound until the volumes are open).</summary>
    public EngineLane AcquireLane() => _engine?.AcquireLane() ?? EngineLane.Unbound;

    /// <summary>NQNs are "nqn." names of at most 223 bytes (NVMe Base 2.0 section 4.5).</summary>
    private static void ValidateNqn(string nqn)
    {
        if (!nqn.StartsWith("nqn.", StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetByteCount(nqn) > 223)
        {
            throw new InvalidOperationException($"'{nqn}' is not a valid NQN: it must start with \"nqn.\" and be at most 223 bytes.");
        }

        if (nqn == Subsystem.DiscoveryNqn)
        {
            throw new InvalidOperationException($"{nqn} is the discovery subsystem's NQN and cannot be configured.");
        }
    }

    public void Dispose()
    {
        foreach (var volume in _volumes)
        {
            volume.Dispose();
        }

        _volumes.Clear();

        // The reactors stop after the last volume that submits to them.
        _engine?.Dispose();
        _engine = null;
    }
}
