using System.Buffers;
using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>Which side of the association receives the PDUs being framed.</summary>
public enum PduReceiver
{
    /// <summary>The target: accepts ICReq, H2CTermReq, CapsuleCmd, H2CData.</summary>
    Controller,
    /// <summary>The host: accepts ICResp, C2HTermReq, CapsuleResp, C2HData, R2T.</summary>
    Host,
}

/// <summary>What a connection has negotiated; decides what a well-formed PDU looks like.</summary>
public readonly record struct PduFramingRules(
    PduReceiver Receiver,
    bool Initialized,
    bool HeaderDigest,
    bool DataDigest,
    uint MaxInCapsuleData,
    uint MaxDataPerPdu)
{
    /// <summary>Rules before ICReq/ICResp: only the initialization PDU is acceptable.</summary>
    public static PduFramingRules BeforeInitialization(PduReceiver receiver) => new(receiver, false, false, false, 0, 0);
}

public enum FrameStatus
{
    /// <summary>More bytes are needed before a whole PDU is present.</summary>
    Incomplete,
    /// <summary>A whole, well-formed PDU starts the buffer.</summary>
    Complete,
    /// <summary>The PDU breaks the transport rules: the connection must be terminated.</summary>
    Fatal,
}

/// <summary>A fatal transport error: FES and FEI, as a termination request carries them.</summary>
public readonly record struct TransportError(FatalErrorStatus Status, uint Information, string Reason);

/// <summary>Where the parts of a framed PDU lie, relative to the start of the PDU.</summary>
public readonly record struct PduFrame(PduHeader Header, int DataOffset, int DataLength, bool DataDigestValid)
{
    public int Length => (int)Header.PduLength;
    public PduType Type => Header.Type;
}

/// <summary>
/// Frames NVMe/TCP PDUs from a byte sequence that may split them anywhere, and validates the
/// common header against the negotiated rules. Errors are returned, never thrown: a malformed
/// PDU yields the FES/FEI for the C2HTermReq/H2CTermReq that ends the connection.
/// </summary>
public static class PduFramer
{
    /// <summary>Largest PDU-specific header (ICReq/ICResp).</summary>
    public const int MaxHeaderLength = PduSizes.InitializeConnection;

    /// <summary>
    /// Examines the start of <paramref name="buffer"/>. On <see cref="FrameStatus.Complete"/>,
    /// <paramref name="header"/> (at least <see cref="MaxHeaderLength"/> bytes) holds the PDU's
    /// header and <paramref name="frame"/> locates its data; the PDU is <c>frame.Length</c> bytes.
    /// </summary>
    public static FrameStatus TryFrame(in ReadOnlySequence<byte> buffer, in PduFramingRules rules, Span<byte> header, out PduFrame frame, out TransportError error)
    {
        // A PDU is judged whole: until all of it is here, only its common header is checked.
        var status = Begin(buffer, rules, out var pdu, out int dataOffset, out int dataLength, out bool dataDigest, out error);
        frame = default;
        if (status != FrameStatus.Complete)
        {
            return status;
        }

        if (buffer.Length < pdu.PduLength)
        {
            return FrameStatus.Incomplete;
        }

        if (!CheckHeader(buffer, pdu, dataLength, header, out error))
        {
            return FrameStatus.Fatal;
        }

        bool dataDigestValid = true;
        if (dataDigest)
        {
            uint received = ReadDigest(buffer.Slice(dataOffset + dataLength, PduSizes.Digest));
            dataDigestValid = received == Crc32C.Compute(buffer.Slice(dataOffset, dataLength));
        }

        frame = new PduFrame(pdu, dataOffset, dataLength, dataDigestValid);
        return FrameStatus.Complete;
    }

    /// <summary>
    /// As <see cref="TryFrame"/>, but needs only the PDU's header (and header digest): the data may
    /// still be on its way. Lets a receiver put a large payload straight where it belongs instead of
    /// buffering the whole PDU. <see cref="PduFrame.DataDigestValid"/> is not checked here (true);
    /// <paramref name="dataDigest"/> says whether a data digest follows the data.
    /// </summary>
    public static FrameStatus TryFrameHeader(in ReadOnlySequence<byte> buffer, in PduFramingRules rules, Span<byte> header, out PduFrame frame, out TransportError error, out bool dataDigest)
    {
        var status = Begin(buffer, rules, out var pdu, out int dataOffset, out int dataLength, out dataDigest, out error);
        frame = default;
        if (status != FrameStatus.Complete)
        {
            return status;
        }

        int headerEnd = pdu.HeaderLength + ((pdu.Flags & PduFlags.HeaderDigest) != 0 ? PduSizes.Digest : 0);
        if (buffer.Length < headerEnd)
        {
            return FrameStatus.Incomplete;
        }

        if (!CheckHeader(buffer, pdu, dataLength, header, out error))
        {
            return FrameStatus.Fatal;
        }

        frame = new PduFrame(pdu, dataOffset, dataLength, true);
        return FrameStatus.Complete;
    }

