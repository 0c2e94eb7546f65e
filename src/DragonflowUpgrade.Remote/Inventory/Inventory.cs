using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Reads an inventory: the nodes of the cloud, their roles, and the commands that start, stop
    /// and query each service. Shape (JSON, or the same as a .psd1 hashtable):
    /// <code>
    /// Defaults = @{ User; Port; IdentityFile; Start; Stop; Status }
    /// Roles    = @{ compute = @{ Services = @('df-local-controller'); Start; Stop; Status } }
    /// Services = @{ 'df-local-controller' = @{ Start; Stop; Status; Kind = 'dragonflow'; Heartbeat = $true } }
    /// Nodes    = @( @{ Name; Address; Port; User; IdentityFile; Chassis; Roles = @('compute') } )
    /// </code>
    /// A command is taken from the service, else its role, else Defaults, else systemd. In a
    /// command, {service}, {node} and {chassis} are replaced by those values, shell-quoted.
    /// </summary>
    public static class Inventory
    {
        public const int DefaultPort = 22;

        /// <summary>The roles every inventory knows, and the services they run, in start order.</summary>
        public static readonly IReadOnlyDictionary<string, string[]> DefaultRoles = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
        {
            ["controller"] = new[] { "neutron-server", "df-publisher-service" },
            ["compute"] = new[] { "df-local-controller", "df-metadata-service" },
            ["network"] = new[] { "df-l3-agent", "df-bgp-service" },
        };

        /// <summary>Services that run as Dragonflow services but write no NB service row.</summary>
        static readonly HashSet<string> SilentServices = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "df-l3-agent" };

        const string DefaultStart = "systemctl start {service}";
        const string DefaultStop = "systemctl stop {service}";
        const string DefaultStatus = "systemctl is-active {service}";

        /// <summary>Reads a .json inventory file (.psd1 files are read by the cmdlets, which have PowerShell's parser).</summary>
        public static IReadOnlyList<DfNode> LoadJson(string path)
        {
            byte[] bytes;
            try { bytes = File.ReadAllBytes(path); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new InventoryException(path, 0, null, "cannot be read: " + e.Message);
            }
            return Parse(InventoryValue.ParseJson(bytes, path), path);
        }

        /// <summary>Turns a parsed inventory into nodes; <paramref name="file"/> names it in errors and anchors relative identity files.</summary>
        public static IReadOnlyList<DfNode> Parse(InventoryValue root, string file)
        {
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(file));
            var top = new Fields(root, "", file, "Defaults", "Roles", "Services", "Nodes");

            var defaults = top.Map("Defaults", "User", "Port", "IdentityFile", "Start", "Stop", "Status");
            var defaultCommands = Commands.Read(defaults, new Commands(DefaultStart, DefaultStop, DefaultStatus));

            var roles = new Dictionary<string, (string[] Services, Commands Commands)>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in DefaultRoles) roles[r.Key] = (r.Value, defaultCommands);
            foreach (var role in top.Entries("Roles"))
            {
                var fields = new Fields(role.Value, "Roles." + role.Key, file, "Services", "Start", "Stop", "Status");
                string[] roleServices = fields.StringList("Services", required: !DefaultRoles.ContainsKey(role.Key))
                    ?? DefaultRoles[role.Key];
                roles[role.Key] = (roleServices, Commands.Read(fields, defaultCommands));
            }

            var services = new Dictionary<string, (Fields Fields, ServiceKind? Kind, bool? Heartbeat)>(StringComparer.OrdinalIgnoreCase);
            foreach (var service in top.Entries("Services"))
            {
                var fields = new Fields(service.Value, "Services." + service.Key, file, "Start", "Stop", "Status", "Kind", "Heartbeat");
                ServiceKind? kind = null;
                string kindText = fields.String("Kind");
                if (kindText != null)
                {
                    if (!Enum.TryParse(kindText, true, out ServiceKind parsed) || !Enum.IsDefined(typeof(ServiceKind), parsed))
                        throw fields.Error("Kind", $"'{kindText}' is not a service kind: use 'neutron' or 'dragonflow'.");
                    kind = parsed;
                }
                services[service.Key] = (fields, kind, fields.Boolean("Heartbeat"));
            }

            var nodes = new List<DfNode>();
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var nodeList = top.List("Nodes", required: true);
            if (nodeList.Count == 0) throw top.Error("Nodes", "lists no node.");
            for (int i = 0; i < nodeList.Count; i++)
            {
                var node = new Fields(nodeList[i], $"Nodes[{i}]", file, "Name", "Address", "Port", "User", "IdentityFile", "Chassis", "Roles");
                string name = node.String("Name", required: true);
                if (!names.Add(name)) throw node.Error("Name", $"'{name}' names two nodes.");
                string address = node.String("Address", required: true);
                if (!IsHostName(address)) throw node.Error("Address", $"'{address}' is not a host name or IP address.");
                int port = node.Port("Port") ?? defaults.Port("Port") ?? DefaultPort;
                string user = node.String("User") ?? defaults.String("User") ?? Environment.UserName;
                string identity = node.String("IdentityFile") ?? defaults.String("IdentityFile");
                if (identity != null) identity = ResolvePath(identity, baseDir);
                string chassis = node.String("Chassis") ?? name;
                string[] nodeRoles = node.StringList("Roles", required: true);
                if (nodeRoles.Length == 0) throw node.Error("Roles", "is empty: give the node at least one role.");

                var nodeServices = new List<NodeService>();
                foreach (string role in nodeRoles)
                {
                    if (!roles.TryGetValue(role, out var r))
                        throw node.Error("Roles", $"'{role}' is not a role: use {string.Join(", ", roles.Keys.Select(k => "'" + k + "'"))} or define it under Roles.");
                    foreach (string serviceName in r.Services)
                    {
                        if (nodeServices.Any(s => string.Equals(s.Name, serviceName, StringComparison.OrdinalIgnoreCase))) continue;
                        var commands = r.Commands;
                        ServiceKind kind = serviceName.StartsWith("neutron", StringComparison.OrdinalIgnoreCase) ? ServiceKind.Neutron : ServiceKind.Dragonflow;
                        bool? heartbeat = null;
                        if (services.TryGetValue(serviceName, out var s))
                        {
                            commands = Commands.Read(s.Fields, commands);
                            kind = s.Kind ?? kind;
                            heartbeat = s.Heartbeat;
                        }
                        bool beats = heartbeat ?? (kind == ServiceKind.Dragonflow && !SilentServices.Contains(serviceName));
                        nodeServices.Add(new NodeService(serviceName, role, kind, beats,
                            Fill(commands.Start, serviceName, name, chassis),
                            Fill(commands.Stop, serviceName, name, chassis),
                            Fill(commands.Status, serviceName, name, chassis)));
                    }
                }
                nodes.Add(new DfNode(name, address, port, user, identity, chassis, nodeRoles, nodeServices));
            }
            return nodes;
        }

        /// <summary>Replaces the placeholders of a command template by shell-quoted values.</summary>
        public static string Fill(string template, string service, string node, string chassis) =>
            template
                .Replace("{service}", ShellQuote.Quote(service))
                .Replace("{node}", ShellQuote.Quote(node))
                .Replace("{chassis}", ShellQuote.Quote(chassis));

        static bool IsHostName(string address) =>
            address.Length > 0 && address.All(c => c < 128 && (char.IsLetterOrDigit(c) || c == '.' || c == '-' || c == ':' || c == '_'));

        static string ResolvePath(string path, string baseDir)
        {
            if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
                path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Substring(Math.Min(2, path.Length)));
            return Path.GetFullPath(Path.Combine(baseDir, path));
        }

        sealed class Commands
        {
            public Commands(string start, string stop, string status) { Start = start; Stop = stop; Status = status; }
            public string Start { get; }
            public string Stop { get; }
            public string Status { get; }

            public static Commands Read(Fields fields, Commands fallback) =>
                new Commands(fields.String("Start") ?? fallback.Start, fields.String("Stop") ?? fallback.Stop, fields.String("Status") ?? fallback.Status);
        }

        /// <summary>The fields of one inventory table, read by name (case-insensitive) with errors naming file, line and field.</summary>
        sealed class Fields
        {
            readonly InventoryValue _value;
            readonly string _path;
            readonly string _file;

            public Fields(InventoryValue value, string path, string file, params string[] allowed)
            {
                _path = path;
                _file = file;
                if (value == null) { _value = InventoryValue.FromMap(new KeyValuePair<string, InventoryValue>[0], 0); return; }
                if (value.Kind != InventoryValueKind.Map)
                    throw new InventoryException(file, value.Line, path.Length == 0 ? null : path, $"must be a table of fields, not {value}.");
                _value = value;
                foreach (var entry in value.Map)
                    if (!allowed.Contains(entry.Key, StringComparer.OrdinalIgnoreCase))
                        throw new InventoryException(file, entry.Value.Line, Name(entry.Key),
                            $"is not a field here: use {string.Join(", ", allowed)}.");
            }

            string Name(string field) => _path.Length == 0 ? field : _path + "." + field;

            public InventoryException Error(string field, string problem) =>
                new InventoryException(_file, Get(field)?.Line ?? _value.Line, Name(field), problem);

            InventoryValue Get(string field)
            {
                foreach (var entry in _value.Map)
                    if (string.Equals(entry.Key, field, StringComparison.OrdinalIgnoreCase))
                        return entry.Value.Kind == InventoryValueKind.Null ? null : entry.Value;
                return null;
            }

            InventoryValue Required(string field, bool required)
            {
                var v = Get(field);
                if (v == null && required) throw new InventoryException(_file, _value.Line, Name(field), "is missing.");
                return v;
            }

            public string String(string field, bool required = false)
            {
                var v = Required(field, required);
                if (v == null) return null;
                if (v.Kind != InventoryValueKind.String && v.Kind != InventoryValueKind.Number)
                    throw Error(field, $"must be a string, not {v}.");
                if (string.IsNullOrWhiteSpace(v.Text)) throw Error(field, "is empty.");
                return v.Text;
            }

            public int? Port(string field)
            {
                var v = Get(field);
                if (v == null) return null;
                if ((v.Kind == InventoryValueKind.Number || v.Kind == InventoryValueKind.String) &&
                    int.TryParse(v.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port >= 1 && port <= 65535)
                    return port;
                throw Error(field, $"{v} is not a port number (1-65535).");
            }

            public bool? Boolean(string field)
            {
                var v = Get(field);
                if (v == null) return null;
                if (v.Kind != InventoryValueKind.Boolean) throw Error(field, $"must be true or false, not {v}.");
                return v.Text == "true";
            }

            public string[] StringList(string field, bool required)
            {
                var v = Required(field, required);
                if (v == null) return null;
                var items = v.Kind == InventoryValueKind.List ? v.List : new[] { v };
                var result = new string[items.Count];
                for (int i = 0; i < items.Count; i++)
                {
                    if (items[i].Kind != InventoryValueKind.String || string.IsNullOrWhiteSpace(items[i].Text))
                        throw new InventoryException(_file, items[i].Line, Name(field), $"must list names, and {items[i]} is not one.");
                    result[i] = items[i].Text;
                }
                return result;
            }

            public IReadOnlyList<InventoryValue> List(string field, bool required)
            {
                var v = Required(field, required);
                if (v == null) return new InventoryValue[0];
                if (v.Kind != InventoryValueKind.List) throw Error(field, $"must be a list, not {v}.");
                return v.List;
            }

            public Fields Map(string field, params string[] allowed) => new Fields(Get(field), Name(field), _file, allowed);

            /// <summary>The entries of a table whose keys are names (roles, services).</summary>
            public IEnumerable<KeyValuePair<string, InventoryValue>> Entries(string field)
            {
                var v = Get(field);
                if (v == null) return Enumerable.Empty<KeyValuePair<string, InventoryValue>>();
                if (v.Kind != InventoryValueKind.Map) throw Error(field, $"must be a table keyed by name, not {v}.");
                return v.Map;
            }
        }
    }
}
