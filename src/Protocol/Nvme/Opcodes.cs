namespace NovaStor.Protocol;

/// <summary>Admin command opcodes (NVMe Base 2.0 figure 84).</summary>
public static class AdminOpcode
{
    public const byte GetLogPage = 0x02;
    public const byte Identify = 0x06;
    public const byte Abort = 0x08;
    public const byte SetFeatures = 0x09;
    public const byte GetFeatures = 0x0A;
    public const byte AsyncEventRequest = 0x0C;
    public const byte KeepAlive = 0x18;
    /// <summary>Fabrics commands share one opcode and are told apart by FCTYPE.</summary>
    public const byte Fabrics = 0x7F;
}

/// <summary>NVM command set I/O opcodes (NVM Command Set 1.0 figure 18).</summary>
public static class IoOpcode
{
    public const byte Flush = 0x00;
    public const byte Write = 0x01;
    public const byte Read = 0x02;
    public const byte Compare = 0x05;
    public const byte WriteZeroes = 0x08;
    public const byte DatasetManagement = 0x09;
    public const byte Verify = 0x0C;
    public const byte ReservationRegister = 0x0D;
    public const byte ReservationReport = 0x0E;
    public const byte ReservationAcquire = 0x11;
    public const byte ReservationRelease = 0x15;
    public const byte Copy = 0x19;
}

/// <summary>Fabrics command types (FCTYPE, NVMe over Fabrics 1.1 figure 11).</summary>
public static class FabricsCommandType
{
    public const byte PropertySet = 0x00;
    public const byte Connect = 0x01;
    public const byte PropertyGet = 0x04;
    public const byte AuthenticationSend = 0x05;
    public const byte AuthenticationReceive = 0x06;
    public const byte Disconnect = 0x08;
}

/// <summary>Feature identifiers (NVMe Base 2.0 figure 204).</summary>
public static class FeatureId
{
    public const byte Arbitration = 0x01;
    public const byte PowerManagement = 0x02;
    public const byte TemperatureThreshold = 0x04;
    public const byte ErrorRecovery = 0x05;
    public const byte VolatileWriteCache = 0x06;
    public const byte NumberOfQueues = 0x07;
    public const byte InterruptCoalescing = 0x08;
    public const byte InterruptVectorConfiguration = 0x09;
    public const byte WriteAtomicityNormal = 0x0A;
    public const byte AsyncEventConfiguration = 0x0B;
    public const byte KeepAliveTimer = 0x0F;
    public const byte HostIdentifier = 0x81;
    public const byte ReservationNotificationMask = 0x82;
    public const byte ReservationPersistence = 0x83;
}
