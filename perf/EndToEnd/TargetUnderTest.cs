using NovaStor.Initiator;

namespace NovaStor.EndToEnd;

/// <summary>
/// One target the rows run against (A, and B with <c>--compare-target</c>): its process and the
/// managed initiator's controller connected to it, both kept for the whole run.
/// </summary>
internal sealed class TargetUnderTest : IAsyncDisposable
{
    private TargetUnderTest(string label, string targetDll, IReadOnlyList<string> arguments, TargetProcess process, NvmeController controller)
    {
        Label = label;
        TargetDll = targetDll;
        Arguments = arguments;
        Process = process;
        Controller = controller;
    }

    /// <summary>"A" or "B".</summary>
    public string Label { get; }

    /// <summary>The build that runs.</summary>
    public string TargetDll { get; }

    /// <summary>The arguments given to this target beyond the rung's own (port, data folder, namespaces).</summary>
    public IReadOnlyList<string> Arguments { get; }

    public TargetProcess Process { get; }

    public NvmeController Controller { get; }

    /// <summary>What the tables say about this target: its label and its arguments.</summary>
    public string Description => $"{Label}: {TargetDll}" + (Arguments.Count == 0 ? " with default settings" : $" {string.Join(' ', Arguments)}");

    /// <exception cref="InvalidOperationException">
    /// The target did not start, or its namespace 2 or 3 is not the Memory or Null namespace asked for
    /// (a target that does not know NamespaceOptions.Backend would serve a thin catalog volume instead).
    /// </exception>
    public static async Task<TargetUnderTest> StartAsync(string label, string targetDll, IReadOnlyList<string> namespaceArguments,
        IReadOnlyList<string> arguments, bool hasMemoryNamespace, int queues)
    {
        var process = TargetProcess.Start(label, targetDll, namespaceArguments, arguments);
        NvmeController? controller = null;
        try
        {
            // No reconnecting: a run that reconnects measures the reconnect. A lost connection fails the
            // I/Os in flight at once, so the run stops with an error instead of waiting out a timeout.
            // Inline completions, as `novastor perf` runs (LoadRunner.ConnectionOptionsFor): the workers'
            // continuations run on the queue threads, so the client costs no thread hop per I/O.
            var connection = new NvmeConnectionOptions { IoQueues = queues, QueueDepth = 128, ControllerLossTimeout = TimeSpan.Zero, InlineCompletions = true };
            controller = await NvmeController.ConnectAsync(process.EndPoint, TargetProcess.Nqn, connection).ConfigureAwait(false);
            if (hasMemoryNamespace)
            {
                // Memory and Null namespaces are not thin: every block is in use from the start. A target
                // that did not know the backend would serve a thin catalog volume instead, with none in use.
                foreach (uint id in (uint[])[RungRow.MemoryNamespaceId, RungRow.NullNamespaceId])
                {
                    var info = controller.Namespaces.FirstOrDefault(n => n.Id == id)?.Info
                        ?? throw new InvalidOperationException($"Target {label} serves no namespace {id}.");
                    if (info.Utilization != info.BlockCount)
                    {
                        throw new InvalidOperationException(
                            $"Target {label}'s namespace {id} reports {info.Utilization} of {info.BlockCount} blocks in use: it is not a Memory or Null namespace (does this target know NamespaceOptions.Backend?).");
                    }
                }
            }

            return new TargetUnderTest(label, targetDll, arguments, process, controller);
        }
        catch
        {
            if (controller is not null)
            {
                await controller.DisposeAsync().ConfigureAwait(false);
            }

            process.Dispose();
            throw;
        }
    }

    /// <summary>Disconnects (a broken connection is not an error here) and kills the process.</summary>
    public async ValueTask DisposeAsync()
    {
        await Controller.DisposeAsync().ConfigureAwait(false);
        Process.Dispose();
    }
}
