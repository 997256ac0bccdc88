using System.Net;

namespace NovaStor.Target.Core.Limits;

/// <summary>
/// What hosts may hold at once (<see cref="TargetLimits"/>): connections target-wide and per IP
/// address, controllers target-wide and per host NQN. A refusal is logged once per address or host
/// per minute (<see cref="Throttle"/>), so refused floods cost no log volume either.
/// </summary>
internal sealed class AdmissionControl(TargetLimits limits, TimeProvider time)
{
    private readonly Dictionary<IPAddress, int> _connectionsByAddress = [];
    private readonly Dictionary<string, int> _controllersByHost = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _connections;
    private int _controllers;

    /// <summary>Refusals and authentication failures, logged at most once per key per minute.</summary>
    public LogThrottle Throttle { get; } = new(time, TimeSpan.FromMinutes(1));

    public int Connections => Volatile.Read(ref _connections);
    public int Controllers => Volatile.Read(ref _controllers);

    /// <summary>Takes a connection slot for <paramref name="address"/>; null when it may have one, else why not.</summary>
    public string? TryOpenConnection(IPAddress? address)
    {
        lock (_lock)
        {
            if (_connections >= limits.MaxConnections)
            {
                return $"the target already has {_connections} connections (NovaStor:Limits:MaxConnections)";
            }

            int fromAddress = address is null ? 0 : _connectionsByAddress.GetValueOrDefault(address);
            if (address is not null && fromAddress >= limits.MaxConnectionsPerAddress)
            {
                return $"{address} already has {fromAddress} connections (NovaStor:Limits:MaxConnectionsPerAddress)";
            }

            _connections++;
            if (address is not null)
            {
                _connectionsByAddress[address] = fromAddress + 1;
            }

            return null;
        }
    }

    public void CloseConnection(IPAddress? address)
    {
        lock (_lock)
        {
            _connections--;
            if (address is not null && _connectionsByAddress.TryGetValue(address, out int count))
            {
                if (count <= 1)
                {
                    _connectionsByAddress.Remove(address);
                }
                else
                {
                    _connectionsByAddress[address] = count - 1;
                }
            }
        }
    }

    /// <summary>Takes a controller slot for <paramref name="hostNqn"/>; null when it may have one, else why not.</summary>
    public string? TryCreateController(string hostNqn)
    {
        lock (_lock)
        {
            if (_controllers >= limits.MaxControllers)
            {
                return $"the target already has {_controllers} controllers (NovaStor:Limits:MaxControllers)";
            }

            int ofHost = _controllersByHost.GetValueOrDefault(hostNqn);
            if (ofHost >= limits.MaxControllersPerHost)
            {
                return $"the host already has {ofHost} controllers (NovaStor:Limits:MaxControllersPerHost)";
            }

            _controllers++;
            _controllersByHost[hostNqn] = ofHost + 1;
            return null;
        }
    }

    public void RemoveController(string hostNqn)
    {
        lock (_lock)
        {
            _controllers--;
            if (_controllersByHost.TryGetValue(hostNqn, out int count))
            {
                if (count <= 1)
                {
                    _controllersByHost.Remove(hostNqn);
                }
                else
                {
                    _controllersByHost[hostNqn] = count - 1;
                }
            }
        }
    }
}
