namespace NovaStor.Protocol;

/// <summary>Controller or Namespace Structure (CNS) values of the Identify command (CDW10 bits 7:0).</summary>
public static class IdentifyCns
{
    /// <summary>Every Identify data structure is this long.</summary>
    public const int IdentifyDataLength = 4096;

    /// <summary>Identify Namespace data structure for the NSID (NVM command set).</summary>
    public const byte Namespace = 0x00;

    /// <summary>Identify Controller data structure.</summary>
    public const byte Controller = 0x01;

    /// <summary>Active namespace ID list (NSIDs greater than CDW1 NSID).</summary>
    public const byte ActiveNamespaceList = 0x02;

    /// <summary>Namespace identification descriptor list.</summary>
    public const byte NamespaceDescriptorList = 0x03;

    /// <summary>I/O command set specific Identify Namespace (CSI in CDW11 bits 31:24).</summary>
    public const byte CommandSetNamespace = 0x05;

    /// <summary>I/O command set specific Identify Controller.</summary>
    public const byte CommandSetController = 0x06;

    /// <summary>I/O command set independent Identify Namespace.</summary>
    public const byte CommandSetIndependentNamespace = 0x08;

    /// <summary>Controller list: controllers attached to the NSID, CNTID and above (CDW10 bits 31:16).</summary>
    public const byte NamespaceControllerList = 0x12;

    /// <summary>Controller list: every controller in the NVM subsystem, CNTID and above.</summary>
    public const byte SubsystemControllerList = 0x13;

    /// <summary>Identify I/O command set data structure (combination list).</summary>
    public const byte CommandSetCombinationList = 0x1C;
}

/// <summary>Command Set Identifier (CSI) values.</summary>
public static class CommandSetIdentifiers
{
    /// <summary>NVM command set.</summary>
    public const byte Nvm = 0x00;

    /// <summary>Key value command set.</summary>
    public const byte KeyValue = 0x01;

    /// <summary>Zoned namespace command set.</summary>
    public const byte ZonedNamespace = 0x02;
}
