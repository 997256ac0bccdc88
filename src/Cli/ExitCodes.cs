namespace NovaStor.Cli;

/// <summary>
/// Process exit codes, as nvme-cli uses them for fabrics commands: an NVMe status is a
/// command's answer (1), a connection that could not be made or broke is another kind of
/// failure (2). Bad arguments exit with System.CommandLine's parse-error code (also 1). The
/// control-plane commands (gRPC) follow the same split: the target refused the request (1), or it
/// could not be reached or would not authenticate the CLI (2).
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A command completed with an NVMe error status, or an argument was refused after parsing.</summary>
    public const int NvmeStatus = 1;

    /// <summary>No connection (refused, timed out, unreachable) or the connection broke.</summary>
    public const int Transport = 2;

    /// <summary>A control-plane request the target answered with a refusal (NotFound, AlreadyExists, InvalidArgument, FailedPrecondition...).</summary>
    public const int Refused = NvmeStatus;

    /// <summary>The control plane could not be reached, did not answer in time, or the credentials were missing or not accepted.</summary>
    public const int Unreachable = Transport;

    /// <summary>Interrupted (Ctrl-C) before the command finished: 128 + SIGINT, as shells report it.</summary>
    public const int Interrupted = 130;
}
