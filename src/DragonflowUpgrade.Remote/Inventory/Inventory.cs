using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Reads an inventory: the nodes of the cloud, their roles, and the commands that start, stop
    /// and query each service. Shape (JSON, or the same as a .psd1 hashtable):
    /// <code>
    /// Defaults = @{ User; Port; IdentityFile; Start; Stop; Status; DragonflowConfig }
    /// Roles    = @{ compute = @{ Services = @('df-local-controller'); Start; Stop; Status; DragonflowConfig } }
    /// Services = @{ 'df-local-controller' = @{ Start; Stop; Status; Kind = 'dragonflow'; Heartbeat = $true } }
    /// Nodes    = @( @{ Name; Address; Port; User; IdentityFile; Chassis; Roles = @('compute'); DragonflowConfig } )
    /// </code>
    /// DragonflowConfig is the path of the node's dragonflow.ini: the node's, else its roles'
    /// (a node whose roles name several has several), else Defaults', else <see cref="DefaultDragonflowConfig"/>.
    /// A command is taken from the service, else its role, else Defaults, else systemd. In a
    /// command, {service}, {node} and {chassis} are replaced by those names as they are, quoted
    /// or not (see <see cref="CommandTemplate"/>): the names may hold only what a systemd unit
    /// name holds, which is what makes that safe.
    /// </summary>
    public static partial class Inventory
    {
        public const int DefaultPort = 22;

        /// <summary>Where Dragonflow's devstack plugin writes dragonflow.ini (DRAGONFLOW_CONF), at 4.0.0 and 5.0.0.</summary>
        public const string DefaultDragonflowConfig = "/etc/neutron/dragonflow.ini";

        /// <summary>The roles every inventory knows, and the services they run, in start order.</summary>
        public static readonly IReadOnlyDictionary<string, string[]> DefaultRoles = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
        {
            ["controller"] = new[] { "neutron-server", "df-publisher-service" },
            ["compute"] = new[] { "df-local-controller", "df-metadata-service" },
            ["network"] = new[] { "df-l3-agent", "df-bgp-service" },
        };

        /// <summary>Services that run as Dragonflow services but write no NB service row.</summary>
        static readonly HashSet<string> SilentServices = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "df-l3-agent" };

        static readonly CommandTemplate DefaultStart = new CommandTemplate("systemctl start {service}", null, 0);
        static readonly CommandTemplate DefaultStop = new CommandTemplate("systemctl stop {service}", null, 0);
        static readonly CommandTemplate DefaultStatus = new CommandTemplate("systemctl is-active {service}", null, 0);

        const int MaxNameLength = 255;

        /// <summary>Reads a .json inventory file (.psd1 files are read by the cmdlets, which have PowerShell's parser).</summary>
        public static IReadOnlyList<DfNode> LoadJson(string path) => Parse(ReadJson(path), path);

        /// <summary>Reads a .json inventory file into the form <see cref="Parse"/> takes.</summary>
        public static InventoryValue ReadJson(string path)
        {
            byte[] bytes;
            try { bytes = File.ReadAllBytes(path); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new InventoryException(path, 0, null, "cannot be read: " + e.Message);
            }
            return InventoryValue.ParseJson(bytes, path);
        }

        /// <summary>Turns a parsed inventory into nodes; <paramref name="file"/> names it in errors and anchors relative identity files.</summary>
        public static IReadOnlyList<DfNode> Parse(InventoryValue root, string file)
        {
            string fullPath = Path.GetFullPath(file);
            // Null only for a root directory, which is no inventory file.
            string baseDir = Path.GetDirectoryName(fullPath) ?? fullPath;
            var top = new Fields(root, "", file, "Defaults", "Roles", "Services", "Nodes", NeutronDatabaseField);

            var defaults = top.Map("Defaults", "User", "Port", "IdentityFile", "Start", "Stop", "Status", "DragonflowConfig");
            string defaultConfig = defaults.RemotePath("DragonflowConfig") ?? DefaultDragonflowConfig;
            var roleConfigs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var defaultCommands = Commands.Read(defaults, new Commands(DefaultStart, DefaultStop, DefaultStatus));

            var roles = new Dictionary<string, (string[] Services, Commands Commands)>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in DefaultRoles) roles[r.Key] = (r.Value, defaultCommands);
            foreach (var role in top.Entries("Roles"))
            {
                var fields = new Fields(role.Value, "Roles." + role.Key, file, "Services", "Start", "Stop", "Status", "DragonflowConfig");
                if (fields.RemotePath("DragonflowConfig") is string roleConfig) roleConfigs[role.Key] = roleConfig;
                string[] roleServices = fields.StringList("Services", names: "service name")
                    ?? (DefaultRoles.TryGetValue(role.Key, out var knownServices) ? knownServices : throw fields.Missing("Services"));
                roles[role.Key] = (roleServices, Commands.Read(fields, defaultCommands));
            }

            var services = new Dictionary<string, (Fields Fields, ServiceKind? Kind, bool? Heartbeat)>(StringComparer.OrdinalIgnoreCase);
            foreach (var service in top.Entries("Services"))
            {
                var fields = new Fields(service.Value, "Services." + service.Key, file, "Start", "Stop", "Status", "Kind", "Heartbeat");
                CheckName(service.Key, "service name", file, service.Value.Line, "Services");
                ServiceKind? kind = null;
                string? kindText = fields.String("Kind");
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
            var nodeList = top.List("Nodes") ?? throw top.Missing("Nodes");
            if (nodeList.Count == 0) throw top.Error("Nodes", "lists no node.");
            for (int i = 0; i < nodeList.Count; i++)
            {
                var node = new Fields(nodeList[i], $"Nodes[{i}]", file, "Name", "Address", "Port", "User", "IdentityFile", "Chassis", "Roles", "DragonflowConfig");
                string name = node.Name("Name", "node name") ?? throw node.Missing("Name");
                if (!names.Add(name)) throw node.Error("Name", $"'{name}' names two nodes.");
                string address = node.String("Address") ?? throw node.Missing("Address");
                if (!IsHostName(address)) throw node.Error("Address", $"'{InventoryException.Show(address)}' is not a host name or IP address.");
                int port = node.Port("Port") ?? defaults.Port("Port") ?? DefaultPort;
                string user = node.UserName("User") ?? defaults.UserName("User") ?? Environment.UserName;
                string? identity = node.String("IdentityFile") ?? defaults.String("IdentityFile");
                if (identity != null) identity = ResolvePath(identity, baseDir) ?? throw node.Error("IdentityFile", $"'{InventoryException.Show(identity)}' is not a valid path.");
                string chassis = node.Name("Chassis", "chassis name") ?? name;
                string[] nodeRoles = node.StringList("Roles") ?? throw node.Missing("Roles");
                if (nodeRoles.Length == 0) throw node.Error("Roles", "is empty: give the node at least one role.");

                var nodeServices = new List<NodeService>();
                foreach (string role in nodeRoles)
                {
                    if (!roles.TryGetValue(role, out var r))
                        throw node.Error("Roles", $"'{InventoryException.Show(role)}' is not a role: use {string.Join(", ", roles.Keys.Select(k => "'" + k + "'"))} or define it under Roles.");
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
                            Fill(commands.Start, serviceName, name, chassis, file),
                            Fill(commands.Stop, serviceName, name, chassis, file),
                            Fill(commands.Status, serviceName, name, chassis, file)));
                    }
                }
                string? nodeConfig = node.RemotePath("DragonflowConfig");
                var configFiles = nodeConfig != null ? new[] { nodeConfig }
                    : nodeRoles.Select(r => roleConfigs.TryGetValue(r, out var c) ? c : defaultConfig).Distinct(StringComparer.Ordinal).ToArray();
                nodes.Add(new DfNode(name, address, port, user, identity, chassis, nodeRoles, nodeServices, file, configFiles));
            }
            return nodes;
        }

        const string PlaceholderAction = "Use only {service}, {node} and {chassis}, as in: systemctl stop {service}.";

        static string Fill(CommandTemplate template, string service, string node, string chassis, string file)
        {
            if (template.Problem is string problem)
                throw new InventoryException(file, template.Line, template.Field,
                    $"{problem}. Node '{node}' would run it for {service}: {InventoryException.Show(template.Text, 200)}",
                    template.ProblemId ?? InventoryException.InvalidId, PlaceholderAction);
            return template.Fill(service, node, chassis);
        }

        /// <summary>
        /// Refuses a name that reaches a command unless it holds only what a systemd unit name
        /// holds (ASCII letters, digits, ':', '-', '_', '.', '@'; not the '\' of its escapes) and
        /// starts with a letter or digit, so that no command reads it as an option. None of these
        /// characters is special to a shell, in quotes or out of them: this is what makes putting
        /// a name into a command as it is safe (<see cref="CommandTemplate"/>).
        /// </summary>
        static void CheckName(string name, string what, string file, int line, string field)
        {
            if (NameProblem(name, what, CommandName) is string problem)
                throw new InventoryException(file, line, field, problem, InventoryException.NameInvalidId, NameAction(what));
        }

        /// <summary>Why a value cannot fill a command's placeholder (see <see cref="CheckName"/>), as a sentence naming it; null when it can.</summary>
        internal static string CommandNameProblem(string name, string what) => NameProblem(name, what, CommandName);

        /// <summary>A user name, which messages and logs show, may hold what a portable POSIX user name holds.</summary>
        static void CheckUser(string name, string file, int line, string field)
        {
            if (NameProblem(name, "user name", UserName) is string problem)
                throw new InventoryException(file, line, field, problem, InventoryException.NameInvalidId, UserAction);
        }

        static readonly (string Others, string Rule, string Like) CommandName = (":-_.@", "a name that reaches a command", "what a systemd unit name holds");
        static readonly (string Others, string Rule, string Like) UserName = ("-_.", "a user name", "what a portable POSIX user name holds");
        const string UserAction = "Give the user the node's sshd logs in, as in: stack.";

        static string NameAction(string what) => $"Give the {what} as the node knows it, e.g. the systemd unit name of the service or the host name of the node.";

        /// <summary>Why <paramref name="name"/> breaks the rule, as a sentence naming it; null when it keeps it.</summary>
        static string? NameProblem(string? name, string what, (string Others, string Rule, string Like) rule)
        {
            string? problem = null;
            if (name == null || name.Length == 0) problem = "is empty";
            else if (name.Length > MaxNameLength) problem = $"is {name.Length} characters long";
            else if (!IsAsciiLetterOrDigit(name[0])) problem = $"starts with {Describe(name[0])}";
            else
            {
                int bad = name.IndexOf(c => !IsAsciiLetterOrDigit(c) && rule.Others.IndexOf(c) < 0);
                if (bad >= 0) problem = $"holds {Describe(name[bad])} at position {bad + 1}";
            }
            return problem == null ? null
                : $"the {what} '{InventoryException.Show(name)}' {problem}: {rule.Rule} may hold only ASCII letters, digits and {string.Join(" ", rule.Others.ToCharArray())} " +
                  $"({rule.Like}), must start with a letter or digit, and has at most {MaxNameLength} characters.";
        }

        /// <summary>
        /// Checks a node that did not come from <see cref="Parse"/> (one made directly and given to
        /// -Node) as Parse checks an inventory's: its names reach commands as they are, its address
        /// and port the SSH connection, its configuration files commands (quoted).
        /// </summary>
        public static void Check(DfNode node)
        {
            DfException Invalid(string problem, string id = InventoryException.InvalidId, string? action = null) =>
                new DfException(id, DfErrorCategory.InvalidArgument, $"The node '{InventoryException.Show(node.Name)}' given to -Node: {problem}", node.Name,
                    action ?? "Take the nodes from the inventory with Get-DfNode; nothing was run on any node.");

            var names = new List<(string What, string Value)> { ("node name", node.Name), ("chassis name", node.Chassis) };
            if (node.Services == null || node.Services.Any(s => s == null)) throw Invalid("its services are missing.");
            names.AddRange(node.Services.Select(s => ("service name", s.Name)));
            foreach (var (what, value) in names)
                if (NameProblem(value, what, CommandName) is string problem) throw Invalid(problem, InventoryException.NameInvalidId, NameAction(what));
            // The login name is what Parse falls back to unchecked when an inventory names no user
            // (a directory user such as jdoe@corp): accepted here too.
            if (node.User != Environment.UserName && NameProblem(node.User, "user name", UserName) is string userProblem)
                throw Invalid(userProblem, InventoryException.NameInvalidId, UserAction);
            if (node.Address == null || !IsHostName(node.Address)) throw Invalid($"'{InventoryException.Show(node.Address)}' is not a host name or IP address.");
            if (node.Port < 1 || node.Port > 65535) throw Invalid($"{node.Port} is not a port number (1-65535).");
            if (node.Roles == null || node.Roles.Count == 0 || node.Roles.Any(string.IsNullOrWhiteSpace)) throw Invalid("give the node at least one role, and no empty one.");
            // A node made in PowerShell may hold a null path, as it may a null name or address.
            foreach (string? path in node.ConfigFiles)
                if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Any(char.IsControl))
                    throw Invalid($"'{InventoryException.Show(path)}' is not an absolute path on the nodes: give one such as {DefaultDragonflowConfig}.");
        }

        static bool IsAsciiLetterOrDigit(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

        static string Describe(char c) => c > ' ' && c < 127 ? $"'{c}'" : $"U+{(int)c:X4}";

        static int IndexOf(this string s, Func<char, bool> predicate)
        {
            for (int i = 0; i < s.Length; i++) if (predicate(s[i])) return i;
            return -1;
        }

        static bool IsHostName(string address) =>
            address.Length > 0 && address.Length <= MaxNameLength && address.All(c => c < 128 && (char.IsLetterOrDigit(c) || c == '.' || c == '-' || c == ':' || c == '_'));

        /// <summary>The full path of an identity file; null when it is no valid path.</summary>
        static string? ResolvePath(string path, string baseDir)
        {
            if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
                path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Substring(Math.Min(2, path.Length)));
            if (path.Any(c => c == '\0' || char.IsControl(c))) return null;
            try { return Path.GetFullPath(Path.Combine(baseDir, path)); }
            catch (Exception e) when (e is ArgumentException || e is NotSupportedException || e is PathTooLongException) { return null; }
        }

        sealed class Commands
        {
            public Commands(CommandTemplate start, CommandTemplate stop, CommandTemplate status) { Start = start; Stop = stop; Status = status; }
            public CommandTemplate Start { get; }
            public CommandTemplate Stop { get; }
            public CommandTemplate Status { get; }

            public static Commands Read(Fields fields, Commands fallback) =>
                new Commands(fields.Command("Start") ?? fallback.Start, fields.Command("Stop") ?? fallback.Stop, fields.Command("Status") ?? fallback.Status);
        }

        /// <summary>
        /// The fields of one inventory table, read by name (case-insensitive) with errors naming file, line and field.
        /// A field that is absent or null reads as null; one the inventory must give is read as
        /// <c>String(field) ?? throw Missing(field)</c>.
        /// </summary>
        sealed class Fields
        {
            readonly IReadOnlyList<KeyValuePair<string, InventoryValue>> _entries;
            readonly int _line;
            readonly string _path;
            readonly string _file;

            public Fields(InventoryValue? value, string path, string file, params string[] allowed)
            {
                _path = path;
                _file = file;
                if (value == null) { _entries = new KeyValuePair<string, InventoryValue>[0]; return; }
                if (value.Kind != InventoryValueKind.Map || value.Map is not { } entries)
                    throw new InventoryException(file, value.Line, path.Length == 0 ? null : path, $"must be a table of fields, not {value}.");
                _entries = entries;
                _line = value.Line;
                foreach (var entry in entries)
                    if (!allowed.Contains(entry.Key, StringComparer.OrdinalIgnoreCase))
                        throw new InventoryException(file, entry.Value.Line, Name(entry.Key),
                            $"is not a field here: use {string.Join(", ", allowed)}.");
            }

            string Name(string field) => _path.Length == 0 ? field : _path + "." + field;

            public InventoryException Error(string field, string problem) =>
                new InventoryException(_file, Get(field)?.Line ?? _line, Name(field), problem);

            /// <summary>The error for a field the inventory must give and does not (or gives as null).</summary>
            public InventoryException Missing(string field) => new InventoryException(_file, _line, Name(field), "is missing.");

            InventoryValue? Get(string field)
            {
                foreach (var entry in _entries)
                    if (string.Equals(entry.Key, field, StringComparison.OrdinalIgnoreCase))
                        return entry.Value.Kind == InventoryValueKind.Null ? null : entry.Value;
                return null;
            }

            public string? String(string field) => Text(field, Get(field));

            /// <summary>The text of a field's value, which must be a string or number and not blank.</summary>
            [return: NotNullIfNotNull(nameof(value))]
            string? Text(string field, InventoryValue? value)
            {
                if (value == null) return null;
                if ((value.Kind != InventoryValueKind.String && value.Kind != InventoryValueKind.Number) || value.Text is not string text)
                    throw Error(field, $"must be a string, not {value}.");
                if (string.IsNullOrWhiteSpace(text)) throw Error(field, "is empty.");
                return text;
            }

            public CommandTemplate? Command(string field, string[]? placeholders = null)
            {
                var v = Get(field);
                return v == null ? null : new CommandTemplate(Text(field, v), Name(field), v.Line, placeholders);
            }

            /// <summary>A name that reaches commands: see <see cref="CheckName"/>.</summary>
            public string? Name(string field, string what)
            {
                var v = Get(field);
                if (v == null) return null;
                string name = Text(field, v);
                CheckName(name, what, _file, v.Line, Name(field));
                return name;
            }

            public string? UserName(string field)
            {
                var v = Get(field);
                if (v == null) return null;
                string name = Text(field, v);
                CheckUser(name, _file, v.Line, Name(field));
                return name;
            }

            /// <summary>An absolute path on the nodes, of printable characters (it reaches commands quoted).</summary>
            public string? RemotePath(string field)
            {
                string? path = String(field);
                if (path == null) return null;
                if (path[0] != '/' || path.Any(char.IsControl))
                    throw Error(field, $"'{InventoryException.Show(path)}' is not an absolute path on the nodes: give one such as {DefaultDragonflowConfig}.");
                return path;
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

            /// <summary>A list of names (a single name is a list of one); <paramref name="names"/> says what they name when they reach commands.</summary>
            public string[]? StringList(string field, string? names = null)
            {
                var v = Get(field);
                if (v == null) return null;
                var items = v.Kind == InventoryValueKind.List && v.List is { } list ? list : new[] { v };
                var result = new string[items.Count];
                for (int i = 0; i < items.Count; i++)
                {
                    if (items[i].Kind != InventoryValueKind.String || items[i].Text is not string text || string.IsNullOrWhiteSpace(text))
                        throw new InventoryException(_file, items[i].Line, Name(field), $"must list names, and {items[i]} is not one.");
                    if (names != null) CheckName(text, names, _file, items[i].Line, Name(field));
                    result[i] = text;
                }
                return result;
            }

            public IReadOnlyList<InventoryValue>? List(string field)
            {
                var v = Get(field);
                if (v == null) return null;
                if (v.Kind != InventoryValueKind.List || v.List is not { } list) throw Error(field, $"must be a list, not {v}.");
                return list;
            }

            public Fields Map(string field, params string[] allowed) => new Fields(Get(field), Name(field), _file, allowed);

            /// <summary>The entries of a table whose keys are names (roles, services).</summary>
            public IEnumerable<KeyValuePair<string, InventoryValue>> Entries(string field)
            {
                var v = Get(field);
                if (v == null) return Enumerable.Empty<KeyValuePair<string, InventoryValue>>();
                if (v.Kind != InventoryValueKind.Map || v.Map is not { } entries) throw Error(field, $"must be a table keyed by name, not {v}.");
                return entries;
            }
        }
    }
}
