using System.Buffers;
using NovaStor.Protocol;

namespace NovaStor.Fuzz;

/// <summary>What the host expects back for a command of a <see cref="HostStream"/>.</summary>
internal enum Expect
{
    /// <summary>A CapsuleResp with a success status.</summary>
    Success,
    /// <summary>A CapsuleResp, whatever its status.</summary>
    Response,
    /// <summary>Nothing while the connection lasts (an Asynchronous Event Request waits for an event).</summary>
    NoResponse,
}

/// <summary>
/// The bytes a host sends on one connection, written with the project's own PDU writers, and what
/// it expects back for each command. Command ids count from 0.
/// </summary>
internal sealed class HostStream(bool headerDigest = false, bool dataDigest = false)
{
    private readonly ArrayBufferWriter<byte> _bytes = new();
    private readonly List<(ushort CommandId, Expect Expect)> _expected = [];
    private ushort _nextCommandId;

    public bool HeaderDigest => headerDigest;

    public bool DataDigest => dataDigest;

    /// <summary>CapsuleCmds written so far.</summary>
    public int Commands => _nextCommandId;

    public IReadOnlyList<(ushort CommandId, Expect Expect)> Expected => _expected;

    public DigestOptions Digests => (headerDigest ? DigestOptions.Header : DigestOptions.None) | (dataDigest ? DigestOptions.Data : DigestOptions.None);

    public byte[] ToArray() => _bytes.WrittenSpan.ToArray();

    /// <summary>ICReq asking for this stream's digests.</summary>
    public HostStream Initialize()
    {
        var pdu = _bytes.GetSpan(PduSizes.InitializeConnection);
        new InitializeConnectionRequest(0, 0, Digests, 0).WriteTo(pdu);
        _bytes.Advance(PduSizes.InitializeConnection);
        return this;
    }

    /// <summary>
    /// A CapsuleCmd. With <paramref name="inCapsule"/> data its SGL is an offset data block of exactly
    /// that data; without, a transport data block of <paramref name="transferLength"/> bytes, which the
    /// target moves by R2T and H2CData (writes) or C2HData (reads). Returns the command id.
    /// </summary>
    public ushort Command(SubmissionQueueEntry command, ReadOnlySpan<byte> inCapsule = default, int transferLength = 0, Expect expect = Expect.Success)
    {
        ushort commandId = _nextCommandId++;
        command.CommandId = commandId;
        command.Flags = (byte)((command.Flags & 0x3F) | SubmissionQueueEntry.SglFlags);
        command.Sgl = inCapsule.IsEmpty
            ? new SglDescriptor(0, (uint)transferLength, SglDescriptor.TransportDataBlock)
            : new SglDescriptor(0, (uint)inCapsule.Length, SglDescriptor.DataBlockOffset);
        var pdu = _bytes.GetSpan(PduWriter.MaxHeaderWithDigest + inCapsule.Length + PduSizes.Digest);
        int length = PduWriter.WriteCapsuleCommandHeader(pdu, command, inCapsule.Length, headerDigest, dataDigest);
        length += AppendData(pdu[length..], inCapsule);
        _bytes.Advance(length);
        _expected.Add((commandId, expect));
        return commandId;
    }

    /// <summary>
    /// A write of <paramref name="data"/> by R2T: the CapsuleCmd without data, then the H2CData PDUs
    /// (<paramref name="pieces"/> of them) the target's R2T asks for. The R2T's transfer tag is the
    /// command's slot in the target's table, which a fresh queue handed a whole stream at once gives
    /// out in order: slot N to the stream's N-th command (the seed check confirms it).
    /// </summary>
    public ushort WriteByR2T(SubmissionQueueEntry command, ReadOnlySpan<byte> data, int pieces = 1)
    {
        ushort transferTag = (ushort)Commands;
        ushort commandId = Command(command, default, data.Length);
        int pieceLength = (data.Length + pieces - 1) / pieces;
        for (int offset = 0; offset < data.Length; offset += pieceLength)
        {
            var piece = data.Slice(offset, Math.Min(pieceLength, data.Length - offset));
            H2CData(commandId, transferTag, (uint)offset, piece, last: offset + piece.Length == data.Length);
        }

        return commandId;
    }

    /// <summary>One H2CData PDU.</summary>
    public HostStream H2CData(ushort commandId, ushort transferTag, uint offset, ReadOnlySpan<byte> data, bool last)
    {
        var transfer = new DataTransferHeader(commandId, transferTag, offset, (uint)data.Length);
        var pdu = _bytes.GetSpan(PduWriter.MaxHeaderWithDigest + data.Length + PduSizes.Digest);
        int length = PduWriter.WriteDataHeader(pdu, PduType.HostToControllerData, transfer, last, success: false, headerDigest, dataDigest);
        length += AppendData(pdu[length..], data);
        _bytes.Advance(length);
        return this;
    }

    /// <summary>H2CTermReq: the host ends the connection for a transport error of its own.</summary>
    public HostStream Terminate(FatalErrorStatus status, uint information)
    {
        var pdu = _bytes.GetSpan(PduSizes.TerminationRequestMax);
        _bytes.Advance(new TerminationRequest(PduType.HostToControllerTerminationRequest, status, information).WriteTo(pdu, default));
        return this;
    }

    private int AppendData(Span<byte> destination, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return 0;
        }

        data.CopyTo(destination);
        if (!dataDigest)
        {
            return data.Length;
        }

        PduWriter.WriteDataDigest(destination[data.Length..], data);
        return data.Length + PduSizes.Digest;
    }
}
