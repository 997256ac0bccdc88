using System.Security.Cryptography;
using NovaStor.Protocol.Authentication;

namespace NovaStor.Target.Core.Authentication;

/// <summary>What an authentication message did to the queue.</summary>
internal enum AuthenticationOutcome
{
    /// <summary>The exchange goes on (or a failure will be reported by the next Receive).</summary>
    InProgress,

    /// <summary>The host is now authenticated on this queue.</summary>
    Succeeded,

    /// <summary>The exchange ended in failure: <see cref="QueueAuthentication.FailureReason"/> says why.</summary>
    Failed,
}

/// <summary>
/// The controller's side of DH-HMAC-CHAP on one queue (NVMe Base 2.1 section 8.3.5), driven by the
/// host's Authentication Send and Receive commands:
/// <code>
///   Send    AUTH_Negotiate        pick hash and DH group from the host's lists
///   Receive Challenge             C1, S1 and (DH group) the controller's public value
///   Send    Reply                 check R1; with CVALID, keep C2 and S2 (bidirectional)
///   Receive Success1              with R2 when bidirectional
///   Send    Success2              (bidirectional only) the host accepted R2
/// </code>
/// A failure after the negotiation is reported with AUTH_Failure1 on the next Receive, as the Linux
/// target does; an AUTH_Failure2 from the host ends the exchange. A new AUTH_Negotiate restarts it
/// (re-authentication). The secrets stay in <see cref="HostCredentials"/>; every derived key is wiped
/// once used. One queue's commands run one at a time here (admin path), so there is no lock.
/// </summary>
internal sealed class QueueAuthentication(HostCredentials? credentials, string hostNqn, string subsystemNqn)
{
    private enum Step
    {
        Negotiate,
        SendChallenge,
        AwaitReply,
        SendSuccess1,
        AwaitSuccess2,
        SendFailure1,
        Done,
    }

    private Step _step;
    private ushort _transactionId;
    private DhchapHash _hash;
    private DhchapGroup _group;
    private uint _sequenceNumber;
    private byte[]? _challenge;
    private FfdheKeyExchange? _keyExchange;
    private byte[]? _sessionKey;
    private byte[]? _controllerChallenge;
    private uint _controllerSequenceNumber;
    private DhchapFailure _failure;

    /// <summary>True once the host proved it holds its secret (and, if it asked, the controller proved it holds its own).</summary>
    public bool Authenticated { get; private set; }

    /// <summary>Why the last exchange failed, for the log (never a secret).</summary>
    public string? FailureReason { get; private set; }

    /// <summary>The hash and group of the last successful exchange, and whether it was bidirectional.</summary>
    public string Description => $"{DhchapHashes.Name(_hash)}, {DhchapGroups.Name(_group)}{(_controllerChallenge is null ? "" : ", bidirectional")}";

    /// <summary>An Authentication Send carrying <paramref name="message"/>.</summary>
    public AuthenticationOutcome Send(ReadOnlySpan<byte> message)
    {
        if (message.Length < 2)
        {
            return Fail(DhchapFailure.IncorrectPayload, "message shorter than its header");
        }

        if (AuthenticationEndMessages.IsFailure(message, out var hostSaid))
        {
            Reset();
            _step = Step.Done;
            Authenticated = false;
            FailureReason = $"the host ended authentication: {AuthenticationEndMessages.Describe(hostSaid)}";
            return AuthenticationOutcome.Failed;
        }

        if (message[0] == AuthenticationMessageType.Common && message[1] == AuthenticationMessageId.Negotiate)
        {
            return Negotiate(message);
        }

        if (message[0] != AuthenticationMessageType.Dhchap || message.Length < 8)
        {
            return Fail(DhchapFailure.IncorrectMessage, $"unexpected message {message[0]:X2}h/{message[1]:X2}h");
        }

        if (AuthenticationEndMessages.TransactionId(message) != _transactionId && _step is Step.AwaitReply or Step.AwaitSuccess2)
        {
            return Fail(DhchapFailure.IncorrectPayload, $"transaction {AuthenticationEndMessages.TransactionId(message)} where {_transactionId} was running");
        }

        return (message[1], _step) switch
        {
            (AuthenticationMessageId.Reply, Step.AwaitReply) => Reply(message),
            (AuthenticationMessageId.Success2, Step.AwaitSuccess2) => Success2(),
            _ => Fail(DhchapFailure.IncorrectMessage, $"message {message[1]:X2}h out of sequence"),
        };
    }

