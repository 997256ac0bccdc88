using System.Buffers;
using NovaStor.Protocol;

namespace NovaStor.Fuzz;

/// <summary>
/// The <c>framer</c> fuzz target: <see cref="PduFramer"/> and the PDU readers over arbitrary bytes,
/// as a receiver of either side meets them. Errors in the input are the framer's to report (Fatal,
/// with a FES); anything thrown here is a bug, and so is a disagreement between two ways of framing
/// the same bytes.
/// </summary>
/// <remarks>
/// Input layout (written by the seed generator, <c>NovaStor.Fuzz seed</c>):
/// <code>
///  0      control  bit 0: the receiver is the host (else the controller)
///                  bit 1: start initialized (no ICReq/ICResp expected), with
///                  bit 2: header digests, bit 3: data digests
///  1      split    the bytes are also framed as a sequence of (split + 1)-byte segments
///  2..    the PDU stream
/// </code>
/// An initialization PDU in the stream sets the digests it names, as the target and the host do.
/// Each PDU is framed twice, contiguous and segmented, and by both <see cref="PduFramer.TryFrame"/>
/// and <see cref="PduFramer.TryFrameHeader"/>: all must agree.
/// </remarks>
internal static class FramerCase
{
    public const byte ReceiverIsHost = 0x01, StartInitialized = 0x02, HeaderDigest = 0x04, DataDigest = 0x08;

    /// <summary>The target's limits for PDUs it receives (8 KiB in-capsule data, 128 KiB per H2CData).</summary>
    public const uint MaxInCapsuleData = 8192, MaxDataPerPdu = 128 * 1024;

    /// <summary>Runs one input; returns how many PDUs were framed whole. Throws on a bug.</summary>
    public static int Run(ReadOnlySpan<byte> input)
    {
        // A short input still goes through the framer (bytes it lacks count as zero): SharpFuzz's
        // out-of-process child may read its very first input before afl-fuzz has written it, and an
        // empty run that touches no instrumented code makes afl-fuzz abort ("No instrumentation detected").
        byte control = input.Length > 0 ? input[0] : (byte)0;
        int segmentLength = (input.Length > 1 ? input[1] : 0) + 1;
        var stream = input.Length > 2 ? input[2..].ToArray() : [];

        var contiguous = Frame(new ReadOnlySequence<byte>(stream), control);
        var segmented = Frame(Segments.Split(stream, segmentLength), control);
        if (contiguous.Count != segmented.Count)
        {
            throw new FuzzFinding($"contiguous framing saw {contiguous.Count} steps, {segmentLength}-byte segments {segmented.Count}");
        }

        for (int i = 0; i < contiguous.Count; i++)
        {
            if (contiguous[i] != segmented[i])
            {
                throw new FuzzFinding($"step {i}: contiguous {contiguous[i]}, {segmentLength}-byte segments {segmented[i]}");
            }
        }

        return contiguous.Count(step => step.Status == FrameStatus.Complete);
    }

    /// <summary>What framing one PDU gave: compared between the contiguous and the segmented input.</summary>
    private readonly record struct Step(FrameStatus Status, PduFrame Frame, FatalErrorStatus Error, uint Information, int HeaderHash);

    private static List<Step> Frame(ReadOnlySequence<byte> remaining, byte control)
    {
        var receiver = (control & ReceiverIsHost) != 0 ? PduReceiver.Host : PduReceiver.Controller;
        var rules = (control & StartInitialized) != 0
            ? Initialized(receiver, (control & HeaderDigest) != 0, (control & DataDigest) != 0)
            : PduFramingRules.BeforeInitialization(receiver);
        var steps = new List<Step>();
        var header = new byte[PduFramer.MaxHeaderLength];
        var headerOnly = new byte[PduFramer.MaxHeaderLength];
        while (true)
        {
            var status = PduFramer.TryFrame(remaining, rules, header, out var frame, out var error);
            var headerStatus = PduFramer.TryFrameHeader(remaining, rules, headerOnly, out var headerFrame, out var headerError, out bool dataDigest);
            CheckAgreement(remaining, status, frame, error, headerStatus, headerFrame, headerError, dataDigest, header, headerOnly);
            steps.Add(new Step(status, frame, error.Status, error.Information,
                status == FrameStatus.Complete ? HashCode(header.AsSpan(0, frame.Header.HeaderLength)) : 0));
            if (status != FrameStatus.Complete)
            {
                return steps;
            }

            var pdu = remaining.Slice(0, frame.Length);
            rules = Read(frame, header, pdu, rules);
            remaining = remaining.Slice(frame.Length);
        }
    }

