namespace NovaStor.BlockEngine;

/// <summary>
/// An io_uring system call failed in a way the caller has to decide about: setup refused (the
/// engine then falls back to positional I/O), a registration refused (RLIMIT_MEMLOCK), or a
/// misuse. <see cref="IOException.HResult"/> and <see cref="Errno"/> carry the positive errno.
/// </summary>
internal sealed class IoUringException : IOException
{
    public IoUringException(string operation, int errno, string message)
        : base(message)
    {
        Operation = operation;
        Errno = errno;
        HResult = errno;
    }

    /// <summary>The call that failed: "io_uring_setup", "io_uring_enter", "io_uring_register(REGISTER_BUFFERS)", "mmap".</summary>
    public string Operation { get; }

    /// <summary>The positive Linux errno.</summary>
    public int Errno { get; }

    /// <summary>The errno's symbolic name ("EPERM").</summary>
    public string ErrnoName => IoUringNative.ErrnoName(Errno);

    /// <summary>
    /// True when the failure means io_uring is not usable in this process at all (and the engine
    /// should fall back): EPERM, EACCES or ENOSYS from io_uring_setup.
    /// </summary>
    public bool IsUnavailable => Operation == "io_uring_setup" && Errno is NovaStor.BlockEngine.Errno.EPERM
        or NovaStor.BlockEngine.Errno.EACCES or NovaStor.BlockEngine.Errno.ENOSYS;

    /// <summary>The exception for a refused io_uring_setup, with the likely cause spelled out.</summary>
    internal static IoUringException SetupRefused(int errno, uint flags, string? disabledSysctl)
        => new("io_uring_setup", errno, SetupRefusedMessage(errno, flags, disabledSysctl));

    /// <summary>Explains a refused io_uring_setup; <paramref name="disabledSysctl"/> is the content of kernel.io_uring_disabled, if readable.</summary>
    internal static string SetupRefusedMessage(int errno, uint flags, string? disabledSysctl)
    {
        string sysctl = disabledSysctl is null ? "unreadable" : disabledSysctl;
        string cause = errno switch
        {
            NovaStor.BlockEngine.Errno.EPERM or NovaStor.BlockEngine.Errno.EACCES => disabledSysctl switch
            {
                "2" => "io_uring is disabled system wide (kernel.io_uring_disabled = 2)",
                "1" => "io_uring is restricted to the io_uring_group (kernel.io_uring_disabled = 1) and this process is not in it",
                _ => $"a seccomp profile (the default Docker/containerd one blocks io_uring) or an LSM refused it (kernel.io_uring_disabled = {sysctl})",
            },
            NovaStor.BlockEngine.Errno.ENOSYS => $"the kernel has no io_uring, or a seccomp profile hides it (kernel.io_uring_disabled = {sysctl})",
            NovaStor.BlockEngine.Errno.ENOMEM => "not enough locked memory for the rings (RLIMIT_MEMLOCK on kernels before 5.12)",
            NovaStor.BlockEngine.Errno.EINVAL => $"the kernel does not accept the setup flags 0x{flags:x}",
            _ => "unexpected error",
        };
        return $"io_uring_setup refused: {IoUringNative.DescribeErrno(errno)}: {cause}.";
    }
}
