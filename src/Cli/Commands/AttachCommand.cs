using System.CommandLine;
using NovaStor.Ublk;

namespace NovaStor.Cli.Commands;

/// <summary>
/// attach: a namespace as a local block device (/dev/ublkbN, Linux ublk_drv), served by this
/// process through the managed initiator until detach, SIGTERM or Ctrl-C. The one command that
/// stays connected: the device lives as long as the process.
/// </summary>
internal static class AttachCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var queues = new Option<int>("--queues")
        {
            Description = "Hardware queues of the block device, each served by a thread of its own",
            DefaultValueFactory = _ => 1,
            CustomParser = r => Numbers.Parser(1, 64, "--queues")(r),
        };
        var depth = new Option<int>("--queue-depth")
        {
            Description = "Requests in flight per queue",
            DefaultValueFactory = _ => 64,
            CustomParser = r => Numbers.Parser(1, 1024, "--queue-depth")(r),
        };
        var recover = new Option<string?>("--recover")
        {
            Description = "Take over /dev/ublkbN after its attach process died (the device stayed, its I/O waiting): the same namespace serves it again",
            HelpName = "device",
        };
        var command = new Command("attach", "Serve a namespace as a local block device (/dev/ublkbN, Linux 6.0+ ublk_drv) until detach, SIGTERM or Ctrl-C; prints the device");
        fabrics.AddTo(command);
        space.AddNamespace(command);
        command.Add(queues);
        command.Add(depth);
        command.Add(recover);
        command.SetAction((result, token) => Failures.GuardAsync(context, "attach", () =>
            // Inline completions: a request's continuation (result, queue the tag, wake the ublk
            // queue's thread) runs on the initiator's receive thread; it never blocks, and a hop
            // through the thread pool would cost a work item per request.
            Session.WithControllerAsync(fabrics, result, options => options with { InlineCompletions = true }, async controller =>
            {
                uint nsid = Session.Namespace(controller, result.GetValue(space.NamespaceId)).Id;
                var options = new UblkDeviceOptions { Queues = result.GetValue(queues), QueueDepth = result.GetValue(depth) };
                var logger = new TextWriterLogger(context.Error, "attach");
                // The control commands block (START_DEV waits for the queues): not on a pool thread.
                int? recovered = null;
                if (result.GetValue(recover) is { } name)
                {
                    recovered = UblkDevices.TryParse(name, out int id) ? id : throw new CliUsageException($"'{name}' is not a ublk block device (/dev/ublkbN)");
                }

                UblkDevice device;
                try
                {
                    device = await Task.Factory.StartNew(
                        () => recovered is int id ? UblkDevice.Recover(controller, nsid, id, logger) : UblkDevice.Start(controller, nsid, options, logger),
                        CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                }
                catch (UblkException e)
                {
                    throw new CliUsageException(e.Message);
                }

                await using (device.ConfigureAwait(false))
                {
                    await context.Out.WriteLineAsync(device.BlockDevice).ConfigureAwait(false);
                    await context.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    var asked = new TaskCompletionSource();
                    await using (token.Register(() => asked.TrySetResult()).ConfigureAwait(false))
                    {
                        await Task.WhenAny(device.Ended, asked.Task).ConfigureAwait(false);
                    }

                    await context.Error.WriteLineAsync($"attach: detaching {device.BlockDevice}").ConfigureAwait(false);
                }

                var (requests, allocated) = device.Served;
                await context.Error.WriteLineAsync(FormattableString.Invariant(
                    $"attach: {device.BlockDevice} served {requests} requests; {allocated} bytes allocated in all while it served ({(requests == 0 ? 0 : (double)allocated / requests):0.0} per request)")).ConfigureAwait(false);

                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
