using System.Net.Sockets;
using System.Security.Authentication;
using Grpc.Core;

namespace NovaStor.Cli;

/// <summary>
/// A failed control-plane call as one line and an exit code: the target's refusals (a status it
/// sent) exit <see cref="ExitCodes.Refused"/> with its message; a target that cannot be reached,
/// does not answer in time or does not accept the credentials exits <see cref="ExitCodes.Unreachable"/>.
/// </summary>
internal static class ControlPlaneFailures
{
    public static (int ExitCode, string Message) Describe(RpcException ex, Uri address, int timeoutSeconds)
    {
        ArgumentNullException.ThrowIfNull(ex);
        ArgumentNullException.ThrowIfNull(address);
        string detail = ex.Status.Detail;
        switch (ex.StatusCode)
        {
            case StatusCode.DeadlineExceeded:
                return (ExitCodes.Unreachable, $"the control plane at {Show(address)} did not answer within {timeoutSeconds} s (--timeout)");
            case StatusCode.Unauthenticated:
                return (ExitCodes.Unreachable, $"the control plane at {Show(address)} did not accept the client certificate: {Or(detail, "unauthenticated")}");
            case StatusCode.PermissionDenied:
                return (ExitCodes.Unreachable, $"the control plane at {Show(address)} denied access: {Or(detail, "permission denied")}");
            case StatusCode.Unavailable:
                return (ExitCodes.Unreachable, Unreachable(ex, address));
        }

        // A status made by the client itself (the call never got an answer: the connection broke,
        // the peer spoke no gRPC) carries the exception behind it; a status the target sent does not.
        if (ex.Status.DebugException is not null && ex.StatusCode is not StatusCode.Cancelled)
        {
            return (ExitCodes.Unreachable, Unreachable(ex, address));
        }

        return ex.StatusCode switch
        {
            StatusCode.Unimplemented => (ExitCodes.Refused, $"the target at {Show(address)} does not implement this request (an older target?){(string.IsNullOrWhiteSpace(detail) ? "" : ": " + detail)}"),
            StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss => (ExitCodes.Refused, $"the target failed: {Or(detail, Words(ex.StatusCode))}"),
            _ => (ExitCodes.Refused, Or(detail, Words(ex.StatusCode))),
        };
    }

    private static string Unreachable(RpcException ex, Uri address)
    {
        var chain = Chain(ex.Status.DebugException).ToList();
        if (chain.OfType<AuthenticationException>().FirstOrDefault() is { } tls)
        {
            string reason = Chain(tls).Last().Message;
            return $"TLS handshake with the control plane at {Show(address)} failed: {reason} (check --ca, --client-cert and --client-key; " +
                "a target in insecure development mode is reached with http://)";
        }

        if (chain.OfType<SocketException>().FirstOrDefault() is { } socket)
        {
            return $"cannot reach the control plane at {Show(address)}: {socket.Message}";
        }

        string why = chain.Count > 0 ? chain[^1].Message : Or(ex.Status.Detail, "unavailable");
        string hint = address.Scheme == Uri.UriSchemeHttp
            ? " (is the control plane in insecure mode? an https one needs https://)"
            : "";
        return $"cannot reach the control plane at {Show(address)}: {why}{hint}";
    }

    private static IEnumerable<Exception> Chain(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            yield return ex;
        }
    }

    /// <summary>The address as typed, without the trailing slash Uri adds.</summary>
    private static string Show(Uri address) => address.GetLeftPart(UriPartial.Authority);

    private static string Or(string detail, string fallback) => string.IsNullOrWhiteSpace(detail) ? fallback : detail;

    /// <summary>AlreadyExists -> "already exists".</summary>
    private static string Words(StatusCode code)
    {
        var s = new System.Text.StringBuilder();
        foreach (char c in code.ToString())
        {
            if (char.IsUpper(c) && s.Length > 0)
            {
                s.Append(' ');
            }

            s.Append(char.ToLowerInvariant(c));
        }

        return s.ToString();
    }
}
