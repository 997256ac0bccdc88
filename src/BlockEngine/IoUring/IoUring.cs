using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine;

/// <summary>
/// One io_uring instance: the submission queue (SQ), the completion queue (CQ) and the SQE array
/// mapped into this process, with the few operations the block engine needs. Nothing here
/// allocates after <see cref="Create"/>.
/// </summary>
/// <remarks>
/// <para><b>One owner thread.</b> The thread that calls <see cref="Create"/> owns the ring:
/// <see cref="TryGetSubmissionEntry"/>, <see cref="Submit"/>, <see cref="ReapCompletions"/> and the
/// Register methods must be called on it, and only on it (it is the single issuer the kernel is
/// told about with IORING_SETUP_SINGLE_ISSUER; Submit and Register check it). Nothing here is
/// synchronized. <see cref="Dispose"/> may run on any thread once the owner has stopped.</para>
/// <para><b>The cycle.</b> <see cref="TryGetSubmissionEntry"/> hands out a free SQE (false when the
/// SQ is full: submit, reap, then retry; nothing fails because the ring is full), a Prepare method
/// fills it, <see cref="Submit"/> publishes every prepared entry to the kernel and optionally waits
/// for completions, <see cref="ReapCompletions"/> copies ready CQEs into the caller's span and
/// returns their slots. Each CQE carries the user_data of its SQE. With DEFER_TASKRUN the kernel
/// posts completions only when the owner enters the kernel, which <see cref="Submit"/> always does
/// in that mode (Submit(0) is then the non-blocking "poll").</para>
/// <para><b>Memory ordering.</b> The SQ tail is written with a release store after the SQE bodies,
/// so the kernel never sees a half-written entry; the CQ tail is read with an acquire load before
/// the CQE bodies; the CQ head is written with a release store after they are copied out; the SQ
/// head (the kernel's progress) is read with an acquire load. With SQPOLL a full fence separates
/// the tail store from the NEED_WAKEUP check, as liburing does.</para>
/// <para><b>Lifetimes.</b> Buffers given to a request, and registered buffers, must stay valid until
/// the request completes or the ring is disposed. There is no finalizer (like <see cref="AlignedBuffer"/>):
/// an undisposed ring leaks its descriptor and mappings rather than racing the kernel.</para>
/// </remarks>
internal sealed unsafe class IoUring : IDisposable
{
    /// <summary>Largest SQ size the kernel accepts without IORING_SETUP_CLAMP (IORING_MAX_ENTRIES).</summary>
    public const uint MaxEntries = 32768;

    /// <summary>The flags <see cref="Create"/> negotiates itself unless the caller names one of them.</summary>
    public const uint TaskRunFlags = IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_DEFER_TASKRUN
        | IoUringNative.IORING_SETUP_COOP_TASKRUN | IoUringNative.IORING_SETUP_TASKRUN_FLAG;

    private static readonly Lazy<(bool Supported, string Reason)> Probe = new(RunProbe);

    private readonly int _ringFd;
    private readonly int _ownerThreadId;

    private readonly nint _sqRing;
    private readonly nuint _sqRingSize;
    private readonly nint _cqRing; // == _sqRing with IORING_FEAT_SINGLE_MMAP
    private readonly nuint _cqRingSize; // 0 with IORING_FEAT_SINGLE_MMAP
    private readonly nint _sqesMap;
    private readonly nuint _sqesSize;

    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint* _sqFlags;
    private readonly uint* _sqDropped;
    private readonly uint _sqMask;
    private readonly IoUringSqe* _sqes;

    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint* _cqOverflow;
    private readonly uint _cqMask;
    private readonly IoUringCqe* _cqes;

    private readonly bool _sqPoll;
    private readonly bool _deferTaskRun;

    /// <summary>1 with IORING_SETUP_SQE128 (each entry is two 64-byte SQE slots), else 0.</summary>
    private readonly int _sqeShift;

