using NovaStor.ControlPlane.V1;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>The Volumes service of the control plane (novastor.v1).</summary>
internal sealed class VolumesService : Volumes.VolumesBase
{
}