    /// <summary>
    /// An Authentication Receive: writes the next controller message into <paramref name="buffer"/>
    /// (the host's allocation length; the rest stays zero). False when even a failure message does not fit.
    /// </summary>
    public bool Receive(Span<byte> buffer, out AuthenticationOutcome outcome)
    {
        buffer.Clear();
        outcome = AuthenticationOutcome.InProgress;
        switch (_step)
        {
            case Step.SendChallenge:
                var challenge = new ChallengeMessage(_transactionId, _hash, _group, _sequenceNumber, _challenge!, _keyExchange?.PublicValue ?? []);
                if (buffer.Length < challenge.Length)
                {
                    Fail(DhchapFailure.IncorrectPayload, $"allocation length {buffer.Length} below the {challenge.Length}-byte challenge");
                    break;
                }

                challenge.WriteTo(buffer);
                _step = Step.AwaitReply;
                return true;

            case Step.SendSuccess1:
                byte[]? response = null;
                if (_controllerChallenge is not null)
                {
                    byte[] key = credentials!.ControllerSecret!.TransformFor(subsystemNqn);
                    response = DhchapResponses.Controller(_hash, key, _controllerChallenge, _sessionKey, _controllerSequenceNumber, _transactionId, hostNqn, subsystemNqn);
                    CryptographicOperations.ZeroMemory(key);
                }

                var success = new Success1Message(_transactionId, DhchapHashes.Length(_hash), response);
                if (buffer.Length < success.Length)
                {
                    Fail(DhchapFailure.IncorrectPayload, $"allocation length {buffer.Length} below the {success.Length}-byte Success1");
                    break;
                }

                success.WriteTo(buffer);
                WipeExchange();
                if (response is null)
                {
                    _step = Step.Done;
                    outcome = AuthenticationOutcome.Succeeded;
                }
                else
                {
                    _step = Step.AwaitSuccess2;
                }

                return true;

            case Step.SendFailure1:
                break;

            default:
                Fail(DhchapFailure.IncorrectMessage, $"Authentication Receive with no message to send (step {_step})");
                break;
        }

        // A failure: AUTH_Failure1 goes to the host and the exchange is over.
        _step = Step.Done;
        Authenticated = false;
        outcome = AuthenticationOutcome.Failed;
        WipeExchange();
        if (buffer.Length < AuthenticationEndMessages.FailureLength)
        {
            return false;
        }

        AuthenticationEndMessages.WriteFailure(buffer, AuthenticationMessageId.Failure1, _transactionId, _failure);
        return true;
    }

    private AuthenticationOutcome Negotiate(ReadOnlySpan<byte> message)
    {
        Reset();
        var failure = NegotiateMessage.TryRead(message, out var negotiate);
        if (negotiate is not null)
        {
            _transactionId = negotiate.TransactionId;
        }

        if (failure != DhchapFailure.None)
        {
            return Fail(failure, $"AUTH_Negotiate unusable ({AuthenticationEndMessages.Describe(failure)})");
        }

        if (credentials is null)
        {
            return Fail(DhchapFailure.NotUsable, "no DH-HMAC-CHAP secret is configured for this host");
        }

        if (negotiate!.SecureChannel != 0)
        {
            return Fail(DhchapFailure.ConcatenationMismatch, "the host asked for secure channel concatenation (TLS), which this target does not offer");
        }

        if (credentials.PickHash(negotiate.Hashes) is not { } hash)
        {
            return Fail(DhchapFailure.HashUnusable, $"the host offers none of the hash functions configured for it ({Names(negotiate.Hashes, DhchapHashes.Name)})");
        }

        if (credentials.PickGroup(negotiate.Groups) is not { } group)
        {
            return Fail(DhchapFailure.DhGroupUnusable, $"the host offers none of the DH groups configured for it ({Names(negotiate.Groups, DhchapGroups.Name)})");
        }

        _hash = hash;
        _group = group;
        _challenge = RandomNumberGenerator.GetBytes(DhchapHashes.Length(hash));
        _sequenceNumber = DhchapSequenceNumbers.Next();
        _keyExchange = group == DhchapGroup.Null ? null : new FfdheKeyExchange(group);
        _step = Step.SendChallenge;
        return AuthenticationOutcome.InProgress;
    }

