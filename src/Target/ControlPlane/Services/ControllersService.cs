using NovaStor.ControlPlane.V1;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>The Controllers service of the control plane (novastor.v1).</summary>
internal sealed class ControllersService : Controllers.ControllersBase
{
}
