using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests.Fuzzing;

/// <summary>What the target did with one mutated stream.</summary>
/// <param name="Received">Bytes the target sent.</param>
/// <param name="Pdus">Whole PDUs among them (all well-formed, or the case failed).</param>
/// <param name="Terminated">The target sent a C2HTermReq.</param>
/// <param name="Reset">The connection ended with a reset rather than a close.</param>
internal readonly record struct MutatedOutcome(int Received, int Pdus, bool Terminated, bool Reset);

/// <summary>
/// One raw TCP connection that sends a (mutated) host stream and then behaves like a host that has
/// said all it had to say: it reads what the target answers until the target goes quiet, closes
/// its sending side, and expects the target to close the connection within a bound. Whatever the
/// target sends must be well-formed PDUs toward a host.
/// </summary>
internal static class MutatedConnection
{
    /// <summary>How long the target may stay silent before the host considers it has answered.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(40);

    /// <summary>The longest the host keeps listening before it closes its side.</summary>
    private static readonly TimeSpan Listening = TimeSpan.FromSeconds(3);

    /// <summary>How long the target may take to close once the host has finished.</summary>
    public static readonly TimeSpan CloseBound = TimeSpan.FromSeconds(5);

    public static async Task<MutatedOutcome> RunAsync(IPEndPoint target, byte[] bytes, Random random)
    {
        using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(target).WaitAsync(TimeSpan.FromSeconds(5));
        var receiver = new Receiver(socket);
        var receiving = receiver.RunAsync();

        // In one to three pieces, as a host's sends and a network may cut a stream.
        int pieces = random.Next(1, 4);
        int sent = 0;
        for (int piece = 1; piece <= pieces && sent < bytes.Length && !receiving.IsCompleted; piece++)
        {
            int length = piece == pieces ? bytes.Length - sent : random.Next(0, bytes.Length - sent + 1);
            try
            {
                await socket.SendAsync(bytes.AsMemory(sent, length), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (SocketException)
            {
                break; // the target already closed the connection
            }

            sent += length;
            if (piece < pieces)
            {
                await Task.Delay(random.Next(0, 3));
            }
        }

        // Listen until the target has said what it will say (or has closed), then finish.
        var listening = Stopwatch.StartNew();
        while (!receiving.IsCompleted && listening.Elapsed < Listening && receiver.SilentFor < Quiet)
        {
            await Task.WhenAny(receiving, Task.Delay(10));
        }

        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already reset by the target.
        }

        try
        {
            await receiving.WaitAsync(CloseBound);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the target kept the connection open {CloseBound.TotalSeconds:0} s after the host closed its side ({receiver.Received} bytes received)");
        }

        return receiver.Outcome();
    }

    /// <summary>Reads until the target closes, framing as a host frames.</summary>
    private sealed class Receiver(Socket socket)
    {
        private readonly ArrayBufferWriter<byte> _bytes = new();
        private long _lastActivity = Stopwatch.GetTimestamp();
        private bool _reset;

        public int Received => _bytes.WrittenCount;

        public TimeSpan SilentFor => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastActivity));

        public async Task RunAsync()
        {
            while (true)
            {
                int n;
                try
                {
                    n = await socket.ReceiveAsync(_bytes.GetMemory(16 * 1024), SocketFlags.None);
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    _reset = true;
                    return;
                }

                if (n == 0)
                {
                    return;
                }

                _bytes.Advance(n);
                Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
            }
        }

        /// <summary>
        /// Frames what arrived: every whole PDU must be one a host accepts (a data digest that does
        /// not match is a malformed PDU too). The last PDU may be cut short: a reset discards what
        /// was still on its way.
        /// </summary>
        public MutatedOutcome Outcome()
        {
            var rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
            var header = new byte[PduFramer.MaxHeaderLength];
            var remaining = new ReadOnlySequence<byte>(_bytes.WrittenMemory);
            int pdus = 0;
            bool terminated = false;
            while (remaining.Length > 0)
            {
                var status = PduFramer.TryFrame(remaining, rules, header, out var frame, out var error);
                if (status == FrameStatus.Incomplete)
                {
                    break;
                }

                if (status == FrameStatus.Fatal || !frame.DataDigestValid)
                {
                    string reason = status == FrameStatus.Fatal ? error.Reason : "a wrong data digest";
                    throw new InvalidDataException($"the target sent a malformed PDU after {pdus} good ones: {reason} " +
                        $"({Convert.ToHexString(remaining.Slice(0, Math.Min(remaining.Length, 32)).ToArray())})");
                }

                if (frame.Type == PduType.InitializeConnectionResponse)
                {
                    var digests = InitializeConnectionResponse.Read(header).Digests;
                    rules = new PduFramingRules(PduReceiver.Host, true, (digests & DigestOptions.Header) != 0, (digests & DigestOptions.Data) != 0, 0, uint.MaxValue / 2);
                }

                terminated |= frame.Type == PduType.ControllerToHostTerminationRequest;
                pdus++;
                remaining = remaining.Slice(frame.Length);
            }

            return new MutatedOutcome(Received, pdus, terminated, _reset);
        }
    }
}
