namespace NovaStor.Initiator;

/// <summary>
/// A path was refused because it does not lead to the same subsystem or namespaces as the other
/// paths of the controller: another subsystem NQN in Identify Controller, or a namespace whose
/// NGUID differs under the same NSID. Mixing them would send one volume's I/O to another.
/// </summary>
public sealed class NvmePathMismatchException : Exception
{
    public NvmePathMismatchException()
    {
    }

    public NvmePathMismatchException(string message) : base(message)
    {
    }

    public NvmePathMismatchException(string message, Exception? inner) : base(message, inner)
    {
    }
}
