using NovaStor.Initiator;
using NovaStor.Protocol;
using NovaStor.Protocol.Authentication;

namespace NovaStor.Fuzz;

/// <summary>One seed of the <c>queue</c> target: a host's streams on successive connections.</summary>
/// <param name="Name">The corpus file name.</param>
/// <param name="Connections">What the host sends on each connection, in the order they are opened.</param>
/// <param name="Checked">Whether the seed check holds every connection to its expectations.</param>
internal sealed record QueueSeed(string Name, HostStream[] Connections, bool Checked = true)
{
    /// <summary>The fuzz input: the streams joined by <see cref="QueueCase.ConnectionSeparator"/>.</summary>
    public byte[] ToInput()
    {
        var input = new List<byte>();
        for (int i = 0; i < Connections.Length; i++)
        {
            if (i > 0)
            {
                input.AddRange(QueueCase.ConnectionSeparator);
            }

            input.AddRange(Connections[i].ToArray());
        }

        return [.. input];
    }

    /// <summary>Why the target's answers (one view per connection) break the seed's expectations, or null.</summary>
    public string? Check(HostView[] views)
    {
        if (views.Length != Connections.Length)
        {
            return $"{views.Length} connections ran, {Connections.Length} expected";
        }

        for (int i = 0; Checked && i < Connections.Length; i++)
        {
            if (views[i].Mismatch(Connections[i]) is { } problem)
            {
                return $"connection {i}: {problem}";
            }
        }

        return null;
    }
}

/// <summary>
/// Valid host streams, the way the Linux host and the managed initiator talk to a target: the seed
/// corpus, the healthy connection that checks the target after a case, and the templates the
/// network test mutates.
/// </summary>
internal static class SeedStreams
{
    /// <summary>The host of every seed: a fixed identity, so that seeds do not change between runs.</summary>
    public static readonly HostIdentity Host = new("nqn.2014-08.org.nvmexpress:uuid:4e6f7661-5374-6f72-2046-757a7a000001",
        new Guid("4e6f7661-5374-6f72-2046-757a7a000001"));

    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    /// <summary>The seed host's DH-HMAC-CHAP secret on <see cref="QueueCase.AuthenticatedNqn"/> (a fixed, public test value).</summary>
    public const string AuthenticationSecret = "DHHC-1:00:ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze/wsXcs:";

    /// <summary>CC as the Linux host writes it: IOSQES 6, IOCQES 4, CSS 110b, EN.</summary>
    public const uint EnableConfiguration = 1 | (6u << 4) | (6u << 16) | (4u << 20);

    /// <summary>The first controller a fresh subsystem creates (the seeds' I/O queues connect to it).</summary>
    public const ushort FirstControllerId = 1;

    /// <summary>ICReq and the admin queue's Connect (32 entries, dynamic controller id).</summary>
    public static HostStream AdminConnect(HostIdentity host, string subsystemNqn, bool headerDigest = false, bool dataDigest = false)
    {
        var stream = new HostStream(headerDigest, dataDigest).Initialize();
        stream.Command(NvmeCommands.Connect(0, 31, 0), ConnectData(host, Protocol.ConnectData.DynamicControllerId, subsystemNqn));
        return stream;
    }

