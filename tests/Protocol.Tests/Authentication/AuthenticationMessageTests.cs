using NovaStor.Protocol.Authentication;
using Xunit;

namespace NovaStor.Protocol.Tests.Authentication;

public sealed class AuthenticationMessageTests
{
    [Fact]
    public void Negotiate_has_the_linux_layout_and_reads_back()
    {
        var data = new byte[NegotiateMessage.Length];
        new NegotiateMessage(0x1234, 0, DhchapHashes.All, DhchapGroups.All).WriteTo(data);
        // As the Linux host builds it: AUTH-ID 0, T_ID, NAPD 1, AUTHID 1, HALEN 3, DHLEN 6, ids at 12 and 42.
        Assert.Equal(new byte[] { 0x00, 0x00, 0, 0, 0x34, 0x12, 0, 1, 1, 0, 3, 6, 1, 2, 3 }, data[..15]);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5 }, data[42..48]);
        Assert.Equal(DhchapFailure.None, NegotiateMessage.TryRead(data, out var read));
        Assert.Equal(DhchapHashes.All, read!.Hashes);
        Assert.Equal(DhchapGroups.All, read.Groups);
        Assert.Equal(0x1234, read.TransactionId);
    }

    [Fact]
    public void A_short_or_foreign_negotiate_is_an_incorrect_payload()
    {
        Assert.Equal(DhchapFailure.IncorrectPayload, NegotiateMessage.TryRead(new byte[10], out _));
        var data = new byte[NegotiateMessage.Length];
        new NegotiateMessage(1, 0, DhchapHashes.All, DhchapGroups.All).WriteTo(data);
        data[10] = 31;
        Assert.Equal(DhchapFailure.IncorrectPayload, NegotiateMessage.TryRead(data, out _));
    }

    [Fact]
    public void Challenge_reply_and_success1_read_back()
    {
        var buffer = new byte[4096];
        var challenge = new ChallengeMessage(7, DhchapHash.Sha384, DhchapGroup.Ffdhe2048, 99, new byte[48], new byte[256]);
        challenge.WriteTo(buffer);
        Assert.Equal(DhchapFailure.None, ChallengeMessage.TryRead(buffer, out var readChallenge));
        Assert.Equal((DhchapHash.Sha384, DhchapGroup.Ffdhe2048, 99u, 256), (readChallenge!.Hash, readChallenge.Group, readChallenge.SequenceNumber, readChallenge.DhValue.Length));

        var reply = new ReplyMessage(7, Enumerable.Repeat((byte)1, 48).ToArray(), Enumerable.Repeat((byte)2, 48).ToArray(), 5, new byte[256]);
        Array.Clear(buffer);
        reply.WriteTo(buffer);
        Assert.Equal(DhchapFailure.None, ReplyMessage.TryRead(buffer, 48, out var readReply));
        Assert.Equal(reply.ControllerChallenge, readReply!.ControllerChallenge);
        Assert.Equal(DhchapFailure.IncorrectPayload, ReplyMessage.TryRead(buffer, 32, out _));

        Array.Clear(buffer);
        new Success1Message(7, 48, null).WriteTo(buffer);
        Assert.Equal(DhchapFailure.None, Success1Message.TryRead(buffer, 48, out var success));
        Assert.Null(success!.Response);
    }

    [Fact]
    public void A_challenge_with_a_dh_value_of_the_wrong_size_is_refused()
    {
        var buffer = new byte[4096];
        new ChallengeMessage(7, DhchapHash.Sha256, DhchapGroup.Ffdhe3072, 1, new byte[32], new byte[256]).WriteTo(buffer);
        Assert.Equal(DhchapFailure.IncorrectPayload, ChallengeMessage.TryRead(buffer, out _));
    }

    [Fact]
    public void The_host_and_controller_responses_differ_and_depend_on_every_input()
    {
        byte[] key = new byte[32], challenge = new byte[32];
        var host = DhchapResponses.Host(DhchapHash.Sha256, key, challenge, default, 1, 2, 0, "nqn.h", "nqn.s");
        Assert.NotEqual(host, DhchapResponses.Controller(DhchapHash.Sha256, key, challenge, default, 1, 2, "nqn.h", "nqn.s"));
        Assert.NotEqual(host, DhchapResponses.Host(DhchapHash.Sha256, key, challenge, new byte[256], 1, 2, 0, "nqn.h", "nqn.s"));
        Assert.NotEqual(host, DhchapResponses.Host(DhchapHash.Sha256, key, challenge, default, 2, 2, 0, "nqn.h", "nqn.s"));
        Assert.NotEqual(host, DhchapResponses.Host(DhchapHash.Sha256, key, challenge, default, 1, 3, 0, "nqn.h", "nqn.s"));
        Assert.NotEqual(host, DhchapResponses.Host(DhchapHash.Sha256, key, challenge, default, 1, 2, 0, "nqn.h2", "nqn.s"));
        Assert.Equal(host, DhchapResponses.Host(DhchapHash.Sha256, key, challenge, default, 1, 2, 0, "nqn.h", "nqn.s"));
    }
}
