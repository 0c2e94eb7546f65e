using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests.Hostile
{
    /// <summary>
    /// The inventory part of the hostile-input suite: JSON inventories of the real test nodes
    /// whose every command would leave a file in a marker folder. Each must be refused with its
    /// error id, naming the file and the culprit, leave the file as it was, run nothing on any
    /// node, and echo no secret. Should one load all the same, the test starts the control
    /// plane with it, as Start-DfControlPlane would, so that "nothing ran" can fail.
    /// </summary>
    public sealed class InventoryHostileTests : IDisposable
    {
        const string Secret = "hostile-passphrase-7f3a9c";
        readonly string _dir = Directory.CreateDirectory(Path.Combine(TestCloud.SshDir, "runs", "hostile-" + Guid.NewGuid().ToString("N").Substring(0, 8))).FullName;
        readonly ListLogger _log = new ListLogger();

        string MarkerDir => Path.Combine(_dir, "ran");

        public InventoryHostileTests() => Directory.CreateDirectory(MarkerDir);

        public void Dispose() => Directory.Delete(_dir, true);

        /// <summary>
        /// Writes an inventory from a template: %NODES% becomes the test nodes (roles controller
        /// and compute), %LOGIN% their user, port and key, %RAN% the marker folder, %SECRET% the test secret, %FF% a byte that is
        /// not UTF-8; Defaults gives the nodes' user, port and key and commands that leave a
        /// file in the marker folder, unless the template has a Defaults of its own.
        /// </summary>
        string Write(string template)
        {
            var cluster = JsonNode.Parse(File.ReadAllText(Path.Combine(TestCloud.SshDir, "nodes.json")));
            string nodes = string.Join(", ", cluster["Nodes"].AsArray().Take(2).Select(n =>
                $"{{\"Name\": {Json(n["Name"].GetValue<string>())}, \"Address\": {Json(n["Address"].GetValue<string>())}, \"Roles\": [\"controller\", \"compute\"]}}"));
            string ran = Json(MarkerDir).Trim('"');
            string login = $@"""User"": {Json(cluster["User"].GetValue<string>())}, ""Port"": {cluster["Port"].GetValue<int>()}, ""IdentityFile"": {Json(TestCloud.UserKey)}";
            string defaults = $@"""Defaults"": {{ {login},
    ""Start"": ""cd {ran} && touch start {{service}}"", ""Stop"": ""cd {ran} && touch stop {{service}}"", ""Status"": ""cd {ran} && touch status {{service}}"" }}";
            string text = template.Replace("%NODES%", nodes).Replace("%RAN%", ran).Replace("%SECRET%", Secret).Replace("%LOGIN%", login);
            if (!text.Contains("\"Defaults\"") && text.TrimStart().StartsWith("{", StringComparison.Ordinal))
                text = "{\n  " + defaults + ",\n" + text.TrimStart().Substring(1);
            var bytes = new List<byte>();
            var parts = text.Split(new[] { "%FF%" }, StringSplitOptions.None);
            for (int i = 0; i < parts.Length; i++)
            {
                if (i > 0) bytes.Add(0xFF);
                bytes.AddRange(Encoding.UTF8.GetBytes(parts[i]));
            }
            string path = Path.Combine(_dir, "inventory.json");
            File.WriteAllBytes(path, bytes.ToArray());
            return path;
        }

        static string Json(string s) => JsonSerializer.Serialize(s);

        const string Node = "{ \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] }";

        /// <summary>A role that runs one service, on a test node.</summary>
        static string Service(string name) =>
            $"{{ \"Roles\": {{ \"odd\": {{ \"Services\": [{Json(name)}] }} }},\n" +
            "\"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Roles\": [\"odd\"] } ] }";

        /// <summary>A template for the start command of df-local-controller that would leave a file if run.</summary>
        static string Start(string template) =>
            "{ \"Services\": { \"df-local-controller\": { \"Start\": " + Json("touch %RAN%/x; " + template) + " } },\n  \"Nodes\": [ %NODES% ] }";

        const string Unsafe = "InventoryPlaceholderUnsafe";
        const string Unknown = "InventoryPlaceholderUnknown";
        const string BadName = "InventoryNameInvalid";
        const string Invalid = "InventoryInvalid";

        // name, inventory template, error id, what the message must name
        public static IEnumerable<object[]> Cases() => new List<object[]>
        {
            // Not an inventory at all.
            new object[] { "syntax error", "{ \"Nodes\": [ { \"Name\": \"a\" \"Address\": \"b\" } ] }", Invalid, "not valid JSON" },
            new object[] { "empty file", "", Invalid, "empty" },
            new object[] { "text after the object", "{ \"Nodes\": [ %NODES% ] } rm -rf /", Invalid, "unexpected text after the inventory object." },
            // System.Text.Json's own message quotes the rest of the line after a word it does not know.
            new object[] { "a secret after a misspelt word", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Sudo\": tru, \"Password\": \"%SECRET%\", \"Roles\": [\"compute\"] } ] }", Invalid, "not valid JSON (at byte 66)" },
            new object[] { "a list, not a table", "[ %NODES% ]", Invalid, "must be a table of fields" },
            new object[] { "nested 100 deep", "{ \"Nodes\": " + new string('[', 100) + new string(']', 100) + " }", Invalid, "not valid JSON" },
            new object[] { "bytes that are not UTF-8", "{ \"Nodes\": [ { \"Name\": \"cmp%FF%\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", Invalid, "not valid UTF-8" },
            // Wrong types and missing or duplicate fields.
            new object[] { "Nodes not a list", "{ \"Nodes\": \"cmp1\" }", Invalid, "Nodes: must be a list" },
            new object[] { "no node", "{ \"Nodes\": [] }", Invalid, "lists no node" },
            new object[] { "missing name", "{ \"Nodes\": [ { \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", Invalid, "Nodes[0].Name: is missing" },
            new object[] { "missing address", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Roles\": [\"compute\"] } ] }", Invalid, "Nodes[0].Address: is missing" },
            new object[] { "name a table", "{ \"Nodes\": [ { \"Name\": { \"x\": 1 }, \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", Invalid, "Nodes[0].Name: must be a string" },
            new object[] { "roles a number", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Roles\": [ 7 ] } ] }", Invalid, "Nodes[0].Roles: must list names" },
            new object[] { "no role", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Roles\": [] } ] }", Invalid, "Nodes[0].Roles: is empty" },
            new object[] { "unknown role", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Roles\": [\"storage\"] } ] }", Invalid, "'storage' is not a role" },
            new object[] { "port not a number", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Port\": \"ssh\", \"Roles\": [\"compute\"] } ] }", Invalid, "'ssh' is not a port number" },
            new object[] { "port 0", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Port\": 0, \"Roles\": [\"compute\"] } ] }", Invalid, "'0' is not a port number" },
            new object[] { "port 65536", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Port\": 65536, \"Roles\": [\"compute\"] } ] }", Invalid, "'65536' is not a port number" },
            new object[] { "port a fraction", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Port\": 22.5, \"Roles\": [\"compute\"] } ] }", Invalid, "'22.5' is not a port number" },
            new object[] { "port true", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Port\": true, \"Roles\": [\"compute\"] } ] }", Invalid, "'true' is not a port number" },
            new object[] { "duplicate node names", "{ \"Nodes\": [ %NODES%, { \"Name\": \"CMP1\", \"Address\": \"127.0.0.12\", \"Roles\": [\"compute\"] }, " + Node + " ] }", Invalid, "'cmp1' names two nodes" },
            new object[] { "a key twice", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"name\": \"cmp2\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", Invalid, "name: appears twice" },
            new object[] { "unknown field holding a secret", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"Password\": \"%SECRET%\", \"Roles\": [\"compute\"] } ] }", Invalid, "Nodes[0].Password: is not a field here" },
            new object[] { "unknown service kind", "{ \"Services\": { \"df-bgp-service\": { \"Kind\": \"agent\" } }, \"Nodes\": [ %NODES% ] }", Invalid, "'agent' is not a service kind" },
            new object[] { "heartbeat not a boolean", "{ \"Services\": { \"df-bgp-service\": { \"Heartbeat\": \"yes\" } }, \"Nodes\": [ %NODES% ] }", Invalid, "Heartbeat: must be true or false" },
            new object[] { "address with a command", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11;touch %RAN%/a\", \"Roles\": [\"compute\"] } ] }", Invalid, "'127.0.0.11;touch" },
            new object[] { "address 300 long", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"" + new string('a', 300) + "\", \"Roles\": [\"compute\"] } ] }", Invalid, "(300 characters)" },
            new object[] { "identity file with NUL", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Address\": \"127.0.0.11\", \"IdentityFile\": \"id\\u0000x\", \"Roles\": [\"compute\"] } ] }", Invalid, "'id\\0x' is not a valid path" },
            // Placeholders that the module does not know.
            new object[] { "misspelt placeholder", Start("systemctl start {servce}"), Unknown, "{servce}" },
            new object[] { "capitalised placeholder", Start("systemctl start {Service}"), Unknown, "{Service}" },
            // A placeholder the shell would read as a variable.
            new object[] { "${service}", Start("echo ${service}"), Unsafe, "{service} follows '$'" },
            new object[] { "\"${node}\"", Start("echo \"${node}\""), Unsafe, "{node} follows '$'" },
            new object[] { "$ in Defaults", "{ \"Defaults\": { %LOGIN%, \"Start\": \"touch %RAN%/d; systemctl start ${service}\" }, \"Nodes\": [ %NODES% ] }", Unsafe, "Defaults.Start" },
            new object[] { "$ in a role", "{ \"Roles\": { \"compute\": { \"Stop\": \"touch %RAN%/r; systemctl stop ${chassis}\" } }, \"Nodes\": [ %NODES% ] }", Unsafe, "Roles.compute.Stop" },
            // Names that would reach a command.
            new object[] { "service name with ;", Service("x; touch %RAN%/p"), BadName, "holds ';' at position 2" },
            new object[] { "service name with $( )", Service("y$(touch %RAN%/p)"), BadName, "holds '$' at position 2" },
            new object[] { "service name with a backquote", Service("y`touch %RAN%/p`"), BadName, "holds '`' at position 2" },
            new object[] { "service name with a quote", Service("it's"), BadName, "holds ''' at position 3" },
            new object[] { "service name with a newline", Service("df-x\ntouch %RAN%/p"), BadName, "'df-x\\ntouch" },
            new object[] { "service name with NUL", Service("df-x\0"), BadName, "U+0000 at position 5" },
            new object[] { "service name with a space", Service("df x"), BadName, "U+0020 at position 3" },
            new object[] { "service name with a backslash", Service("df\\x2dx"), BadName, "holds '\\' at position 3" },
            new object[] { "service name as an option", Service("--force"), BadName, "starts with '-'" },
            new object[] { "service name 300 long", Service(new string('s', 300)), BadName, "is 300 characters long" },
            new object[] { "service name not ASCII", Service("df-contrôleur"), BadName, "U+00F4 at position 9" },
            new object[] { "service name with a bidi override", Service("df-\u202Ex"), BadName, "'df-\\u202Ex'" },
            new object[] { "service name in Services", "{ \"Services\": { \"df-x;id\": { \"Start\": \"touch %RAN%/s\" } }, \"Nodes\": [ %NODES% ] }", BadName, "'df-x;id'" },
            new object[] { "node name with $( )", "{ \"Nodes\": [ { \"Name\": \"n$(touch %RAN%/p)\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", BadName, "the node name 'n$(touch" },
            new object[] { "node name with a newline", "{ \"Nodes\": [ { \"Name\": \"cmp1\\nFAKE LOG LINE\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", BadName, "'cmp1\\nFAKE LOG LINE'" },
            new object[] { "user with a newline", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"User\": \"stack\\nFAKE LOG LINE\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", BadName, "Nodes[0].User: the user name 'stack\\nFAKE LOG LINE' holds U+000A" },
            new object[] { "user with an escape sequence", "{ \"Defaults\": { \"User\": \"st\\u001b[2Jack\" }, \"Nodes\": [ %NODES% ] }", BadName, "Defaults.User: the user name 'st\\u001B[2Jack' holds U+001B" },
            new object[] { "user as an option", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"User\": \"-oProxyCommand=touch %RAN%/u\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", BadName, "starts with '-'" },
            new object[] { "chassis with a quote", "{ \"Nodes\": [ { \"Name\": \"cmp1\", \"Chassis\": \"a'b\", \"Address\": \"127.0.0.11\", \"Roles\": [\"compute\"] } ] }", BadName, "the chassis name 'a'b'" },
        };

        [Theory]
        [MemberData(nameof(Cases))]
        public void A_hostile_inventory_is_refused_naming_file_and_culprit_and_nothing_runs(string name, string template, string errorId, string culprit)
        {
            string path = Write(template);
            byte[] before = File.ReadAllBytes(path);

            IReadOnlyList<DfNode> nodes = null;
            var thrown = Record.Exception(() => nodes = Inventory.LoadJson(path));
            if (nodes != null) StartAll(nodes);

            Assert.Empty(Directory.GetFileSystemEntries(MarkerDir));
            var e = Assert.IsType<InventoryException>(thrown);
            Assert.Equal(errorId, e.ErrorId);
            Assert.StartsWith(path + ", line ", e.Message);
            Assert.True(e.Message.Contains(culprit), $"{name}: {e.Message}");
            Assert.Equal(path, e.Target);
            Assert.NotNull(e.RecommendedAction);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.DoesNotContain('\n', e.Message);
            Assert.DoesNotContain('\0', e.Message);
            Assert.True(e.Message.Length < 1000, $"{name}: a {e.Message.Length}-character message");
            foreach (string text in new[] { e.ToString(), e.Target, e.RecommendedAction }.Concat(_log.Lines.Select(l => l.Message)))
                Assert.DoesNotContain(Secret, text);
        }

        /// <summary>What Start-DfControlPlane does with the nodes, the key's "passphrase" given as the secret.</summary>
        void StartAll(IReadOnlyList<DfNode> nodes)
        {
            var ssh = new SshConnector(new SshOptions { KnownHostsPath = TestCloud.KnownHostsPath, Passphrase = Secret });
            new ControlPlane(ssh, 4, _log).Start(nodes, null, null);
        }

        [Fact]
        public void A_hostile_service_name_in_a_quoted_template_runs_nothing_on_the_node()
        {
            // The issue's case: the template quotes its placeholder, so the module's quotes close
            // the template's and the rest of the name ran as a command on the node.
            string marker = Path.Combine(MarkerDir, "p");
            string name = $"x; touch {marker}; echo ";
            string path = Write(@"{
  ""Roles"": { ""odd"": { ""Services"": [" + Json(name) + @"], ""Start"": ""echo '{service}'"" } },
  ""Nodes"": [ { ""Name"": ""cmp1"", ""Address"": ""127.0.0.11"", ""Roles"": [""odd""] } ]
}");
            IReadOnlyList<DfNode> nodes = null;
            var thrown = Record.Exception(() => nodes = Inventory.LoadJson(path));
            if (nodes != null) StartAll(nodes);

            Assert.False(File.Exists(marker), "the service name ran as a command on the node");
            var e = Assert.IsType<InventoryException>(thrown);
            Assert.Equal(InventoryException.NameInvalidId, e.ErrorId);
            Assert.Contains("Roles.odd.Services", e.Message);
        }

        // A template in any quoting style, or with its placeholder glued to other text: %N% in
        // the output stands for the node's name.
        public static IEnumerable<object[]> Quoted() => new List<object[]>
        {
            new object[] { "echo '{service}'", "df-x" },
            new object[] { "echo \"{service}\"", "df-x" },
            new object[] { "echo \"on {node}\"", "on %N%" },
            new object[] { "echo 'on {chassis}'", "on %N%" },
            new object[] { "echo $'{service}'", "df-x" },
            new object[] { "echo `echo {service}`", "df-x" },
            new object[] { "echo \"$(echo '{service}')\"", "df-x" },
            new object[] { "echo \\{service}", "df-x" },
            new object[] { "printf '%s\\n' --unit={service}", "--unit=df-x" },
            new object[] { "echo {service}'.service'", "df-x.service" },
            new object[] { "echo {service} # {node}", "df-x" },
            new object[] { "cat <<EOF\n{service} on {node}\nEOF", "df-x on %N%" },
            new object[] { "cat <<EOF\nx\nEOF\necho {service}", "x\ndf-x" },
        };

        [Theory]
        [MemberData(nameof(Quoted))]
        public void A_placeholder_in_any_quoting_gets_the_name_on_the_node_and_no_name_can_break_out(string template, string output)
        {
            // A name that would close any quotes around it and run a command is refused...
            string marker = Path.Combine(MarkerDir, "p");
            string hostile = $"x'\"`touch {marker}`$(touch {marker});touch {marker};#";
            string WriteWith(string service) => Write(@"{
  ""Roles"": { ""compute"": { ""Services"": [" + Json(service) + @"], ""Start"": " + Json(template) + @" } },
  ""Nodes"": [ %NODES% ]
}");
            IReadOnlyList<DfNode> nodes = null;
            var thrown = Record.Exception(() => nodes = Inventory.LoadJson(WriteWith(hostile)));
            if (nodes != null) StartAll(nodes);
            Assert.False(File.Exists(marker), "the service name ran as a command on the node");
            Assert.Equal(InventoryException.NameInvalidId, Assert.IsType<InventoryException>(thrown).ErrorId);

            // ...and a valid one reaches the node as it is.
            var node = Inventory.LoadJson(WriteWith("df-x"))[0];
            using (var c = TestCloud.Connector().Connect(node, _log))
            {
                var r = c.Run(node.Services.Single(s => s.Name == "df-x").StartCommand, _log);
                Assert.Equal(0, r.ExitCode);
                Assert.Equal(output.Replace("%N%", node.Name), r.Output);
            }
            Assert.Empty(Directory.GetFileSystemEntries(MarkerDir));
        }

        [Fact]
        public void A_placeholder_read_as_a_variable_is_refused_naming_file_field_node_and_template()
        {
            string path = Write(@"{
  ""Defaults"": { %LOGIN% },
  ""Services"": {
    ""df-metadata-service"": { ""Stop"": ""touch %RAN%/q; systemctl stop \""${service}\"""" }
  },
  ""Nodes"": [ %NODES% ]
}");
            var e = Assert.Throws<InventoryException>(() => Inventory.LoadJson(path));
            Assert.Equal(CommandTemplate.UnsafeId, e.ErrorId);
            Assert.StartsWith($"{path}, line 4, field Services.df-metadata-service.Stop: the placeholder {{service}} follows '$'", e.Message);
            Assert.Contains("systemctl stop \"${service}\"", e.Message);
            Assert.Matches("Node '[^']+' would run it for df-metadata-service", e.Message);
            Assert.Contains("{service}", e.RecommendedAction);
        }

        // Wherever a placeholder stands, a value that is no name (or none) is refused, never escaped: nothing could reach a node.
        [Theory]
        [InlineData("printf '%s\\n' {node}", "node")]
        [InlineData("printf '%s\\n' '{chassis}'", "chassis")]
        [InlineData("printf '%s\\n' \"on {node}\"'.'", "node")]
        [InlineData("echo ok # {service}", "service")]
        [InlineData("sh -c 'echo {node}'", "node")]
        public void A_value_that_is_no_name_or_empty_is_refused_naming_the_placeholder_and_where_the_value_comes_from(string template, string placeholder)
        {
            foreach (string value in new[] { "a'b\"c`touch x`$(touch x);touch x # $HOME \\ e", "" })
            {
                var values = new Dictionary<string, string> { ["service"] = "df-x", ["node"] = "node01", ["chassis"] = "node01", [placeholder] = value };
                var e = Assert.Throws<Engine.Errors.DfException>(() => new CommandTemplate(template, "Services.df-x.Stop", 0).Fill(values));
                Assert.Equal(CommandTemplate.ValueInvalidId, e.ErrorId);
                Assert.StartsWith($"{{{placeholder}}} in Services.df-x.Stop cannot be filled: the {placeholder} name '", e.Message);
                Assert.Contains(value == "" ? "is empty" : "holds ''' at position 2", e.Message);
            }
        }

        [Fact]
        public void A_name_goes_in_as_it_is_wherever_its_placeholder_stands_and_a_placeholder_not_used_needs_no_value()
        {
            var t = new CommandTemplate("printf '%s\\n' {node} '{chassis}' \"{service}\"", "Test", 0);
            Assert.Equal("printf '%s\\n' node-01.a '1:b@c' \"df_x\"", t.Fill("df_x", "node-01.a", "1:b@c"));
            Assert.Equal("restart node01", new CommandTemplate("restart {node}", "-UpdateCommand", 0, new[] { "node", "chassis" })
                .Fill(new Dictionary<string, string> { ["node"] = "node01", ["chassis"] = "" }));
        }

        [Theory]
        [InlineData("node01; touch x", "node01", "stack", "127.0.0.11", "InventoryNameInvalid", "the node name 'node01; touch x' holds ';' at position 7")]
        [InlineData("node01", "$(reboot)", "stack", "127.0.0.11", "InventoryNameInvalid", "the chassis name '$(reboot)' starts with '$'")]
        [InlineData("node01", "node01", "st'ack", "127.0.0.11", "InventoryNameInvalid", "the user name 'st'ack' holds ''' at position 3")]
        [InlineData("node01", "node01", "stack", "127.0.0.11\n-oProxyCommand=x", "InventoryInvalid", "is not a host name or IP address")]
        [InlineData("nœud", "node01", "stack", "127.0.0.11", "InventoryNameInvalid", "holds U+0153")]
        public void A_node_made_without_an_inventory_is_checked_as_the_inventory_checks_its_nodes(string name, string chassis, string user, string address, string id, string problem)
        {
            var services = new[] { new NodeService("df-local-controller", "compute", ServiceKind.Dragonflow, true, "true", "true", "true") };
            var e = Assert.IsAssignableFrom<Engine.Errors.DfException>(Record.Exception(() =>
                Inventory.Check(new DfNode(name, address, 22, user, null, chassis, new[] { "compute" }, services))));
            Assert.Equal(id, e.ErrorId);
            Assert.Contains(problem, e.Message);
            Assert.StartsWith("The node '", e.Message);
            Inventory.Check(new DfNode("node01", "127.0.0.11", 22, "stack", null, "node01", new[] { "compute" }, services));
        }
    }
}
