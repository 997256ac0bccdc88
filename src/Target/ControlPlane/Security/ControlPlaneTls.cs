using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane.Security;

/// <summary>
/// The control plane endpoint's TLS: the configured certificates, or the development ones created
/// on first start; client certificates required and checked against the client CA.
/// </summary>
internal sealed class ControlPlaneTls
{
    private ControlPlaneTls()
    {
    }

    /// <summary>Loads (or, with nothing configured, creates) the credentials; refuses what would not be safe.</summary>
    public static ControlPlaneTls Prepare(ControlPlaneOptions options, string dataDirectory, ILogger logger)
    {
        _ = options;
        _ = dataDirectory;
        _ = logger;
        throw new InvalidOperationException("NovaStor:ControlPlane: mutual TLS is not built yet; set NovaStor:ControlPlane:Insecure=true (loopback, development) or NovaStor:ControlPlane:Enabled=false.");
    }

    /// <summary>Makes the endpoint require a client certificate chained to the client CA.</summary>
    public void Apply(ListenOptions listen) => _ = listen;
}