    /// <summary>The invariants between a whole-PDU framing and a header-only framing of the same bytes.</summary>
    private static void CheckAgreement(in ReadOnlySequence<byte> buffer, FrameStatus status, in PduFrame frame, in TransportError error,
        FrameStatus headerStatus, in PduFrame headerFrame, in TransportError headerError, bool dataDigest, byte[] header, byte[] headerOnly)
    {
        switch (status)
        {
            case FrameStatus.Complete:
                if (headerStatus != FrameStatus.Complete || headerFrame.Header != frame.Header
                    || headerFrame.DataOffset != frame.DataOffset || headerFrame.DataLength != frame.DataLength)
                {
                    throw new FuzzFinding($"TryFrame framed {frame} but TryFrameHeader said {headerStatus} {headerFrame} ({headerError.Reason})");
                }

                if (!header.AsSpan(0, frame.Header.HeaderLength).SequenceEqual(headerOnly.AsSpan(0, frame.Header.HeaderLength)))
                {
                    throw new FuzzFinding("TryFrame and TryFrameHeader copied different header bytes");
                }

                int digest = dataDigest ? PduSizes.Digest : 0;
                if (frame.Length < PduSizes.CommonHeader || frame.Length > buffer.Length || frame.Header.HeaderLength != PduSizes.HeaderLengthOf(frame.Type)
                    || frame.DataLength < 0 || (frame.DataLength > 0 && (frame.DataOffset < frame.Header.HeaderLength || frame.DataOffset + frame.DataLength + digest != frame.Length)))
                {
                    throw new FuzzFinding($"an impossible frame: {frame} over {buffer.Length} bytes, data digest {dataDigest}");
                }

                break;
            case FrameStatus.Fatal:
                // Judged on the same header, both must refuse it, and for the same reason.
                if (headerStatus != FrameStatus.Fatal || headerError.Status != error.Status || headerError.Information != error.Information)
                {
                    throw new FuzzFinding($"TryFrame refused the PDU ({error.Status} {error.Information}: {error.Reason}) but TryFrameHeader said {headerStatus} ({headerError.Reason})");
                }

                if (string.IsNullOrEmpty(error.Reason) || error.Status == FatalErrorStatus.None)
                {
                    throw new FuzzFinding("a fatal framing error without a FES or a reason");
                }

                break;
            default:
                // The whole PDU is not here: the header alone may already be whole, or already wrong.
                if (buffer.Length >= PduSizes.CommonHeader && headerStatus == FrameStatus.Complete && headerFrame.Length <= buffer.Length)
                {
                    throw new FuzzFinding($"TryFrame wants more bytes than the {headerFrame.Length}-byte PDU TryFrameHeader found in {buffer.Length}");
                }

                break;
        }
    }

    /// <summary>Reads a framed PDU with the reader for its type; returns the rules for the PDUs after it.</summary>
    private static PduFramingRules Read(in PduFrame frame, byte[] header, in ReadOnlySequence<byte> pdu, PduFramingRules rules)
    {
        switch (frame.Type)
        {
            case PduType.InitializeConnectionRequest:
                {
                    var request = InitializeConnectionRequest.Read(header);
                    return Initialized(rules.Receiver, (request.Digests & DigestOptions.Header) != 0, (request.Digests & DigestOptions.Data) != 0);
                }

            case PduType.InitializeConnectionResponse:
                {
                    var response = InitializeConnectionResponse.Read(header);
                    return Initialized(rules.Receiver, (response.Digests & DigestOptions.Header) != 0, (response.Digests & DigestOptions.Data) != 0);
                }

            case PduType.HostToControllerTerminationRequest or PduType.ControllerToHostTerminationRequest:
                _ = TerminationRequest.Read(header);
                break;
            case PduType.CapsuleCommand:
                {
                    var command = SubmissionQueueEntry.Read(header.AsSpan(PduSizes.CommonHeader, PduSizes.SubmissionQueueEntry));
                    if (command.Opcode == AdminOpcode.Fabrics && command.FabricsCommandType == FabricsCommandType.Connect)
                    {
                        _ = ConnectCommand.From(command);
                        if (frame.DataLength >= ConnectData.Length)
                        {
                            _ = ConnectData.Read(pdu.Slice(frame.DataOffset, ConnectData.Length).ToArray());
                        }
                    }

                    break;
                }

            case PduType.CapsuleResponse:
                _ = CompletionQueueEntry.Read(header.AsSpan(PduSizes.CommonHeader, PduSizes.CompletionQueueEntry));
                break;
            default:
                _ = DataTransferHeader.Read(header);
                break;
        }

        return rules;
    }

    private static PduFramingRules Initialized(PduReceiver receiver, bool headerDigest, bool dataDigest) =>
        new(receiver, true, headerDigest, dataDigest, MaxInCapsuleData, MaxDataPerPdu);

    private static int HashCode(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}
