using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NovaStor.Initiator;
using NovaStor.Protocol;

// Hostile hosts against a running target, with the target's resident memory before, during and
// after (read from /proc/PID/status). Not a test: a measurement for perf/hostile-hosts.sh.
//
//   connections  --port P --pid PID [--count 10000] [--batch 1000]
//       Opens COUNT connections, BATCH at a time: each sends ICReq and waits for ICResp (or is
//       closed at accept), stays open until the whole batch is open, then all close.
//   slow-readers --port P --pid PID [--queues 16] [--rounds 4] [--nqn NQN]
//       Per round, QUEUES I/O queues (each with its own controller) send 127 reads of 128 KiB and
//       never read their socket; after 5 s they disconnect.
var arguments = Arguments.Parse(args);
var endPoint = new IPEndPoint(IPAddress.Loopback, arguments.Int("port", 4420));
int pid = arguments.Int("pid", 0);
string nqn = arguments.Text("nqn", "nqn.2026-11.io.novastor:default");

Rss("baseline", pid);
switch (arguments.Mode)
{
    case "connections":
        await ConnectionStormAsync(endPoint, pid, arguments.Int("count", 10_000), arguments.Int("batch", 1000));
        break;
    case "slow-readers":
        await SlowReadersAsync(endPoint, pid, nqn, arguments.Int("queues", 16), arguments.Int("rounds", 4));
        break;
    default:
        Console.Error.WriteLine("usage: connections|slow-readers --port P --pid PID [...]");
        return 2;
}

for (int i = 0; i < 6; i++)
{
    await Task.Delay(TimeSpan.FromSeconds(5));
    Rss($"idle {(i + 1) * 5} s after", pid);
}

return 0;

static async Task ConnectionStormAsync(IPEndPoint endPoint, int pid, int count, int batch)
{
    int opened = 0, answered = 0, refused = 0;
    long peak = 0;
    while (opened < count)
    {
        int size = Math.Min(batch, count - opened);
        var sockets = new Socket[size];
        var tasks = new Task<bool>[size];
        for (int i = 0; i < size; i++)
        {
            sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            tasks[i] = InitializeAsync(sockets[i], endPoint);
        }

        foreach (bool ok in await Task.WhenAll(tasks))
        {
            _ = ok ? answered++ : refused++;
        }

        opened += size;
        peak = Math.Max(peak, ResidentKiB(pid));
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }
    }

    Console.WriteLine($"connections: {opened} opened, {answered} answered ICResp, {refused} closed by the target; peak RSS seen {peak / 1024} MiB");
    Rss("right after the storm", pid);
}

static async Task<bool> InitializeAsync(Socket socket, IPEndPoint endPoint)
{
    try
    {
        await socket.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(30));
        var request = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(0, 0, DigestOptions.None, 0).WriteTo(request);
        await socket.SendAsync(request, SocketFlags.None);
        var response = new byte[PduSizes.InitializeConnection];
        int received = 0;
        while (received < response.Length)
        {
            int n = await socket.ReceiveAsync(response.AsMemory(received), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            if (n == 0)
            {
                return false;
            }

            received += n;
        }

        return response[0] == (byte)PduType.InitializeConnectionResponse;
    }
    catch (Exception ex) when (ex is SocketException or TimeoutException or IOException)
    {
        return false;
    }
}

static async Task SlowReadersAsync(IPEndPoint endPoint, int pid, string nqn, int queues, int rounds)
{
    const int Reads = 127;
    const int ReadBytes = 128 * 1024;
    for (int round = 1; round <= rounds; round++)
    {
        var controllers = new List<HostController>();
        var sockets = new List<Socket>();
        for (int q = 0; q < queues; q++)
        {
            var host = HostIdentity.Create();
            var controller = await HostController.ConnectAsync(endPoint, nqn, host);
            controllers.Add(controller);
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 4096 };
            sockets.Add(socket);
            await socket.ConnectAsync(endPoint);
            var icreq = new byte[PduSizes.InitializeConnection];
            new InitializeConnectionRequest(0, 0, DigestOptions.None, 0).WriteTo(icreq);
            await socket.SendAsync(icreq, SocketFlags.None);
            await ReceiveExactlyAsync(socket, PduSizes.InitializeConnection);
            var connectData = new byte[ConnectData.Length];
            new ConnectData(host.HostId, controller.ControllerId, nqn, host.HostNqn).WriteTo(connectData);
            await socket.SendAsync(Capsule(NvmeCommands.Connect(1, Reads, 0) with { CommandId = 0 }, connectData), SocketFlags.None);
            await ReceiveExactlyAsync(socket, PduSizes.CapsuleResponse);
            for (ushort cid = 1; cid <= Reads; cid++)
            {
                var read = NvmeCommands.Read(1, (ulong)cid * 256, ReadBytes / 512) with { CommandId = cid };
                read.Sgl = new SglDescriptor(0, ReadBytes, SglDescriptor.TransportDataBlock);
                await socket.SendAsync(Capsule(read, default), SocketFlags.None);
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(5));
        Rss($"round {round}: {queues} queues x {Reads} reads of 128 KiB, unread", pid);
        foreach (var socket in sockets)
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Dispose();
        }

        foreach (var controller in controllers)
        {
            try
            {
                await controller.DisposeAsync();
            }
            catch (Exception ex) when (ex is NvmeTransportException or SocketException or IOException)
            {
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        Rss($"round {round}: disconnected", pid);
    }
}

static byte[] Capsule(SubmissionQueueEntry command, ReadOnlySpan<byte> data)
{
    command.Flags = SubmissionQueueEntry.SglFlags;
    if (!data.IsEmpty)
    {
        command.Sgl = new SglDescriptor(0, (uint)data.Length, SglDescriptor.DataBlockOffset);
    }

    var pdu = new byte[PduWriter.MaxHeaderWithDigest + data.Length];
    int length = PduWriter.WriteCapsuleCommandHeader(pdu, command, data.Length, false, false);
    data.CopyTo(pdu.AsSpan(length));
    return pdu[..(length + data.Length)];
}

static async Task ReceiveExactlyAsync(Socket socket, int length)
{
    var buffer = new byte[length];
    int received = 0;
    while (received < length)
    {
        int n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None);
        if (n == 0)
        {
            throw new IOException("the target closed the connection");
        }

        received += n;
    }
}

static long ResidentKiB(int pid)
{
    if (pid <= 0)
    {
        return 0;
    }

    foreach (string line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
    }

    return 0;
}

static void Rss(string phase, int pid) => Console.WriteLine($"RSS {ResidentKiB(pid) / 1024,6} MiB  {phase}");

internal sealed record Arguments(string Mode, Dictionary<string, string> Values)
{
    public static Arguments Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        return new Arguments(args.Length > 0 ? args[0] : "", values);
    }

    public int Int(string name, int fallback) => Values.TryGetValue(name, out string? value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public string Text(string name, string fallback) => Values.GetValueOrDefault(name, fallback);
}
