using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NovaStor.BlockEngine;

/// <summary>
/// A decorator over any <see cref="IBlockVolume"/> that fails or delays the requests selected by
/// its <see cref="FaultRule"/>s, for testing how the layers above handle storage errors.
/// </summary>
/// <remarks>
/// <para>Rules are tried in order for each request; a request counts toward every rule tried, up to
/// and including the first one that fires, which decides what happens to it. Rules see a request
/// before the inner volume validates it.</para>
/// <para>With no rules the request goes straight to the inner volume: one volatile read and no lock
/// on the path. Rules are an immutable array replaced on change (a lock guards the writers only).
/// A disturbed request costs one small object, and its completion (or its hand-off to the inner
/// volume) runs on the thread pool or a timer, never on the caller's stack.</para>
/// <para>Dispose waits a bounded time for disturbed requests still on their way (a delay, a hand-off)
/// before disposing the inner volume, which then lets its accepted requests finish; requests
/// submitted afterwards bypass the rules and complete with the inner volume's ENODEV.</para>
/// </remarks>
public sealed class FaultInjectingVolume : IBlockVolume
{
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(30);

    private readonly IBlockVolume _inner;
    private readonly ILogger _logger;
    private readonly Lock _rulesGate = new();
    private FaultRule[] _rules = [];
    private int _injected;

    // One reference for the owner plus one per disturbed request until the inner volume has it (or
    // its error is delivered): the inner volume is disposed only after they all got there.
    private readonly VolumeLifetime _lifetime;

    /// <param name="inner">The volume that serves every request the rules let through.</param>
    /// <param name="ownsInner">True: Dispose disposes <paramref name="inner"/> too.</param>
    /// <param name="logger">Receives completion callbacks that threw.</param>
    public FaultInjectingVolume(IBlockVolume inner, bool ownsInner = true, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _logger = logger ?? NullLogger.Instance;
        _lifetime = new VolumeLifetime("fault-injecting", ownsInner ? inner.Dispose : static () => { }, _logger);
    }

    public long SizeBytes => _inner.SizeBytes;

    public int BlockSize => _inner.BlockSize;

    public int BufferAlignment => _inner.BufferAlignment;

    public bool DeallocatedReadsZeroes => _inner.DeallocatedReadsZeroes;

    /// <summary>The volume being decorated.</summary>
    public IBlockVolume Inner => _inner;

    /// <summary>Requests that completed with an injected errno, over all rules.</summary>
    public int InjectedErrors => Volatile.Read(ref _injected);

    /// <summary>Adds a rule after the existing ones; it applies to requests submitted from now on.</summary>
    public void AddRule(FaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentOutOfRangeException.ThrowIfNegative(rule.Error, nameof(rule));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rule.EveryNth, nameof(rule));
        ArgumentOutOfRangeException.ThrowIfNegative(rule.Delay.Ticks, nameof(rule));
        lock (_rulesGate)
        {
            _rules = [.. _rules, rule];
        }
    }

    /// <summary>Removes a rule; false when it was not there.</summary>
    public bool RemoveRule(FaultRule rule)
    {
        lock (_rulesGate)
        {
            int index = Array.IndexOf(_rules, rule);
            if (index < 0)
            {
                return false;
            }
            _rules = [.. _rules.AsSpan(0, index), .. _rules.AsSpan(index + 1)];
            return true;
        }
    }

    /// <summary>Removes every rule: requests pass straight through again.</summary>
    public void ClearRules()
    {
        lock (_rulesGate)
        {
            _rules = [];
        }
    }

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
    {
        ArgumentNullException.ThrowIfNull(completion);
        FaultRule[] rules = Volatile.Read(ref _rules);
        if (rules.Length == 0 || !_lifetime.TryEnter())
        {
            _inner.Submit(in request, completion, userData);
            return;
        }

        foreach (FaultRule rule in rules)
        {
            if (rule.Matches(in request) && rule.CountAndFire())
            {
                new Disturbance(this, rule, request, completion, userData).Start();
                return;
            }
        }
        _inner.Submit(in request, completion, userData);
        _lifetime.Exit();
    }

    /// <summary>
    /// Waits a bounded time for disturbed requests to reach the inner volume (or fail), then disposes
    /// it when owned (or lets the last straggler do so).
    /// </summary>
    public void Dispose() => _lifetime.Close(DisposeWait);

    private void Deliver(IBlockCompletion completion, ulong userData, int error)
    {
        try
        {
            completion.OnBlockCompleted(userData, error);
        }
        catch (Exception ex)
        {
            Log.CompletionThrew(_logger, "fault-injecting", userData, ex);
        }
    }

    /// <summary>One request a rule fired on: waits out the delay, then fails it or passes it on.</summary>
    private sealed class Disturbance(FaultInjectingVolume volume, FaultRule rule, BlockRequest request, IBlockCompletion completion, ulong userData)
        : IThreadPoolWorkItem, IBlockCompletion
    {
        public void Start()
        {
            if (rule.Delay > TimeSpan.Zero)
            {
                _ = Task.Delay(rule.Delay).ContinueWith(static (_, state) => ((Disturbance)state!).Execute(),
                    this, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        public void Execute()
        {
            try
            {
                if (rule.Error == 0)
                {
                    volume._inner.Submit(in request, completion, userData); // delay only
                }
                else if (rule.ReachesVolume)
                {
                    volume._inner.Submit(in request, this, userData); // runs, then reports the error
                }
                else
                {
                    Fail();
                }
            }
            finally
            {
                volume._lifetime.Exit(); // the inner volume has it now, or it is answered
            }
        }

        void IBlockCompletion.OnBlockCompleted(ulong ignored, int error) => Fail();

        private void Fail()
        {
            Interlocked.Increment(ref volume._injected);
            volume.Deliver(completion, userData, rule.Error);
        }
    }
}
