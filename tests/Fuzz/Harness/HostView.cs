using System.Buffers;
using NovaStor.Protocol;

namespace NovaStor.Fuzz;

/// <summary>
/// Everything the target sent on one connection, framed as a host frames it. The target must only
/// ever send well-formed PDUs, whatever it received: a PDU the host's framer refuses, C2HData with a
/// wrong data digest, or bytes that end inside a PDU are findings.
/// </summary>
internal sealed class HostView
{
    private HostView(byte[] raw) => Raw = raw;

    public byte[] Raw { get; }

    /// <summary>The ICResp, if the target sent one.</summary>
    public InitializeConnectionResponse? Initialized { get; private set; }

    public List<CompletionQueueEntry> Completions { get; } = [];

    public List<DataTransferHeader> ReadyToTransfer { get; } = [];

    /// <summary>C2HData payloads by command id, in the order they came.</summary>
    public Dictionary<ushort, List<byte[]>> Data { get; } = [];

    public TerminationRequest? Termination { get; private set; }

    public static HostView Parse(byte[] raw)
    {
        var view = new HostView(raw);
        var rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
        var header = new byte[PduFramer.MaxHeaderLength];
        var remaining = new ReadOnlySequence<byte>(raw);
        while (remaining.Length > 0)
        {
            var status = PduFramer.TryFrame(remaining, rules, header, out var frame, out var error);
            long at = raw.Length - remaining.Length;
            if (status == FrameStatus.Incomplete)
            {
                throw new FuzzFinding($"the target's output ends inside a PDU: {remaining.Length} bytes left at offset {at} ({Hex(remaining)})");
            }

            if (status == FrameStatus.Fatal)
            {
                throw new FuzzFinding($"the target sent a malformed PDU at offset {at}: {error.Status} {error.Information}: {error.Reason} ({Hex(remaining)})");
            }

            if (!frame.DataDigestValid)
            {
                throw new FuzzFinding($"the target sent {frame.Type} with a wrong data digest at offset {at}");
            }

            switch (frame.Type)
            {
                case PduType.InitializeConnectionResponse:
                    {
                        var response = InitializeConnectionResponse.Read(header);
                        view.Initialized = response;
                        rules = new PduFramingRules(PduReceiver.Host, true, (response.Digests & DigestOptions.Header) != 0,
                            (response.Digests & DigestOptions.Data) != 0, 0, uint.MaxValue / 2);
                        break;
                    }

                case PduType.CapsuleResponse:
                    view.Completions.Add(CompletionQueueEntry.Read(header.AsSpan(PduSizes.CommonHeader, PduSizes.CompletionQueueEntry)));
                    break;
                case PduType.ReadyToTransfer:
                    view.ReadyToTransfer.Add(DataTransferHeader.Read(header));
                    break;
                case PduType.ControllerToHostData:
                    {
                        var transfer = DataTransferHeader.Read(header);
                        if (!view.Data.TryGetValue(transfer.CommandId, out var pieces))
                        {
                            view.Data[transfer.CommandId] = pieces = [];
                        }

                        pieces.Add(remaining.Slice(frame.DataOffset, frame.DataLength).ToArray());
                        break;
                    }

                case PduType.ControllerToHostTerminationRequest:
                    view.Termination = TerminationRequest.Read(header);
                    break;
            }

            remaining = remaining.Slice(frame.Length);
        }

        return view;
    }

    /// <summary>The completion of command <paramref name="commandId"/>, if the target sent it.</summary>
    public CompletionQueueEntry? CompletionOf(ushort commandId)
    {
        foreach (var completion in Completions)
        {
            if (completion.CommandId == commandId)
            {
                return completion;
            }
        }

        return null;
    }

    /// <summary>The data a read returned, its C2HData pieces joined.</summary>
    public byte[] DataOf(ushort commandId) => Data.TryGetValue(commandId, out var pieces) ? [.. pieces.SelectMany(p => p)] : [];

    /// <summary>Why <paramref name="stream"/>'s expectations were not met, or null when they were.</summary>
    public string? Mismatch(HostStream stream)
    {
        if (Termination is { } termination)
        {
            return $"the target terminated the connection: FES {termination.Status} FEI {termination.ErrorInformation}";
        }

        if (Initialized is not { } initialized || initialized.Digests != stream.Digests)
        {
            return $"no ICResp with digests {stream.Digests}";
        }

        foreach (var (commandId, expect) in stream.Expected)
        {
            var completion = CompletionOf(commandId);
            string? problem = expect switch
            {
                Expect.Success when completion is not { Status.IsSuccess: true } => completion is { } c ? $"failed with {c.Status}" : "no response",
                Expect.Response when completion is null => "no response",
                Expect.NoResponse when completion is { } c => $"answered {c.Status}",
                _ => null,
            };
            if (problem is not null)
            {
                return $"command {commandId}: {problem}";
            }
        }

        return null;
    }

    private static string Hex(in ReadOnlySequence<byte> bytes) =>
        Convert.ToHexString(bytes.Slice(0, Math.Min(bytes.Length, 32)).ToArray()) + (bytes.Length > 32 ? "..." : "");
}
