using System.Security.Cryptography;
using NovaStor.Protocol;
using NovaStor.Protocol.Authentication;

namespace NovaStor.Initiator.Authentication;

/// <summary>
/// The host's side of DH-HMAC-CHAP on one queue (NVMe Base 2.1 section 8.3.5), run right after a
/// Connect whose response asks for it, as the Linux host's nvme_queue_auth_work does:
/// <code>
///   Send    AUTH_Negotiate   every hash function and DH group, no secure channel
///   Receive Challenge        the controller's pick, C1, S1 and its DH value
///   Send    Reply            R1 (and C2, S2 when the controller must authenticate too)
///   Receive Success1         with R2, checked, when bidirectional
///   Send    Success2         bidirectional only; AUTH_Failure2 when R2 is wrong
/// </code>
/// </summary>
internal static class DhchapHostExchange
{
    /// <summary>What the host receives into, as the Linux host's 4 KiB: enough for SHA-512 with ffdhe8192.</summary>
    private const int ReceiveLength = 4096;

    private static int s_transactionId = RandomNumberGenerator.GetInt32(ushort.MaxValue);
    /// <exception cref="NvmeAuthenticationException">No secret, refused, or the controller's proof is wrong.</exception>
    public static async Task AuthenticateAsync(HostQueue queue, ushort queueId, DhchapHostSecrets? secrets, string hostNqn, string subsystemNqn, CancellationToken cancellationToken)
    {
        if (secrets is null)
        {
            throw new NvmeAuthenticationException($"queue {queueId}: the controller requires DH-HMAC-CHAP authentication and no host secret was given (--dhchap-secret)");
        }

        ushort transactionId = (ushort)Interlocked.Increment(ref s_transactionId);
        var buffer = new byte[ReceiveLength];
        byte[]? sessionKey = null;
        try
        {
            int length = new NegotiateMessage(transactionId, 0, DhchapHashes.All, DhchapGroups.All).WriteTo(buffer);
            await SendAsync(queue, queueId, "AUTH_Negotiate", buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);

            await ReceiveAsync(queue, queueId, "DH-HMAC-CHAP_Challenge", buffer, transactionId, cancellationToken).ConfigureAwait(false);
            var failure = ChallengeMessage.TryRead(buffer, out var challenge);
            if (failure != DhchapFailure.None)
            {
                await FailAsync(queue, queueId, transactionId, failure, "the controller's challenge is unusable", cancellationToken).ConfigureAwait(false);
            }

            byte[] dhValue = [];
            if (challenge!.Group != DhchapGroup.Null)
            {
                var exchange = new FfdheKeyExchange(challenge.Group);
                sessionKey = exchange.TryDeriveSharedSecret(challenge.DhValue);
                if (sessionKey is null)
                {
                    await FailAsync(queue, queueId, transactionId, DhchapFailure.DhGroupUnusable,
                        $"the controller's {DhchapGroups.Name(challenge.Group)} value is not a valid public value", cancellationToken).ConfigureAwait(false);
                }

                dhValue = exchange.PublicValue;
            }

            byte[] hostKey = secrets.HostSecret.TransformFor(hostNqn);
            byte[] response = DhchapResponses.Host(challenge.Hash, hostKey, challenge.Challenge, sessionKey, challenge.SequenceNumber, transactionId, 0, hostNqn, subsystemNqn);
            CryptographicOperations.ZeroMemory(hostKey);
            int hashLength = DhchapHashes.Length(challenge.Hash);
            byte[]? controllerChallenge = secrets.ControllerSecret is null ? null : RandomNumberGenerator.GetBytes(hashLength);
            uint controllerSequence = controllerChallenge is null ? 0 : DhchapSequenceNumbers.Next();
            length = new ReplyMessage(transactionId, response, controllerChallenge, controllerSequence, dhValue).WriteTo(buffer);
            await SendAsync(queue, queueId, "DH-HMAC-CHAP_Reply", buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);

            await ReceiveAsync(queue, queueId, "DH-HMAC-CHAP_Success1", buffer, transactionId, cancellationToken).ConfigureAwait(false);
            failure = Success1Message.TryRead(buffer, hashLength, out var success);
            if (failure != DhchapFailure.None)
            {
                await FailAsync(queue, queueId, transactionId, failure, "the controller's Success1 is malformed", cancellationToken).ConfigureAwait(false);
            }

            if (controllerChallenge is null)
            {
                return;
            }

            byte[] controllerKey = secrets.ControllerSecret!.TransformFor(subsystemNqn);
            byte[] expected = DhchapResponses.Controller(challenge.Hash, controllerKey, controllerChallenge, sessionKey, controllerSequence, transactionId, hostNqn, subsystemNqn);
            CryptographicOperations.ZeroMemory(controllerKey);
            bool proven = success!.Response is { } received && DhchapResponses.Matches(expected, received);
            if (!proven)
            {
                await FailAsync(queue, queueId, transactionId, DhchapFailure.Failed,
                    "the controller could not prove it holds the controller secret (--dhchap-ctrl-secret differs from the target's)", cancellationToken).ConfigureAwait(false);
            }

            length = AuthenticationEndMessages.WriteSuccess2(buffer, transactionId);
            await SendAsync(queue, queueId, "DH-HMAC-CHAP_Success2", buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        catch (NvmeTransportException ex)
        {
            // A controller that refuses a host may close the connection as it answers (the Linux
            // target makes the controller fatal with AUTH_Failure1): the answer can be lost.
            throw new NvmeAuthenticationException($"queue {queueId}: the controller closed the connection during authentication ({ex.Message}); it refused the host or the connection broke", ex);
        }
        finally
        {
            if (sessionKey is not null)
            {
                CryptographicOperations.ZeroMemory(sessionKey);
            }
        }
    }

    private static async Task SendAsync(HostQueue queue, ushort queueId, string message, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var completion = await queue.SubmitAsync(AuthenticationCommand.Dhchap(send: true, (uint)data.Length), data, default, cancellationToken).ConfigureAwait(false);
        if (!completion.Status.IsSuccess)
        {
            throw new NvmeAuthenticationException($"queue {queueId}: Authentication Send ({message}) failed: {StatusCodes.Describe(completion.Status)}");
        }
    }

    /// <summary>Receives the next message; an AUTH_Failure1 or a message of another transaction ends the exchange.</summary>
    private static async Task ReceiveAsync(HostQueue queue, ushort queueId, string expected, byte[] buffer, ushort transactionId, CancellationToken cancellationToken)
    {
        Array.Clear(buffer);
        var completion = await queue.SubmitAsync(AuthenticationCommand.Dhchap(send: false, (uint)buffer.Length), default, buffer, cancellationToken).ConfigureAwait(false);
        if (!completion.Status.IsSuccess)
        {
            throw new NvmeAuthenticationException($"queue {queueId}: Authentication Receive ({expected}) failed: {StatusCodes.Describe(completion.Status)}");
        }

        if (AuthenticationEndMessages.IsFailure(buffer, out var reason))
        {
            string hint = reason == DhchapFailure.Failed ? " (is the host secret the one configured on the target?)" : "";
            throw new NvmeAuthenticationException($"queue {queueId}: the controller refused authentication: {AuthenticationEndMessages.Describe(reason)}{hint}");
        }

        if (AuthenticationEndMessages.TransactionId(buffer) != transactionId)
        {
            throw new NvmeAuthenticationException($"queue {queueId}: {expected} of transaction {AuthenticationEndMessages.TransactionId(buffer)}, expected {transactionId}");
        }
    }

    /// <summary>Tells the controller with AUTH_Failure2, then throws.</summary>
    private static async Task FailAsync(HostQueue queue, ushort queueId, ushort transactionId, DhchapFailure failure, string reason, CancellationToken cancellationToken)
    {
        var message = new byte[AuthenticationEndMessages.FailureLength];
        AuthenticationEndMessages.WriteFailure(message, AuthenticationMessageId.Failure2, transactionId, failure);
        try
        {
            await queue.SubmitAsync(AuthenticationCommand.Dhchap(send: true, (uint)message.Length), message, default, cancellationToken).ConfigureAwait(false);
        }
        catch (NvmeTransportException)
        {
            // The controller may already have closed the connection; the failure is what matters.
        }

        throw new NvmeAuthenticationException($"queue {queueId}: {reason}");
    }
}