    /// <summary>The local SQ tail: entries handed out by TryGetSubmissionEntry, published by Submit.</summary>
    private uint _sqeTail;
    private int _disposed;

    private IoUring(int ringFd, in IoUringParams p, nint sqRing, nuint sqRingSize, nint cqRing, nuint cqRingSize, nint sqesMap, nuint sqesSize)
    {
        _ringFd = ringFd;
        _ownerThreadId = Environment.CurrentManagedThreadId;
        SetupFlags = p.Flags;
        Features = p.Features;
        SqEntries = p.SqEntries;
        CqEntries = p.CqEntries;

        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqesMap = sqesMap;
        _sqesSize = sqesSize;

        byte* sq = (byte*)sqRing;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqFlags = (uint*)(sq + p.SqOff.Flags);
        _sqDropped = (uint*)(sq + p.SqOff.Dropped);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _sqes = (IoUringSqe*)sqesMap;

        byte* cq = (byte*)cqRing;
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqOverflow = (uint*)(cq + p.CqOff.Overflow);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqes = (IoUringCqe*)(cq + p.CqOff.Cqes);

        // The SQ array indirects ring slots to SQE indexes. Slot i always names SQE i, so it is
        // written once here and never again (what liburing does too).
        uint* array = (uint*)(sq + p.SqOff.Array);
        for (uint i = 0; i < p.SqEntries; i++)
        {
            array[i] = i;
        }
        _sqeTail = *_sqTail;

        _sqPoll = (p.Flags & IoUringNative.IORING_SETUP_SQPOLL) != 0;
        _deferTaskRun = (p.Flags & IoUringNative.IORING_SETUP_DEFER_TASKRUN) != 0;
        _sqeShift = (p.Flags & IoUringNative.IORING_SETUP_SQE128) != 0 ? 1 : 0;
    }

    /// <summary>The IORING_SETUP_* flags the kernel accepted (see <see cref="FormatSetupFlags"/>).</summary>
    public uint SetupFlags { get; }

    /// <summary>The IORING_FEAT_* bits the kernel reported.</summary>
    public uint Features { get; }

    /// <summary>Submission queue size (a power of two, at least the requested entries).</summary>
    public uint SqEntries { get; }

    /// <summary>Completion queue size (twice the SQ unless the caller asked otherwise).</summary>
    public uint CqEntries { get; }

    /// <summary>The ring descriptor.</summary>
    public int RingFd => _ringFd;

    /// <summary>True when SQ and CQ rings share one mapping (IORING_FEAT_SINGLE_MMAP).</summary>
    public bool SingleMmap => (Features & IoUringNative.IORING_FEAT_SINGLE_MMAP) != 0;

    /// <summary>SQEs that can still be handed out before a Submit.</summary>
    public uint SubmissionSpaceLeft => SqEntries - (_sqeTail - Volatile.Read(ref *_sqHead));

    /// <summary>SQEs handed out (or published) that the kernel has not consumed yet.</summary>
    public uint PendingSubmissions => _sqeTail - Volatile.Read(ref *_sqHead);

    /// <summary>Completions ready to reap now (with DEFER_TASKRUN, as of the last Submit).</summary>
    public uint CompletionsReady => Volatile.Read(ref *_cqTail) - *_cqHead;

    /// <summary>
    /// True when a completion is ready to reap or, with TASKRUN_FLAG, the kernel has completion work
    /// waiting for the owner to enter (IORING_SQ_TASKRUN): a plain memory read, no system call, so a
    /// thread may poll it briefly before it sleeps.
    /// </summary>
    public bool HasPendingWork => CompletionsReady > 0 || (Volatile.Read(ref *_sqFlags) & IoUringNative.IORING_SQ_TASKRUN) != 0;

    /// <summary>SQEs the kernel dropped as invalid (sq_off.dropped); stays 0 in a correct program.</summary>
    public uint DroppedSubmissions => Volatile.Read(ref *_sqDropped);