    /// <summary>Reads and validates the common header: Incomplete before its 8 bytes, Fatal when it breaks the rules.</summary>
    private static FrameStatus Begin(in ReadOnlySequence<byte> buffer, in PduFramingRules rules, out PduHeader pdu, out int dataOffset, out int dataLength, out bool dataDigest, out TransportError error)
    {
        pdu = default;
        dataOffset = 0;
        dataLength = 0;
        dataDigest = false;
        error = default;
        if (buffer.Length < PduSizes.CommonHeader)
        {
            return FrameStatus.Incomplete;
        }

        Span<byte> common = stackalloc byte[PduSizes.CommonHeader];
        buffer.Slice(0, PduSizes.CommonHeader).CopyTo(common);
        pdu = PduHeader.Read(common);
        return Validate(pdu, rules, out dataOffset, out dataLength, out dataDigest, out error) ? FrameStatus.Complete : FrameStatus.Fatal;
    }

    /// <summary>Copies the PDU-specific header out, checks its digest and, for data PDUs, DATAL against the data carried.</summary>
    private static bool CheckHeader(in ReadOnlySequence<byte> buffer, in PduHeader pdu, int dataLength, Span<byte> header, out TransportError error)
    {
        error = default;
        var headerBytes = header[..pdu.HeaderLength];
        buffer.Slice(0, pdu.HeaderLength).CopyTo(headerBytes);
        if ((pdu.Flags & PduFlags.HeaderDigest) != 0)
        {
            uint received = ReadDigest(buffer.Slice(pdu.HeaderLength, PduSizes.Digest));
            if (received != Crc32C.Compute(headerBytes))
            {
                error = new TransportError(FatalErrorStatus.HeaderDigestError, 0, "header digest mismatch");
                return false;
            }
        }

        if (pdu.Type is PduType.HostToControllerData or PduType.ControllerToHostData)
        {
            uint declared = BinaryPrimitives.ReadUInt32LittleEndian(headerBytes[DataTransferHeader.DataLengthOffset..]);
            if (declared != (uint)dataLength)
            {
                error = new TransportError(FatalErrorStatus.InvalidHeaderField, DataTransferHeader.DataLengthOffset,
                    $"DATAL {declared} disagrees with the {dataLength} data bytes the PDU carries");
                return false;
            }
        }

        return true;
    }

