using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Protocol.Authentication;
using NovaStor.Target.Core;
using V1 = NovaStor.ControlPlane.V1;
using WireAnaState = NovaStor.Protocol.AnaState;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>The target's state as novastor.v1 messages, and the messages' enums as the target's.</summary>
internal static class ProtoMapping
{
    public static V1.Volume Volume(NodeState node, VolumeRecord record)
    {
        var volume = new V1.Volume
        {
            Name = record.Name,
            Id = record.Id.ToString(),
            SizeBytes = (ulong)record.SizeBytes,
            BlockSize = (uint)record.BlockSize,
            AllocatedBytes = node.AllocatedBytes(record),
            ChunkBytes = (ulong)record.ChunkBytes,
        };
        volume.Drives.AddRange(record.Stripe.Select(m => m.Drive));
        volume.Exports.AddRange(node.ExportsOf(record.Name).Select(e => new V1.VolumeExport { SubsystemNqn = e.Subsystem.Nqn, NamespaceId = e.Namespace.Id }));
        return volume;
    }

    public static V1.Subsystem Subsystem(Subsystem subsystem)
    {
        var message = new V1.Subsystem
        {
            Nqn = subsystem.Nqn,
            SerialNumber = subsystem.SerialNumber,
            ModelNumber = subsystem.ModelNumber,
            AllowAnyHost = subsystem.AllowAnyHost,
            Static = subsystem.IsStatic,
            AllListeners = subsystem.PortIds is null,
        };
        message.ListenerPortIds.AddRange((subsystem.PortIds ?? []).Order().Select(id => (uint)id));
        message.AllowedHosts.AddRange(subsystem.AllowedHosts.Order(StringComparer.Ordinal));
        message.AuthenticatedHosts.AddRange(subsystem.AuthenticatedHosts.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => new V1.HostAuthentication
        {
            HostNqn = h.Key,
            Bidirectional = h.Value.ControllerSecret is not null,
            Hash = h.Value.Hash is { } hash ? DhchapHashes.Name(hash) : "",
            Group = h.Value.Group is { } group ? DhchapGroups.Name(group) : "",
        }));
        message.Namespaces.AddRange(subsystem.Namespaces.Select(ns => new V1.Namespace
        {
            Id = ns.Id,
            Volume = ns.VolumeName,
            AnaGroup = ns.AnaGroupId,
            SizeBytes = (ulong)ns.Volume.SizeBytes,
            BlockSize = (uint)ns.BlockSize,
            Nguid = Convert.ToHexStringLower(ns.Nguid),
            Uuid = new Guid(ns.Uuid, bigEndian: true).ToString(),
        }));
        message.Controllers.AddRange(subsystem.Controllers().Select(c => Controller(subsystem, c)));
        return message;
    }

    public static V1.ControllerInfo Controller(Subsystem subsystem, Controller controller) => new()
    {
        SubsystemNqn = subsystem.Nqn,
        ControllerId = controller.Id,
        HostNqn = controller.HostNqn,
        HostId = controller.HostId.ToString(),
        QueueCount = (uint)controller.ConnectedQueues().Length,
        KeepAliveTimeoutMs = controller.KeepAliveTimeoutMs,
        RemoteAddress = controller.RemoteAddress,
        ConnectedSince = Timestamp.FromDateTimeOffset(controller.ConnectedAt),
        PortId = controller.PortId,
    };

    public static V1.Listener Listener(TargetPort port)
    {
        var listener = new V1.Listener { PortId = port.Id, Address = port.Address.ToString(), Port = (uint)port.Port, Static = port.IsStatic };
        for (uint group = 1; group <= TargetPort.MaxAnaGroups; group++)
        {
            if (port.StateOf(group) is var state && state != WireAnaState.Optimized)
            {
                listener.AnaStates.Add(new V1.AnaGroupState { Group = group, State = AnaState(state) });
            }
        }

        return listener;
    }

    public static V1.AnaState AnaState(WireAnaState state) => state switch
    {
        WireAnaState.Optimized => V1.AnaState.Optimized,
        WireAnaState.NonOptimized => V1.AnaState.NonOptimized,
        WireAnaState.Inaccessible => V1.AnaState.Inaccessible,
        WireAnaState.PersistentLoss => V1.AnaState.PersistentLoss,
        _ => V1.AnaState.Unspecified,
    };

    public static WireAnaState AnaState(V1.AnaState state) => state switch
    {
        V1.AnaState.Optimized => WireAnaState.Optimized,
        V1.AnaState.NonOptimized => WireAnaState.NonOptimized,
        V1.AnaState.Inaccessible => WireAnaState.Inaccessible,
        V1.AnaState.PersistentLoss => WireAnaState.PersistentLoss,
        _ => throw NodeState.Refused(StatusCode.InvalidArgument, $"ANA state {state} is not one a listener can have: use optimized, non-optimized, inaccessible or persistent-loss."),
    };

    /// <summary>A bitmap of 64-bit words (bit r = region r) as bytes (bit r = bit r % 8 of byte r / 8): the same bits, little-endian.</summary>
    public static ByteString Bitmap(ulong[] words, long regionCount)
    {
        var bytes = new byte[(regionCount + 7) / 8];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(words[i / 8] >> (8 * (i % 8)));
        }

        return ByteString.CopyFrom(bytes);
    }
}
