using System;
using System.IO;
using System.Linq;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    public sealed class InventoryTests : IDisposable
    {
        readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "df-inventory-" + Guid.NewGuid().ToString("N"))).FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        string Write(string json)
        {
            string path = Path.Combine(_dir, "inventory.json");
            File.WriteAllText(path, json);
            return path;
        }

        [Fact]
        public void A_node_gets_its_roles_services_in_order_with_systemd_commands_by_default()
        {
            var nodes = Inventory.LoadJson(Write(@"{
  ""Defaults"": { ""User"": ""stack"", ""IdentityFile"": ""keys/id_ed25519"" },
  ""Nodes"": [
    { ""Name"": ""ctl1"", ""Address"": ""10.0.0.11"", ""Roles"": [""controller"", ""compute""] },
    { ""Name"": ""cmp1"", ""Address"": ""10.0.0.21"", ""Port"": 2200, ""User"": ""ops"", ""Roles"": ""compute"" }
  ]
}"));
            var ctl = nodes[0];
            Assert.Equal(new[] { "neutron-server", "df-publisher-service", "df-local-controller", "df-metadata-service" }, ctl.Services.Select(s => s.Name));
            Assert.Equal(22, ctl.Port);
            Assert.Equal("stack", ctl.User);
            Assert.Equal(Path.Combine(_dir, "keys", "id_ed25519"), ctl.IdentityFile);
            Assert.Equal("ctl1", ctl.Chassis);
            var neutron = ctl.Services[0];
            Assert.Equal(ServiceKind.Neutron, neutron.Kind);
            Assert.False(neutron.Heartbeat);
            Assert.Equal("systemctl stop neutron-server", neutron.StopCommand);
            Assert.Equal("systemctl is-active df-local-controller", ctl.Services[2].StatusCommand);
            Assert.True(ctl.Services[2].Heartbeat);
            Assert.Equal((2200, "ops"), (nodes[1].Port, nodes[1].User));
        }

        [Fact]
        public void A_stop_takes_Neutron_down_first_and_a_start_brings_it_up_last()
        {
            var ctl = Inventory.LoadJson(Write(@"{ ""Nodes"": [ { ""Name"": ""ctl1"", ""Address"": ""10.0.0.11"", ""Roles"": [""controller"", ""compute""] } ] }"))[0];
            Assert.Equal(new[] { "neutron-server", "df-publisher-service", "df-local-controller", "df-metadata-service" }, ctl.Services.Select(s => s.Name));
            Assert.Equal(new[] { "neutron-server", "df-metadata-service", "df-local-controller", "df-publisher-service" },
                         ControlPlane.InOrder(ctl, ControlPlaneAction.Stop).Select(s => s.Name));
            Assert.Equal(new[] { "df-publisher-service", "df-local-controller", "df-metadata-service", "neutron-server" },
                         ControlPlane.InOrder(ctl, ControlPlaneAction.Start).Select(s => s.Name));
        }

        [Fact]
        public void A_node_s_dragonflow_ini_comes_from_the_node_else_each_of_its_roles_else_the_defaults()
        {
            var nodes = Inventory.LoadJson(Write(@"{
  ""Roles"": { ""network"": { ""DragonflowConfig"": ""/etc/dragonflow/dragonflow.ini"" } },
  ""Nodes"": [
    { ""Name"": ""cmp1"", ""Address"": ""10.0.0.21"", ""Roles"": ""compute"" },
    { ""Name"": ""net1"", ""Address"": ""10.0.0.31"", ""Roles"": [""compute"", ""network""] },
    { ""Name"": ""odd1"", ""Address"": ""10.0.0.41"", ""Roles"": [""compute"", ""network""], ""DragonflowConfig"": ""/opt/df/df.ini"" }
  ]
}"));
            Assert.Equal(new[] { "/etc/neutron/dragonflow.ini" }, nodes[0].ConfigFiles);
            Assert.Equal(new[] { "/etc/neutron/dragonflow.ini", "/etc/dragonflow/dragonflow.ini" }, nodes[1].ConfigFiles);
            Assert.Equal(new[] { "/opt/df/df.ini" }, nodes[2].ConfigFiles);

            var moved = Inventory.LoadJson(Write(@"{ ""Defaults"": { ""DragonflowConfig"": ""/etc/df.ini"" }, ""Nodes"": [ { ""Name"": ""a"", ""Address"": ""b"", ""Roles"": ""compute"" } ] }"));
            Assert.Equal(new[] { "/etc/df.ini" }, moved[0].ConfigFiles);
        }

        [Theory]
        [InlineData("etc/dragonflow.ini")]
        [InlineData("/etc/dragonflow.ini\\nrm")] // a newline, escaped in the JSON
        public void A_dragonflow_ini_path_that_is_not_absolute_and_printable_is_refused_naming_the_field(string path)
        {
            var e = Assert.Throws<InventoryException>(() => Inventory.LoadJson(Write(
                @"{ ""Nodes"": [ { ""Name"": ""a"", ""Address"": ""b"", ""Roles"": ""compute"", ""DragonflowConfig"": """ + path + @""" } ] }")));
            Assert.Contains("Nodes[0].DragonflowConfig", e.Message);
            Assert.Contains("is not an absolute path on the nodes", e.Message);
        }

        [Fact]
        public void A_service_command_comes_from_the_service_else_its_role_else_the_defaults()
        {
            var nodes = Inventory.LoadJson(Write(@"{
  ""Defaults"": { ""Stop"": ""sudo systemctl stop {service}"" },
  ""Roles"": {
    ""compute"": { ""Start"": ""rc-service {service} start on {node}"" },
    ""gateway"": { ""Services"": [""df-bgp-service"", ""df-l3-agent""] }
  },
  ""Services"": { ""df-metadata-service"": { ""Start"": ""docker start df-metadata"", ""Heartbeat"": false } },
  ""Nodes"": [ { ""Name"": ""cmp1"", ""Chassis"": ""cmp1.example.org"", ""Address"": ""cmp1.example.org"", ""Roles"": [""compute"", ""gateway""] } ]
}"));
            var s = nodes[0].Services.ToDictionary(x => x.Name);
            Assert.Equal("rc-service df-local-controller start on cmp1", s["df-local-controller"].StartCommand);
            Assert.Equal("sudo systemctl stop df-local-controller", s["df-local-controller"].StopCommand);
            Assert.Equal("docker start df-metadata", s["df-metadata-service"].StartCommand);
            Assert.False(s["df-metadata-service"].Heartbeat);
            Assert.Equal("systemctl start df-bgp-service", s["df-bgp-service"].StartCommand);
            Assert.False(s["df-l3-agent"].Heartbeat); // Dragonflow's l3 agent writes no NB service row
            Assert.Equal("cmp1.example.org", nodes[0].Chassis);
        }

        [Theory]
        [InlineData("sudo -n systemctl stop {service}", "sudo -n systemctl stop a@b.service")]
        [InlineData("x {service};y {node}&&z {chassis}|w", "x a@b.service;y n1&&z c1|w")]
        [InlineData("echo '{service}' \"on {node}\" --unit={chassis}.x", "echo 'a@b.service' \"on n1\" --unit=c1.x")]
        [InlineData("echo \"$(systemctl is-active {service})\" on $HOME ${HOME}", "echo \"$(systemctl is-active a@b.service)\" on $HOME ${HOME}")]
        [InlineData("docker inspect -f \"{{.State.Status}}\" {node}", "docker inspect -f \"{{.State.Status}}\" n1")]
        [InlineData("cat <<EOF\n{service}\nEOF\nsystemctl start\t{chassis}", "cat <<EOF\na@b.service\nEOF\nsystemctl start\tc1")]
        public void A_placeholder_is_replaced_by_the_name_wherever_it_stands(string template, string command)
        {
            var node = Inventory.LoadJson(Write(@"{
  ""Roles"": { ""odd"": { ""Services"": [""a@b.service""], ""Start"": " + System.Text.Json.JsonSerializer.Serialize(template) + @" } },
  ""Nodes"": [ { ""Name"": ""n1"", ""Chassis"": ""c1"", ""Address"": ""10.0.0.1"", ""Roles"": [""odd""] } ]
}")).Single();
            Assert.Equal(command, node.Services.Single().StartCommand);
        }

        [Fact]
        public void A_json_inventory_with_a_byte_order_mark_is_read()
        {
            string path = Write("{ \"Nodes\": [\n { \"Name\": \"a\", \"Address\": \"10.0.0.1\", \"Roles\": \"compute\" },\n { \"Name\": \"a\", \"Address\": \"10.0.0.2\", \"Roles\": \"compute\" } ] }");
            File.WriteAllBytes(path, new byte[] { 0xEF, 0xBB, 0xBF }.Concat(File.ReadAllBytes(path)).ToArray());
            var e = Assert.Throws<InventoryException>(() => Inventory.LoadJson(path));
            Assert.Equal((3, "Nodes[1].Name"), (e.Line, e.Field)); // read, and lines counted as without it
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"a\", \"Address\": \"10.0.0.2", "\"b\", \"Address\": \"10.0.0.2"), new System.Text.UTF8Encoding(true));
            Assert.Equal(new[] { "a", "b" }, Inventory.LoadJson(path).Select(n => n.Name));
        }

        [Theory]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\", \"Address\": \"10.0.0.1\", \"Port\": \"22x\", \"Roles\": [\"compute\"] }\n ]\n}", 3, "Nodes[0].Port", "not a port number")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\",\n    \"Adress\": \"10.0.0.1\", \"Roles\": [\"compute\"] }\n ]\n}", 4, "Nodes[0].Adress", "is not a field here")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\", \"Roles\": [\"compute\"] }\n ]\n}", 3, "Nodes[0].Address", "is missing")]
        [InlineData("{\n \"Defaults\": { \"Port\": 22 }\n}", 1, "Nodes", "is missing")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\", \"Address\": \"10.0.0.1\", \"Roles\": null }\n ]\n}", 3, "Nodes[0].Roles", "is missing")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": true, \"Address\": \"10.0.0.1\", \"Roles\": [\"compute\"] }\n ]\n}", 3, "Nodes[0].Name", "must be a string, not 'true'")]
        [InlineData("{\n \"Roles\": {\n  \"storage\": { \"Start\": \"systemctl start {service}\" } },\n \"Nodes\": []\n}", 3, "Roles.storage.Services", "is missing")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\", \"Address\": \"10.0.0.1\",\n    \"Roles\": [\"compute\", \"storage\"] }\n ]\n}", 4, "Nodes[0].Roles", "'storage' is not a role")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\", \"Address\": \"10.0.0.1\", \"Roles\": [\"compute\"] },\n  { \"Name\": \"a\", \"Address\": \"10.0.0.2\", \"Roles\": [\"compute\"] }\n ]\n}", 4, "Nodes[1].Name", "names two nodes")]
        [InlineData("{\n \"Services\": { \"df-bgp-service\": { \"Kind\": \"agent\" } },\n \"Nodes\": []\n}", 2, "Services.df-bgp-service.Kind", "not a service kind")]
        [InlineData("{\n \"Nodes\": [\n  { \"Name\": \"a\" \"Address\": \"10.0.0.1\" }\n ]\n}", 3, null, "not valid JSON (at byte 16)")]
        [InlineData("{\n \"Nodes\": []\n}\n\n\n{ \"Nodes\": [] }", 6, null, "unexpected text after the inventory object")]
        [InlineData("{\n \"Nodes\": []\n}\n\nnot JSON", 5, null, "unexpected text after the inventory object")]
        public void A_malformed_inventory_is_an_error_naming_file_line_and_field(string json, int line, string field, string problem)
        {
            string path = Write(json);
            var e = Assert.Throws<InventoryException>(() => Inventory.LoadJson(path));
            Assert.Equal(path, e.File);
            Assert.Equal(line, e.Line);
            Assert.Equal(field, e.Field);
            Assert.Contains(problem, e.Message);
            Assert.StartsWith($"{path}, line {line}", e.Message);
        }
    }
}
