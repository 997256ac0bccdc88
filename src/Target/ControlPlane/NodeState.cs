namespace NovaStor.Target.ControlPlane;

/// <summary>What the control plane changes, and the one lock its changes take.</summary>
internal sealed class NodeState
{
}
