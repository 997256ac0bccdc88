using System.Runtime.CompilerServices;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// The test host parks pool workers for the whole run (VSTest's message loop polls its socket
/// on one, xunit's assembly runner waits on another). With the default minimum of one worker
/// per core, a 2-core machine then has no free worker until the pool injects one (about every
/// half second), which delays Keep Alive past a 1 s KATO. Observed with a stack snapshot, not
/// guessed; production hosts do not park workers like this.
/// </summary>
internal static class ThreadPoolSetup
{
    [ModuleInitializer]
    internal static void RaiseMinimumWorkers()
    {
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 8), completionPorts);
    }
}
