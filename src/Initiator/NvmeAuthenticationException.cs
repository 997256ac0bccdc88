namespace NovaStor.Initiator;

/// <summary>
/// In-band authentication (DH-HMAC-CHAP) did not succeed: the controller requires it and no secret
/// was given, it refused the host's response, or it could not prove its own identity.
/// </summary>
public sealed class NvmeAuthenticationException : Exception
{
    public NvmeAuthenticationException()
    {
    }

    public NvmeAuthenticationException(string message) : base(message)
    {
    }

    public NvmeAuthenticationException(string message, Exception inner) : base(message, inner)
    {
    }
}