    private AuthenticationOutcome Reply(ReadOnlySpan<byte> message)
    {
        var failure = ReplyMessage.TryRead(message, DhchapHashes.Length(_hash), out var reply);
        if (failure != DhchapFailure.None)
        {
            return Fail(failure, "DH-HMAC-CHAP_Reply malformed");
        }

        if (_keyExchange is null)
        {
            if (reply!.DhValue.Length != 0)
            {
                return Fail(DhchapFailure.IncorrectPayload, "a DH value in the reply of a null-group exchange");
            }
        }
        else
        {
            _sessionKey = _keyExchange.TryDeriveSharedSecret(reply!.DhValue);
            if (_sessionKey is null)
            {
                return Fail(DhchapFailure.DhGroupUnusable, $"the host's DH value is not a valid {DhchapGroups.Name(_group)} public value");
            }
        }

        byte[] key = credentials!.HostSecret.TransformFor(hostNqn);
        byte[] expected = DhchapResponses.Host(_hash, key, _challenge, _sessionKey, _sequenceNumber, _transactionId, 0, hostNqn, subsystemNqn);
        CryptographicOperations.ZeroMemory(key);
        bool matches = DhchapResponses.Matches(expected, reply.Response);
        CryptographicOperations.ZeroMemory(expected);
        if (!matches)
        {
            return Fail(DhchapFailure.Failed, "the host's response does not match its configured secret");
        }

        // SEQNUM 0 with a C2 means no bidirectional authentication (C2 only seeds a TLS key).
        if (reply.ControllerChallenge is not null && reply.SequenceNumber != 0)
        {
            if (credentials.ControllerSecret is null)
            {
                return Fail(DhchapFailure.Failed, "the host asked the controller to authenticate itself, but no controller secret is configured for this host");
            }

            _controllerChallenge = reply.ControllerChallenge;
            _controllerSequenceNumber = reply.SequenceNumber;
        }

        _step = Step.SendSuccess1;
        if (_controllerChallenge is null)
        {
            Authenticated = true;
        }

        return AuthenticationOutcome.InProgress;
    }

    private AuthenticationOutcome Success2()
    {
        _step = Step.Done;
        Authenticated = true;
        return AuthenticationOutcome.Succeeded;
    }

    /// <summary>Records a failure that the next Receive reports with AUTH_Failure1.</summary>
    private AuthenticationOutcome Fail(DhchapFailure failure, string reason)
    {
        WipeExchange();
        _failure = failure;
        _step = Step.SendFailure1;
        Authenticated = false;
        FailureReason = reason;
        return AuthenticationOutcome.InProgress;
    }

    private void Reset()
    {
        WipeExchange();
        _controllerChallenge = null;
        _controllerSequenceNumber = 0;
        _failure = DhchapFailure.None;
        FailureReason = null;
        _step = Step.Negotiate;
    }

    private void WipeExchange()
    {
        if (_sessionKey is not null)
        {
            CryptographicOperations.ZeroMemory(_sessionKey);
            _sessionKey = null;
        }

        _keyExchange = null;
    }

    private static string Names<T>(IReadOnlyList<T> ids, Func<T, string> name) => ids.Count == 0 ? "none offered" : "offered: " + string.Join(", ", ids.Select(name));
}