    /// <summary>Completions lost to a full CQ (cq_off.overflow); stays 0 with IORING_FEAT_NODROP.</summary>
    public uint CompletionOverflows => Volatile.Read(ref *_cqOverflow);

    /// <summary>
    /// Whether io_uring can be set up in this process, probed once (a real io_uring_setup) and
    /// cached. <paramref name="reason"/> says which flags the kernel accepted, or why it refused
    /// (errno name, kernel.io_uring_disabled, seccomp) so the engine can log its fallback.
    /// </summary>
    public static bool IsSupported(out string reason)
    {
        (bool supported, string text) = Probe.Value;
        reason = text;
        return supported;
    }

    /// <summary>
    /// Sets up a ring with at least <paramref name="entries"/> SQEs, owned by the calling thread.
    /// </summary>
    /// <param name="entries">1 to <see cref="MaxEntries"/> (more with IORING_SETUP_CLAMP); rounded up to a power of two.</param>
    /// <param name="flags">
    /// Extra IORING_SETUP_* flags (SQPOLL, CLAMP, SUBMIT_ALL, SQE128 for the 80-byte command area
    /// of <see cref="IoUringSqe.PrepareUringCommand"/>...). Unless they name one of
    /// <see cref="TaskRunFlags"/>, the best single-owner mode the kernel accepts is negotiated:
    /// SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG (6.1+: the kernel flags pending completion work
    /// in the SQ ring, see <see cref="HasPendingWork"/>), then SINGLE_ISSUER | DEFER_TASKRUN, then
    /// SINGLE_ISSUER | COOP_TASKRUN (6.0), then
    /// COOP_TASKRUN (5.19), then none; with SQPOLL (which refuses the task-run flags) SINGLE_ISSUER,
    /// then none. <see cref="SetupFlags"/> reports what was accepted.
    /// </param>
    /// <exception cref="IoUringException">The kernel refused (<see cref="IoUringException.IsUnavailable"/>
    /// for EPERM/EACCES/ENOSYS), or mapping the rings failed.</exception>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    public static IoUring Create(uint entries, uint flags = 0)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("io_uring needs Linux.");
        }
        if (entries == 0 || (entries > MaxEntries && (flags & IoUringNative.IORING_SETUP_CLAMP) == 0))
        {
            throw new ArgumentOutOfRangeException(nameof(entries), entries, $"The ring needs 1 to {MaxEntries} entries (more only with IORING_SETUP_CLAMP).");
        }
        if ((flags & (IoUringNative.IORING_SETUP_CQE32 | IoUringNative.IORING_SETUP_NO_MMAP
            | IoUringNative.IORING_SETUP_NO_SQARRAY | IoUringNative.IORING_SETUP_REGISTERED_FD_ONLY | IoUringNative.IORING_SETUP_CQSIZE
            | IoUringNative.IORING_SETUP_ATTACH_WQ | IoUringNative.IORING_SETUP_SQ_AFF)) != 0)
        {
            throw new ArgumentException($"Setup flags 0x{flags:x} include ones this ring layout does not support.", nameof(flags));
        }

        ReadOnlySpan<uint> ladder = (flags & TaskRunFlags) != 0
            ? [flags]
            : (flags & IoUringNative.IORING_SETUP_SQPOLL) != 0
                ? [flags | IoUringNative.IORING_SETUP_SINGLE_ISSUER, flags]
                :
                [
                    flags | IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_DEFER_TASKRUN | IoUringNative.IORING_SETUP_TASKRUN_FLAG,
                    flags | IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_DEFER_TASKRUN,
                    flags | IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_COOP_TASKRUN,
                    flags | IoUringNative.IORING_SETUP_COOP_TASKRUN,
                    flags,
                ];

        IoUringParams p = default;
        int fd = -1;
        int errno = 0;
        foreach (uint attempt in ladder)
        {
            p = default;
            p.Flags = attempt;
            fd = IoUringNative.Setup(entries, &p, out errno);
            if (fd >= 0 || errno != Errno.EINVAL)
            {
                break; // accepted, or refused for a reason other flags cannot fix
            }
        }
        if (fd < 0)
        {
            throw IoUringException.SetupRefused(errno, flags, ReadDisabledSysctl());
        }

        try
        {
            return Map(fd, in p);
        }
        catch
        {
            _ = Libc.Close(fd);
            throw;
        }
    }

    /// <summary>IORING_SETUP_* bits as text ("SINGLE_ISSUER|DEFER_TASKRUN", "none").</summary>
    public static string FormatSetupFlags(uint flags)
    {
        if (flags == 0)
        {
            return "none";
        }
        var text = new StringBuilder();
        Append(IoUringNative.IORING_SETUP_IOPOLL, "IOPOLL");
        Append(IoUringNative.IORING_SETUP_SQPOLL, "SQPOLL");
        Append(IoUringNative.IORING_SETUP_SQ_AFF, "SQ_AFF");
        Append(IoUringNative.IORING_SETUP_CQSIZE, "CQSIZE");
        Append(IoUringNative.IORING_SETUP_CLAMP, "CLAMP");
        Append(IoUringNative.IORING_SETUP_ATTACH_WQ, "ATTACH_WQ");
        Append(IoUringNative.IORING_SETUP_R_DISABLED, "R_DISABLED");
        Append(IoUringNative.IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL");
        Append(IoUringNative.IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN");
        Append(IoUringNative.IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG");
        Append(IoUringNative.IORING_SETUP_SQE128, "SQE128");
        Append(IoUringNative.IORING_SETUP_CQE32, "CQE32");
        Append(IoUringNative.IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER");
        Append(IoUringNative.IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN");
        Append(IoUringNative.IORING_SETUP_NO_MMAP, "NO_MMAP");
        Append(IoUringNative.IORING_SETUP_REGISTERED_FD_ONLY, "REGISTERED_FD_ONLY");
        Append(IoUringNative.IORING_SETUP_NO_SQARRAY, "NO_SQARRAY");
        uint unknown = flags & ~((IoUringNative.IORING_SETUP_NO_SQARRAY << 1) - 1);
        if (unknown != 0)
        {
            Append(unknown, $"0x{unknown:x}");
        }
        return text.ToString();

        void Append(uint bit, string name)
        {
            if ((flags & bit) != 0)
            {
                if (text.Length > 0)
                {
                    text.Append('|');
                }
                text.Append(name);
            }
        }
    }

    /// <summary>
    /// Hands out the next free SQE, to be filled by one of its Prepare methods before the next
    /// <see cref="Submit"/>. Returns false when the SQ is full: submit (and reap), then retry.
    /// </summary>
    public bool TryGetSubmissionEntry(out IoUringSqe* entry)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Debug.Assert(Environment.CurrentManagedThreadId == _ownerThreadId, "io_uring used off its owner thread");
        uint tail = _sqeTail;
        if (tail - Volatile.Read(ref *_sqHead) >= SqEntries)
        {
            entry = null;
            return false;
        }
        entry = _sqes + ((tail & _sqMask) << _sqeShift);
        _sqeTail = tail + 1;
        return true;
    }

    /// <summary>
    /// Publishes every prepared SQE to the kernel and, when <paramref name="waitFor"/> &gt; 0, waits
    /// until at least that many completions are ready to reap (capped at <see cref="CqEntries"/>).
    /// </summary>
    /// <returns>
    /// The number of SQEs the kernel consumed in this call. Fewer than prepared when the kernel
    /// pushed back (a full CQ backlog: EAGAIN/EBUSY) or stopped at a bad entry (whose error
    /// arrives as a CQE); the rest stay queued and go with the next Submit. Reap, then call again.
    /// With SQPOLL: the number of entries newly published for the poller thread.
    /// </returns>
    /// <exception cref="IoUringException">io_uring_enter failed unexpectedly (EBADF, EFAULT, EINVAL, EEXIST...).</exception>
    public int Submit(uint waitFor = 0)
    {
        ThrowIfDisposedOrNotOwner();
        uint tail = _sqeTail;
        uint published = *_sqTail; // only this side writes the tail
        if (published != tail)
        {
            Volatile.Write(ref *_sqTail, tail); // release: the SQE bodies are visible before the tail
        }
        waitFor = Math.Min(waitFor, CqEntries);
        // With SQPOLL the poller thread consumes the SQ on its own (and may post a CQE before it
        // advances the head); what this call "submits" is what it newly published for the poller.
        int submitted = _sqPoll ? (int)(tail - published) : 0;
        while (true)
        {
            uint toSubmit = tail - Volatile.Read(ref *_sqHead);
            uint enterFlags = waitFor > 0 || _deferTaskRun ? IoUringNative.IORING_ENTER_GETEVENTS : 0;
            if (_sqPoll)
            {
                Interlocked.MemoryBarrier(); // order the tail store before reading NEED_WAKEUP (liburing's smp_mb)
                if (toSubmit > 0 && (Volatile.Read(ref *_sqFlags) & IoUringNative.IORING_SQ_NEED_WAKEUP) != 0)
                {
                    enterFlags |= IoUringNative.IORING_ENTER_SQ_WAKEUP;
                }
                toSubmit = 0; // the kernel ignores it; the poller submits
            }
            else if ((Volatile.Read(ref *_sqFlags) & (IoUringNative.IORING_SQ_CQ_OVERFLOW | IoUringNative.IORING_SQ_TASKRUN)) != 0)
            {
                enterFlags |= IoUringNative.IORING_ENTER_GETEVENTS; // flush the overflow list / run task work
            }
            if (enterFlags == 0 && toSubmit == 0)
            {
                return submitted;
            }

            int result = IoUringNative.Enter(_ringFd, toSubmit, waitFor, enterFlags, out int errno);
            if (result < 0)
            {
                switch (errno)
                {
                    case Errno.EINTR:
                        continue; // a signal (the runtime's own, for GC suspension) before anything was submitted
                    case Errno.EAGAIN:
                    case Errno.EBUSY:
                        return submitted; // the CQ backlog is full: the caller reaps, then submits again
                    default:
                        throw new IoUringException("io_uring_enter", errno,
                            $"io_uring_enter({toSubmit} to submit, wait for {waitFor}, flags 0x{enterFlags:x}) failed: {IoUringNative.DescribeErrno(errno)}.");
                }
            }
            if (!_sqPoll)
            {
                submitted += result;
            }
            if (waitFor == 0 || CompletionsReady >= waitFor)
            {
                return submitted;
            }
            if (result == 0 && toSubmit > 0)
            {
                return submitted; // no progress: do not spin, let the caller reap and retry
            }
            // Woken early (a signal once the SQEs were in): wait again, submitting whatever is left.
        }
    }

    /// <summary>
    /// Copies up to <paramref name="completions"/>.Length ready CQEs into the span, in completion
    /// order, and hands their slots back to the kernel. Returns how many were copied (0 when none).
    /// </summary>
    public int ReapCompletions(Span<IoUringCqe> completions)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Debug.Assert(Environment.CurrentManagedThreadId == _ownerThreadId, "io_uring used off its owner thread");
        uint head = *_cqHead; // only this side writes the head
        uint tail = Volatile.Read(ref *_cqTail); // acquire: the CQE bodies are visible before the tail
        int count = (int)Math.Min(tail - head, (uint)completions.Length);
        for (int i = 0; i < count; i++)
        {
            completions[i] = _cqes[(head + (uint)i) & _cqMask];
        }
        if (count > 0)
        {
            Volatile.Write(ref *_cqHead, head + (uint)count); // release: done reading before the kernel reuses the slots
        }
        return count;
    }

    /// <summary>
    /// Registers buffers for READ_FIXED/WRITE_FIXED; buffer i is buf_index i. The kernel pins their
    /// pages (counted against RLIMIT_MEMLOCK without CAP_IPC_LOCK) until unregistered or disposed,
    /// so they must stay allocated that long. Each must be at most 1 GiB.
    /// </summary>
    /// <exception cref="IoUringException">Refused: ENOMEM (the memlock limit), EBUSY (already registered), EINVAL, EFAULT.</exception>
    public void RegisterBuffers(ReadOnlySpan<(nint Address, int Length)> buffers)
    {
        ThrowIfDisposedOrNotOwner();
        if (buffers.IsEmpty)
        {
            throw new ArgumentException("At least one buffer is needed.", nameof(buffers));
        }
        long total = 0;
        var iovecs = (Libc.Iovec*)NativeMemory.Alloc((nuint)buffers.Length, (nuint)sizeof(Libc.Iovec));
        try
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                (nint address, int length) = buffers[i];
                if (address == 0 || length <= 0)
                {
                    throw new ArgumentException($"Buffer {i} has address 0x{address:x} and length {length}.", nameof(buffers));
                }
                iovecs[i].Base = (void*)address;
                iovecs[i].Length = (nuint)length;
                total += length;
            }
            int errno = RegisterCore(IoUringNative.IORING_REGISTER_BUFFERS, iovecs, (uint)buffers.Length);
            if (errno != 0)
            {
                string hint = errno == Errno.ENOMEM
                    ? $"; {total} bytes exceed the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l): raise it or grant CAP_IPC_LOCK"
                    : string.Empty;
                throw new IoUringException("io_uring_register(REGISTER_BUFFERS)", errno,
                    $"Registering {buffers.Length} buffer(s), {total} bytes, failed: {IoUringNative.DescribeErrno(errno)}{hint}.");
            }
        }
        finally
        {
            NativeMemory.Free(iovecs);
        }
    }

    /// <summary>Unregisters every buffer (after their requests have completed).</summary>
    public void UnregisterBuffers() => Unregister(IoUringNative.IORING_UNREGISTER_BUFFERS, "UNREGISTER_BUFFERS");

    /// <summary>
    /// Registers file descriptors: a request with <see cref="IoUringNative.IOSQE_FIXED_FILE"/> in its
    /// flags names the file by its index here instead of its descriptor (no per-request fget/fput).
    /// The ring holds its own reference; closing a descriptor afterwards does not affect the ring.
    /// </summary>
    public void RegisterFiles(ReadOnlySpan<int> fds)
    {
        ThrowIfDisposedOrNotOwner();
        if (fds.IsEmpty)
        {
            throw new ArgumentException("At least one descriptor is needed.", nameof(fds));
        }
        int errno;
        fixed (int* pointer = fds)
        {
            errno = RegisterCore(IoUringNative.IORING_REGISTER_FILES, pointer, (uint)fds.Length);
        }
        if (errno != 0)
        {
            throw new IoUringException("io_uring_register(REGISTER_FILES)", errno,
                $"Registering {fds.Length} file(s) failed: {IoUringNative.DescribeErrno(errno)}.");
        }
    }

    /// <summary>Unregisters every file.</summary>
    public void UnregisterFiles() => Unregister(IoUringNative.IORING_UNREGISTER_FILES, "UNREGISTER_FILES");

    /// <summary>Unmaps the rings and closes the descriptor; the kernel cancels what is still in flight.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _ = IoUringNative.Unmap(_sqesMap, _sqesSize);
        if (_cqRingSize != 0)
        {
            _ = IoUringNative.Unmap(_cqRing, _cqRingSize);
        }
        _ = IoUringNative.Unmap(_sqRing, _sqRingSize);
        _ = Libc.Close(_ringFd);
    }

    private static IoUring Map(int fd, in IoUringParams p)
    {
        nuint sqSize = p.SqOff.Array + (nuint)p.SqEntries * sizeof(uint);
        nuint cqSize = p.CqOff.Cqes + (nuint)p.CqEntries * (nuint)sizeof(IoUringCqe);
        bool single = (p.Features & IoUringNative.IORING_FEAT_SINGLE_MMAP) != 0;
        if (single)
        {
            sqSize = Math.Max(sqSize, cqSize);
        }
        // With SQE128 every entry is 128 bytes: two of the 64-byte layout.
        nuint sqesSize = (nuint)p.SqEntries * (nuint)sizeof(IoUringSqe) * ((p.Flags & IoUringNative.IORING_SETUP_SQE128) != 0 ? 2u : 1u);

        nint sq = IoUringNative.MapRing(fd, sqSize, IoUringNative.IORING_OFF_SQ_RING, out int errno);
        if (sq == IoUringNative.MAP_FAILED)
        {
            throw MapFailed("SQ ring", sqSize, errno);
        }
        nint cq = sq;
        nuint cqMapped = 0;
        if (!single)
        {
            cq = IoUringNative.MapRing(fd, cqSize, IoUringNative.IORING_OFF_CQ_RING, out errno);
            if (cq == IoUringNative.MAP_FAILED)
            {
                _ = IoUringNative.Unmap(sq, sqSize);
                throw MapFailed("CQ ring", cqSize, errno);
            }
            cqMapped = cqSize;
        }
        nint sqes = IoUringNative.MapRing(fd, sqesSize, IoUringNative.IORING_OFF_SQES, out errno);
        if (sqes == IoUringNative.MAP_FAILED)
        {
            if (!single)
            {
                _ = IoUringNative.Unmap(cq, cqSize);
            }
            _ = IoUringNative.Unmap(sq, sqSize);
            throw MapFailed("SQE array", sqesSize, errno);
        }
        return new IoUring(fd, in p, sq, sqSize, cq, cqMapped, sqes, sqesSize);

        static IoUringException MapFailed(string what, nuint size, int errno)
            => new("mmap", errno, $"Mapping the io_uring {what} ({size} bytes) failed: {IoUringNative.DescribeErrno(errno)}.");
    }

    private static string? ReadDisabledSysctl()
    {
        try
        {
            return File.ReadAllText(IoUringNative.DisabledSysctlPath).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // kernels before 6.6 have no such sysctl
        }
    }

    private static (bool, string) RunProbe()
    {
        try
        {
            using IoUring ring = Create(2);
            return (true, $"io_uring available: setup flags {FormatSetupFlags(ring.SetupFlags)} accepted, features 0x{ring.Features:x}");
        }
        catch (IoUringException e)
        {
            return (false, e.Message);
        }
        catch (PlatformNotSupportedException e)
        {
            return (false, e.Message);
        }
    }

    private int RegisterCore(uint opcode, void* argument, uint count)
    {
        while (IoUringNative.Register(_ringFd, opcode, argument, count, out int errno) < 0)
        {
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }

    private void Unregister(uint opcode, string name)
    {
        ThrowIfDisposedOrNotOwner();
        int errno = RegisterCore(opcode, null, 0);
        if (errno != 0)
        {
            throw new IoUringException($"io_uring_register({name})", errno, $"{name} failed: {IoUringNative.DescribeErrno(errno)}.");
        }
    }

    private void ThrowIfDisposedOrNotOwner()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (Environment.CurrentManagedThreadId != _ownerThreadId)
        {
            ThrowNotOwner();
        }
    }

    [DoesNotReturn]
    [StackTraceHidden]
    private static void ThrowNotOwner()
        => throw new InvalidOperationException("An io_uring is used only on the thread that created it (its single issuer).");
}
