namespace NovaStor.Initiator;

/// <summary>Which socket path a queue uses.</summary>
public enum HostQueueTransport
{
    /// <summary>The Linux path (one thread per queue doing send, receive and completion) on Linux, the portable path elsewhere.</summary>
    Automatic,

    /// <summary>The portable path (.NET sockets and pipes, any OS): for platforms without the Linux path, and to test it.</summary>
    Portable,
}
