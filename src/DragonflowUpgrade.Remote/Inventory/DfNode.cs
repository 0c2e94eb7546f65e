using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Remote
{
    /// <summary>A node of the cloud, as the inventory describes it.</summary>
    public sealed class DfNode
    {
        public DfNode(string name, string address, int port, string user, string? identityFile, string chassis,
            IReadOnlyList<string> roles, IReadOnlyList<NodeService> services, string? inventory = null, IReadOnlyList<string>? configFiles = null)
        {
            ConfigFiles = configFiles ?? new[] { Remote.Inventory.DefaultDragonflowConfig };
            Inventory = inventory;
            Name = name;
            Address = address;
            Port = port;
            User = user;
            IdentityFile = identityFile;
            Chassis = chassis;
            Roles = roles;
            Services = services;
        }

        public string Name { get; }
        public string Address { get; }
        public int Port { get; }
        public string User { get; }
        /// <summary>The private key to log in with; null to use the user's default keys.</summary>
        public string? IdentityFile { get; }
        /// <summary>The node's host name in Dragonflow (the chassis of its service rows); the Name unless the inventory says otherwise.</summary>
        public string Chassis { get; }
        public IReadOnlyList<string> Roles { get; }
        /// <summary>The services the node's roles run, in start order.</summary>
        public IReadOnlyList<NodeService> Services { get; }
        /// <summary>The paths of the node's dragonflow.ini (one per distinct path its roles give).</summary>
        public IReadOnlyList<string> ConfigFiles { get; }
        /// <summary>The inventory file the node comes from, to name it in errors; null when made otherwise.</summary>
        public string? Inventory { get; }

        /// <summary>The node's services of one kind, in start order.</summary>
        public IReadOnlyList<NodeService> ServicesOf(ServiceKind kind) => Services.Where(s => s.Kind == kind).ToList();

        public override string ToString() => Name;
    }

    public enum ServiceKind
    {
        /// <summary>A Neutron server: stopped first, started last.</summary>
        Neutron,
        /// <summary>A Dragonflow service: stopped after the Neutron servers, started before them.</summary>
        Dragonflow,
    }

    /// <summary>A service on one node, with the commands that start, stop and query it there.</summary>
    public sealed class NodeService
    {
        public NodeService(string name, string role, ServiceKind kind, bool heartbeat, string start, string stop, string status)
        {
            Name = name;
            Role = role;
            Kind = kind;
            Heartbeat = heartbeat;
            StartCommand = start;
            StopCommand = stop;
            StatusCommand = status;
        }

        /// <summary>The service's name; for a Dragonflow service, the binary of its NB service row.</summary>
        public string Name { get; }
        /// <summary>The role that brought the service onto the node.</summary>
        public string Role { get; }
        public ServiceKind Kind { get; }
        /// <summary>Whether the service reports heartbeats in the NB service table (Dragonflow's register_service).</summary>
        public bool Heartbeat { get; }
        public string StartCommand { get; }
        public string StopCommand { get; }
        public string StatusCommand { get; }

        public override string ToString() => Name;
    }
}