    /// <summary>Connect, then the Linux host's bring-up: CAP, CC.EN, CSTS, Identify Controller, Number of Queues.</summary>
    public static HostStream AdminEnable(HostIdentity host, string subsystemNqn, bool headerDigest = false, bool dataDigest = false)
    {
        var stream = AdminConnect(host, subsystemNqn, headerDigest, dataDigest);
        stream.Command(NvmeCommands.PropertyGet(ControllerProperties.Capabilities, true));
        stream.Command(NvmeCommands.PropertySet(ControllerProperties.Configuration, EnableConfiguration));
        stream.Command(NvmeCommands.PropertyGet(ControllerProperties.Status, false));
        stream.Command(NvmeCommands.Identify(IdentifyCns.Controller), transferLength: IdentifyCns.IdentifyDataLength);
        stream.Command(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, 0x0003_0003));
        return stream;
    }

    /// <summary>ICReq and the Connect of I/O queue <paramref name="queueId"/> (128 entries) to controller <paramref name="controllerId"/>.</summary>
    public static HostStream IoConnect(HostIdentity host, string subsystemNqn, ushort controllerId, ushort queueId = 1, bool headerDigest = false, bool dataDigest = false)
    {
        var stream = new HostStream(headerDigest, dataDigest).Initialize();
        stream.Command(NvmeCommands.Connect(queueId, 127, 0), ConnectData(host, controllerId, subsystemNqn));
        return stream;
    }

    /// <summary>
    /// An I/O queue that writes in-capsule and by R2T (in two H2CData PDUs) to namespace 1 at
    /// <paramref name="firstBlock"/> (512-byte blocks) and reads both back; returns the read command ids
    /// with the data each must return.
    /// </summary>
    public static (HostStream Stream, (ushort CommandId, byte[] Data)[] Reads) VerifiedIo(HostIdentity host, string subsystemNqn, ushort controllerId,
        ulong firstBlock, int seed, bool headerDigest = false, bool dataDigest = false)
    {
        var stream = IoConnect(host, subsystemNqn, controllerId, 1, headerDigest, dataDigest);
        var small = Pattern(4096, seed);
        var large = Pattern(16384, seed + 1);
        stream.Command(NvmeCommands.Write(1, firstBlock, small.Length / 512), small);
        stream.WriteByR2T(NvmeCommands.Write(1, firstBlock + 8, large.Length / 512), large, pieces: 2);
        ushort readSmall = stream.Command(NvmeCommands.Read(1, firstBlock, small.Length / 512), transferLength: small.Length);
        ushort readLarge = stream.Command(NvmeCommands.Read(1, firstBlock + 8, large.Length / 512), transferLength: large.Length);
        return (stream, [(readSmall, small), (readLarge, large)]);
    }

    /// <summary>The seed corpus of the <c>queue</c> target.</summary>
    public static IEnumerable<QueueSeed> Queue(string nqn)
    {
        var host = Host;
        const ushort cntlid = FirstControllerId;

        yield return new QueueSeed("icreq", [new HostStream().Initialize()]);
        yield return new QueueSeed("icreq-digests", [new HostStream(true, true).Initialize()]);
        yield return new QueueSeed("admin-connect", [AdminConnect(host, nqn)]);

        var admin = AdminEnable(host, nqn);
        admin.Command(NvmeCommands.Identify(IdentifyCns.ActiveNamespaceList), transferLength: IdentifyCns.IdentifyDataLength);
        admin.Command(NvmeCommands.Identify(IdentifyCns.Namespace, 1), transferLength: IdentifyCns.IdentifyDataLength);
        admin.Command(NvmeCommands.Identify(IdentifyCns.Namespace, 2), transferLength: IdentifyCns.IdentifyDataLength);
        admin.Command(NvmeCommands.Identify(IdentifyCns.NamespaceDescriptorList, 1), transferLength: IdentifyCns.IdentifyDataLength);
        admin.Command(NvmeCommands.Identify(IdentifyCns.CommandSetController, 0, CommandSetIdentifiers.Nvm), transferLength: IdentifyCns.IdentifyDataLength);
        admin.Command(NvmeCommands.Identify(IdentifyCns.SubsystemControllerList), transferLength: IdentifyCns.IdentifyDataLength);
        admin.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.ErrorInformation, 64), transferLength: 64);
        admin.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.Smart, 512), transferLength: 512);
        admin.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.Ana, 4096), transferLength: 4096);
        admin.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.SupportedLogPages, 1024), transferLength: 1024);
        admin.Command(NvmeCommands.GetFeatures(FeatureId.NumberOfQueues));
        admin.Command(NvmeCommands.SetFeatures(FeatureId.AsyncEventConfiguration, 0x900));
        admin.Command(NvmeCommands.KeepAlive());
        admin.Command(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest }, expect: Expect.NoResponse);
        yield return new QueueSeed("admin-enable-identify", [admin]);

        var io = IoConnect(host, nqn, cntlid);
        io.Command(NvmeCommands.Write(1, 16, 8), Pattern(4096, 1));
        io.Command(NvmeCommands.Read(1, 16, 8), transferLength: 4096);
        io.Command(NvmeCommands.Write(2, 4, 1), Pattern(4096, 2));
        io.Command(NvmeCommands.Read(2, 4, 1), transferLength: 4096);
        io.Command(NvmeCommands.Flush(1));
        yield return new QueueSeed("io-write-read", [AdminEnable(host, nqn), io]);

        io = IoConnect(host, nqn, cntlid);
        io.WriteByR2T(NvmeCommands.Write(1, 64, 32), Pattern(16384, 3));
        io.WriteByR2T(NvmeCommands.Write(2, 32, 8), Pattern(32768, 4), pieces: 2);
        io.Command(NvmeCommands.Read(2, 32, 8), transferLength: 32768);
        yield return new QueueSeed("io-r2t", [AdminEnable(host, nqn), io]);

        foreach (var (name, headerDigest, dataDigest) in new[] { ("io-digests", true, true), ("io-data-digest", false, true), ("io-header-digest", true, false) })
        {
            var (verified, _) = VerifiedIo(host, nqn, cntlid, 128, 5, headerDigest, dataDigest);
            yield return new QueueSeed(name, [AdminEnable(host, nqn, headerDigest, dataDigest), verified]);
        }

        io = IoConnect(host, nqn, cntlid);
        io.Command(NvmeCommands.Write(1, 256, 4, forceUnitAccess: true), Pattern(2048, 6));
        io.Command(NvmeCommands.Compare(1, 256, 4), Pattern(2048, 6));
        io.Command(NvmeCommands.Verify(1, 256, 4));
        io.Command(NvmeCommands.WriteZeroes(1, 300, 16));
        io.Command(NvmeCommands.WriteZeroes(2, 40, 2, deallocate: true));
        io.Command(NvmeCommands.DatasetManagement(1, 2, deallocate: true), DsmRanges((320, 8), (400, 16)));
        io.Command(NvmeCommands.Copy(1, 500, 1), CopyRanges((256, 4)));
        io.Command(NvmeCommands.Read(1, 500, 4), transferLength: 2048);
        yield return new QueueSeed("io-commands", [AdminEnable(host, nqn), io]);

        // Reservation commands run on the thread pool, so two on one queue may run in either order:
        // one per queue, and the harness lets each finish before it opens the next connection.
        var register = IoConnect(host, nqn, cntlid, 1);
        register.Command(NvmeCommands.ReservationRegister(1, ReservationRegisterAction.Register), Keys(0, 0x1234));
        var acquire = IoConnect(host, nqn, cntlid, 2);
        acquire.Command(NvmeCommands.ReservationAcquire(1, ReservationAcquireAction.Acquire, ReservationType.WriteExclusive), Keys(0x1234, 0));
        var report = IoConnect(host, nqn, cntlid, 3);
        report.Command(NvmeCommands.ReservationReport(1, 4096), transferLength: 4096);
        yield return new QueueSeed("io-reservations", [AdminEnable(host, nqn), register, acquire, report]);

        var second = IoConnect(host, nqn, cntlid, 2);
        second.Command(NvmeCommands.Write(1, 600, 1), Pattern(512, 7));
        second.Command(NvmeCommands.Read(1, 600, 1), transferLength: 512);
        var first = IoConnect(host, nqn, cntlid, 1);
        first.Command(NvmeCommands.Read(1, 600, 1), transferLength: 512);
        yield return new QueueSeed("two-io-queues", [AdminEnable(host, nqn), second, first]);

        var discovery = AdminConnect(host, DiscoveryNqn);
        discovery.Command(NvmeCommands.PropertySet(ControllerProperties.Configuration, EnableConfiguration));
        discovery.Command(NvmeCommands.Identify(IdentifyCns.Controller), transferLength: IdentifyCns.IdentifyDataLength);
        discovery.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.Discovery, 4096), transferLength: 4096);
        yield return new QueueSeed("discovery", [discovery]);

        var shutdown = AdminEnable(host, nqn);
        shutdown.Command(NvmeCommands.PropertySet(ControllerProperties.Configuration, EnableConfiguration | (1u << 14)));
        shutdown.Command(NvmeCommands.PropertyGet(ControllerProperties.Status, false));
        yield return new QueueSeed("admin-shutdown", [shutdown]);

        // DH-HMAC-CHAP: a host that must authenticate negotiates, takes the challenge, answers it
        // wrongly and gets AUTH_Failure1; meanwhile nothing else is served (Authentication Required).
        // The challenge is random, so a recorded stream cannot succeed: these seeds reach the parsers.
        var refused = AdminConnect(host, QueueCase.AuthenticatedNqn);
        refused.Command(NvmeCommands.PropertyGet(ControllerProperties.Capabilities, true), expect: Expect.Response);
        refused.Command(AuthenticationCommand.Dhchap(send: true, NegotiateMessage.Length), Negotiate(1));
        refused.Command(AuthenticationCommand.Dhchap(send: false, 4096), transferLength: 4096);
        var reply = new byte[ReplyMessage.HeaderLength + 64];
        new ReplyMessage(1, Pattern(32, 8), null, 0, []).WriteTo(reply);
        refused.Command(AuthenticationCommand.Dhchap(send: true, (uint)reply.Length), reply);
        refused.Command(AuthenticationCommand.Dhchap(send: false, 4096), transferLength: 4096);
        refused.Command(NvmeCommands.Identify(IdentifyCns.Controller), transferLength: IdentifyCns.IdentifyDataLength, expect: Expect.Response);
        yield return new QueueSeed("auth-refused", [refused]);

        // A host that need not authenticate tries anyway: AUTH_Failure1, the controller unharmed.
        var unasked = AdminEnable(host, nqn);
        unasked.Command(AuthenticationCommand.Dhchap(send: true, NegotiateMessage.Length), Negotiate(2));
        unasked.Command(AuthenticationCommand.Dhchap(send: false, 4096), transferLength: 4096);
        var success2 = new byte[AuthenticationEndMessages.Success2Length];
        AuthenticationEndMessages.WriteSuccess2(success2, 2);
        unasked.Command(AuthenticationCommand.Dhchap(send: true, (uint)success2.Length), success2);
        unasked.Command(NvmeCommands.KeepAlive());
        yield return new QueueSeed("auth-not-required", [unasked]);

        // The host gives up on the connection: the target closes it without a word.
        var terminated = AdminConnect(host, nqn);
        terminated.Terminate(FatalErrorStatus.PduSequenceError, 0);
        yield return new QueueSeed("host-termination", [terminated], Checked: false);
    }

    /// <summary>AUTH_Negotiate as the Linux host sends it: every hash function and DH group.</summary>
    private static byte[] Negotiate(ushort transactionId)
    {
        var data = new byte[NegotiateMessage.Length];
        new NegotiateMessage(transactionId, 0, DhchapHashes.All, DhchapGroups.All).WriteTo(data);
        return data;
    }

    /// <summary>Deterministic data: the same bytes for the same seed, on every run.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)((i * 31) + (seed * 17) + (i >> 9));
        }

        return data;
    }

    public static byte[] ConnectData(HostIdentity host, ushort controllerId, string subsystemNqn)
    {
        var data = new byte[Protocol.ConnectData.Length];
        new ConnectData(host.HostId, controllerId, subsystemNqn, host.HostNqn).WriteTo(data);
        return data;
    }

    /// <summary>Dataset Management ranges: context attributes 0, length in blocks, starting block.</summary>
    private static byte[] DsmRanges(params (ulong FirstBlock, uint Blocks)[] ranges)
    {
        var data = new byte[ranges.Length * 16];
        for (int i = 0; i < ranges.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan((i * 16) + 4), ranges[i].Blocks);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan((i * 16) + 8), ranges[i].FirstBlock);
        }

        return data;
    }

    /// <summary>Copy source ranges (format 0): starting block at 8, blocks (0-based) at 16.</summary>
    private static byte[] CopyRanges(params (ulong FirstBlock, ushort Blocks)[] ranges)
    {
        var data = new byte[ranges.Length * 32];
        for (int i = 0; i < ranges.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan((i * 32) + 8), ranges[i].FirstBlock);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan((i * 32) + 16), (ushort)(ranges[i].Blocks - 1));
        }

        return data;
    }

    /// <summary>A reservation command's data: the current key, then the new (or preempt) key.</summary>
    private static byte[] Keys(ulong current, ulong next = 0)
    {
        var data = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data, current);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8), next);
        return data;
    }
}
