using Grpc.Core;
using Microsoft.Extensions.Logging;
using NovaStor.Target.Core;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane;

/// <summary>
/// What the control plane changes: volumes (the catalog), subsystems, namespaces, hosts,
/// listeners and ANA states. One change at a time (<see cref="_gate"/>): each is validated, then
/// made durable (exports.json or the catalog), then applied to the running target, and undone in
/// that order when a later step fails, so no half-applied change remains. Never on the I/O path.
/// </summary>
/// <remarks>
/// Errors are <see cref="RpcException"/>s whose status says what kind of refusal it is and whose
/// message says what to fix; the services pass them through unchanged.
/// </remarks>
internal sealed partial class NodeState(
    SubsystemRegistry registry,
    SubsystemFactory factory,
    ExportsStore exports,
    ListenerControl listeners,
    ILogger<NodeState> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SubsystemRegistry Registry => registry;

    /// <summary>Runs one change alone; bounded so a stuck change cannot wedge the control plane forever.</summary>
    private async Task<T> ChangeAsync<T>(Func<Task<T>> change, CancellationToken cancellationToken)
    {
        if (!await _gate.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false))
        {
            throw Refused(StatusCode.Unavailable, "Another change has been running for 60 s; try again.");
        }

        try
        {
            return await change().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // The store or the drive refused: nothing was applied (each change undoes its steps).
            ChangeLog.ChangeFailed(logger, e);
            throw Refused(StatusCode.Internal, $"The change could not be stored: {e.Message}");
        }
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            // Not a refusal this code foresaw: say what happened rather than gRPC's bare "Unknown".
            ChangeLog.ChangeFailed(logger, e);
            throw Refused(StatusCode.Internal, $"The change failed inside the target ({e.GetType().Name}: {e.Message}); see its log.");
        }
        finally
        {
            _gate.Release();
        }
    }

    private Task<T> ChangeAsync<T>(Func<T> change, CancellationToken cancellationToken) => ChangeAsync(() => Task.FromResult(change()), cancellationToken);

    internal static RpcException Refused(StatusCode code, string message) => new(new Status(code, message));

    /// <summary>The subsystem named <paramref name="nqn"/>, for a change: it must exist and have been created over the control plane.</summary>
    private Subsystem Changeable(string nqn)
    {
        var subsystem = Find(nqn);
        if (subsystem.IsStatic)
        {
            throw Refused(StatusCode.FailedPrecondition, $"Subsystem {nqn} is defined in the configuration file; change it there (and restart), or create subsystems over the control plane.");
        }

        return subsystem;
    }

    public Subsystem Find(string nqn)
    {
        if (string.IsNullOrEmpty(nqn))
        {
            throw Refused(StatusCode.InvalidArgument, "A subsystem NQN is required.");
        }

        var subsystem = registry.Find(nqn);
        if (subsystem is null || subsystem.IsDiscovery)
        {
            throw Refused(StatusCode.NotFound, $"There is no subsystem {nqn}.");
        }

        return subsystem;
    }

    /// <summary>The stored record of a subsystem created over the control plane.</summary>
    private ExportedSubsystem Stored(string nqn) =>
        exports.Current.Subsystems.FirstOrDefault(s => s.Nqn == nqn)
        ?? throw Refused(StatusCode.Internal, $"Subsystem {nqn} is served but not in {exports.FilePath}.");

    /// <summary>The exports with one subsystem's record replaced (or removed, when <paramref name="replacement"/> is null).</summary>
    private ExportsDocument WithSubsystem(string nqn, ExportedSubsystem? replacement)
    {
        var current = exports.Current;
        var others = current.Subsystems.Where(s => s.Nqn != nqn);
        return current with { Subsystems = replacement is null ? [.. others] : [.. others, replacement] };
    }

    /// <summary>The namespaces that export a catalog volume now.</summary>
    public IReadOnlyList<(Subsystem Subsystem, Namespace Namespace)> ExportsOf(string volume) =>
        [.. registry.Subsystems.SelectMany(s => s.Namespaces.Where(n => n.IsCatalogVolume && n.VolumeName == volume).Select(n => (s, n)))];

    private static partial class ChangeLog
    {
        [LoggerMessage(201, LogLevel.Error, "A control plane change failed to store or apply and was undone")]
        public static partial void ChangeFailed(ILogger logger, Exception exception);

        [LoggerMessage(202, LogLevel.Information, "Control plane: {Change}")]
        public static partial void Changed(ILogger logger, string change);
    }
}