    private static bool Validate(in PduHeader pdu, in PduFramingRules rules, out int dataOffset, out int dataLength, out bool dataDigest, out TransportError error)
    {
        dataOffset = 0;
        dataLength = 0;
        dataDigest = false;
        error = default;

        if (!IsReceivable(pdu.Type, rules.Receiver))
        {
            error = Invalid(PduHeader.TypeOffset, $"PDU type 0x{(byte)pdu.Type:X2} is not valid toward the {rules.Receiver.ToString().ToLowerInvariant()}");
            return false;
        }

        bool isInitialization = pdu.Type is PduType.InitializeConnectionRequest or PduType.InitializeConnectionResponse;
        bool isTermination = pdu.Type is PduType.HostToControllerTerminationRequest or PduType.ControllerToHostTerminationRequest;
        if (isInitialization == rules.Initialized && !isTermination)
        {
            error = new TransportError(FatalErrorStatus.PduSequenceError, 0,
                rules.Initialized ? "a second connection initialization PDU" : $"{pdu.Type} before connection initialization");
            return false;
        }

        int expectedHeaderLength = PduSizes.HeaderLengthOf(pdu.Type);
        if (pdu.HeaderLength != expectedHeaderLength)
        {
            error = Invalid(PduHeader.HeaderLengthOffset, $"HLEN {pdu.HeaderLength} for {pdu.Type}, expected {expectedHeaderLength}");
            return false;
        }

        // Termination and initialization PDUs are never digested.
        bool headerDigestExpected = rules.HeaderDigest && !isInitialization && !isTermination;
        if (((pdu.Flags & PduFlags.HeaderDigest) != 0) != headerDigestExpected)
        {
            error = Invalid(PduHeader.FlagsOffset, headerDigestExpected ? "HDGSTF missing although header digests were negotiated" : "HDGSTF set although header digests were not negotiated");
            return false;
        }

        uint length = pdu.PduLength;
        if (isInitialization)
        {
            if (length != PduSizes.InitializeConnection)
            {
                error = Invalid(PduHeader.PduLengthOffset, $"PLEN {length} for {pdu.Type}, expected 128");
                return false;
            }

            return NoDataFlags(pdu, out error);
        }

        if (isTermination)
        {
            if (length is < PduSizes.TerminationRequestHeader or > PduSizes.TerminationRequestMax)
            {
                error = Invalid(PduHeader.PduLengthOffset, $"PLEN {length} for a termination request, expected 24..152");
                return false;
            }

            return NoDataFlags(pdu, out error);
        }

        int headerEnd = pdu.HeaderLength + (headerDigestExpected ? PduSizes.Digest : 0);
        bool carriesData = pdu.Type is PduType.CapsuleCommand or PduType.HostToControllerData or PduType.ControllerToHostData;
        uint limit = pdu.Type == PduType.CapsuleCommand ? rules.MaxInCapsuleData : rules.MaxDataPerPdu;
        uint maxLength = (uint)headerEnd + (carriesData ? limit + (rules.DataDigest ? (uint)PduSizes.Digest : 0) : 0);
        if (length < headerEnd)
        {
            error = Invalid(PduHeader.PduLengthOffset, $"PLEN {length} is shorter than the {headerEnd}-byte header");
            return false;
        }

        if (!carriesData && length != headerEnd)
        {
            error = Invalid(PduHeader.PduLengthOffset, $"PLEN {length} for {pdu.Type}, expected {headerEnd}");
            return false;
        }

        if (length > maxLength)
        {
            error = new TransportError(FatalErrorStatus.DataTransferLimitExceeded, length,
                $"PLEN {length} exceeds the {maxLength} bytes allowed for {pdu.Type}");
            return false;
        }

        if (length == headerEnd)
        {
            // No data: PDO is ignored (hosts send 0), DDGSTF must be clear.
            if (pdu.Type is PduType.HostToControllerData or PduType.ControllerToHostData)
            {
                error = Invalid(PduHeader.PduLengthOffset, $"{pdu.Type} without data");
                return false;
            }

            return NoDataFlags(pdu, out error);
        }

        dataDigest = (pdu.Flags & PduFlags.DataDigest) != 0;
        if (dataDigest != rules.DataDigest)
        {
            error = Invalid(PduHeader.FlagsOffset, rules.DataDigest ? "DDGSTF missing although data digests were negotiated" : "DDGSTF set although data digests were not negotiated");
            return false;
        }

        int digestLength = dataDigest ? PduSizes.Digest : 0;
        if (pdu.DataOffset < headerEnd || pdu.DataOffset + digestLength >= length)
        {
            error = Invalid(PduHeader.DataOffsetOffset, $"PDO {pdu.DataOffset} outside [{headerEnd}, {length - digestLength})");
            return false;
        }

        dataOffset = pdu.DataOffset;
        dataLength = (int)length - dataOffset - digestLength;
        return true;
    }

    private static bool NoDataFlags(in PduHeader pdu, out TransportError error)
    {
        error = default;
        if ((pdu.Flags & PduFlags.DataDigest) != 0)
        {
            error = Invalid(PduHeader.FlagsOffset, $"DDGSTF set on {pdu.Type} without data");
            return false;
        }

        return true;
    }

    private static bool IsReceivable(PduType type, PduReceiver receiver) => receiver == PduReceiver.Controller
        ? type is PduType.InitializeConnectionRequest or PduType.HostToControllerTerminationRequest or PduType.CapsuleCommand or PduType.HostToControllerData
        : type is PduType.InitializeConnectionResponse or PduType.ControllerToHostTerminationRequest or PduType.CapsuleResponse or PduType.ControllerToHostData or PduType.ReadyToTransfer;

    private static TransportError Invalid(int fieldOffset, string reason) =>
        new(FatalErrorStatus.InvalidHeaderField, (uint)fieldOffset, reason);

    private static uint ReadDigest(in ReadOnlySequence<byte> digest)
    {
        Span<byte> bytes = stackalloc byte[PduSizes.Digest];
        digest.CopyTo(bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }
}
