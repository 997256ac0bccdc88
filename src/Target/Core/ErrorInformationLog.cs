using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>
/// A controller's Error Information log (log page 01h): the most recent failed commands, newest
/// first, each numbered by a count that only grows (it is also SMART's "Number of Error
/// Information Log Entries"). Recording takes a lock, but only a command that fails does it; the
/// success path of a completion pays one branch.
/// </summary>
internal sealed class ErrorInformationLog
{
    /// <summary>Entries kept: ELPE + 1 (ELPE in Identify Controller is 0-based).</summary>
    public const int Capacity = 64;

    /// <summary>TRTYPE of an entry for a transport error: TCP (discovery log encoding); 0 for every other error.</summary>
    private const byte TransportTypeTcp = 3;

    /// <summary>Parameter Error Location when the failing field is not pinned down (as nvmet reports).</summary>
    private const ushort UnknownLocation = 0xFFFF;

    private readonly Lock _lock = new();
    private readonly ErrorLogEntry[] _ring = new ErrorLogEntry[Capacity];
    private ulong _count, _mediaErrors;

    /// <summary>Errors recorded over the controller's life.</summary>
    public ulong Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Commands that failed with a media and data integrity status (SMART's Media and Data Integrity Errors).</summary>
    public ulong MediaErrors
    {
        get
        {
            lock (_lock)
            {
                return _mediaErrors;
            }
        }
    }

    public void Record(ushort queueId, in SubmissionQueueEntry command, NvmeStatus status)
    {
        lock (_lock)
        {
            _count++;
            if (status.CodeType == StatusCodeType.MediaAndDataIntegrity)
            {
                _mediaErrors++;
            }

            _ring[(int)(_count % Capacity)] = new ErrorLogEntry(
                _count, queueId, command.CommandId,
                // The completion's status field: bit 0 is the phase tag, bits 15:1 the status.
                (ushort)(status.Value << 1),
                UnknownLocation,
                StartingLba(queueId, command),
                command.NamespaceId,
                TransportType: IsTransportError(status) ? TransportTypeTcp : (byte)0);
        }
    }

    /// <summary>The whole page: newest entry first, unused entries zero.</summary>
    public byte[] Page()
    {
        var entries = new ErrorLogEntry[Capacity];
        int used;
        lock (_lock)
        {
            used = (int)Math.Min(_count, Capacity);
            for (int i = 0; i < used; i++)
            {
                entries[i] = _ring[(int)((_count - (ulong)i) % Capacity)];
            }
        }

        var page = new byte[ErrorLog.PageLength(Capacity - 1)];
        ErrorLog.Write(page, entries.AsSpan(0, used));
        return page;
    }

    /// <summary>Data Transfer Error (a digest or data PDU fault) and Transient Transport Error are the transport's.</summary>
    private static bool IsTransportError(NvmeStatus status) =>
        status.CodeType == StatusCodeType.Generic && status.Code is 0x04 or 0x22;

    /// <summary>SLBA of the I/O commands that address blocks; 0 for the rest.</summary>
    private static ulong StartingLba(ushort queueId, in SubmissionQueueEntry command) =>
        queueId != 0 && command.Opcode is IoOpcode.Read or IoOpcode.Write or IoOpcode.Compare or IoOpcode.WriteZeroes or IoOpcode.Verify
            ? command.Cdw10 | ((ulong)command.Cdw11 << 32)
            : 0;
}
