using System;
using System.IO;
using System.Text.Json.Nodes;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Remote.Upgrade;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>The upgrade state file as Load reads it back: every value an upgrade records must be there.</summary>
    public sealed class UpgradeStateTests : IDisposable
    {
        readonly string _folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "df-state-" + Guid.NewGuid().ToString("N"))).FullName;

        public void Dispose() => Directory.Delete(_folder, true);

        /// <summary>Saves a state with every field given, as an upgrade of one node with Neutron's database and one changed file leaves it.</summary>
        string SaveFullState()
        {
            var state = new UpgradeState
            {
                Id = "20260101-000000", Database = "redis://10.0.0.5:6379/0", TargetRelease = "queens",
                Nodes = { new NodeRecord { Name = "ctl1", Address = "10.0.0.11", Port = 22, User = "stack", Roles = { "controller" } } },
                Neutron = new NeutronRecord { Node = "ctl1", Backup = "dump", Restore = "load", Migrate = "migrate", Check = "check" },
                Steps = { new StepRecord { Name = "Readiness", State = StepState.Done } },
                UpdateAttempted = { "ctl1" }, Updated = { "ctl1" },
                ConfigurationChanges = { new ConfigurationChangeRecord { Node = "ctl1", Path = "/etc/neutron/dragonflow.ini", Backup = "b.ini", NodeBackup = "/var/tmp/b.ini", WrittenSha256 = "00" } },
                Path = UpgradeState.PathIn(_folder),
            };
            state.Save();
            return state.Path;
        }

        [Fact]
        public void A_state_with_every_field_is_read_back()
        {
            SaveFullState();
            var state = UpgradeState.Load(_folder);
            Assert.NotNull(state);
            Assert.Equal(("queens", "stack", "/var/tmp/b.ini"), (state.TargetRelease, state.Nodes[0].User, state.ConfigurationChanges[0].NodeBackup));
        }

        [Theory]
        [InlineData("targetRelease")]
        [InlineData("nodes[0].address")]
        [InlineData("nodes[0].user")]
        [InlineData("nodes[0].roles")]
        [InlineData("neutron.node")]
        [InlineData("neutron.check")]
        [InlineData("configurationChanges")]
        [InlineData("configurationChanges[0]")]
        [InlineData("configurationChanges[0].path")]
        [InlineData("configurationChanges[0].writtenSha256")]
        [InlineData("updated")]
        [InlineData("id")]
        [InlineData("nodes[0].name")]
        [InlineData("steps[0].name")]
        public void A_state_file_with_a_null_where_an_upgrade_records_a_value_is_refused_naming_the_file_and_the_field(string field)
        {
            string path = SaveFullState();
            var json = JsonNode.Parse(File.ReadAllText(path))!;   // Save wrote an object
            SetNull(json, field);
            File.WriteAllText(path, json.ToJsonString());

            var e = Assert.Throws<DfException>(() => UpgradeState.Load(_folder));
            Assert.Equal("UpgradeStateInvalid", e.ErrorId);
            Assert.Contains(path, e.Message);
            Assert.Contains($"has no value for {field},", e.Message);
        }

        [Theory]
        [InlineData("status")]
        [InlineData("steps[0].state")]
        public void A_state_file_with_a_number_for_a_status_or_a_step_state_is_refused_naming_the_file(string field)
        {
            string path = SaveFullState();
            var json = JsonNode.Parse(File.ReadAllText(path))!;   // Save wrote an object
            if (field == "status") json["status"] = 42; else json["steps"]![0]!["state"] = 42;
            File.WriteAllText(path, json.ToJsonString());

            var e = Assert.Throws<DfException>(() => UpgradeState.Load(_folder));
            Assert.Equal("UpgradeStateInvalid", e.ErrorId);
            Assert.Contains(path, e.Message);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void An_empty_state_file_and_one_that_is_a_device_are_refused_each_for_what_it_is(bool device)
        {
            string path = SaveFullState();
            File.Delete(path);
            if (device) File.CreateSymbolicLink(path, "/dev/null");
            else File.WriteAllText(path, "");

            var e = Assert.Throws<DfException>(() => UpgradeState.Load(_folder));
            Assert.Equal("UpgradeStateInvalid", e.ErrorId);
            Assert.Contains(path, e.Message);
            Assert.Contains(device ? "is not a regular file" : "is empty", e.Message);
            Assert.DoesNotContain(device ? "empty" : "regular", e.Message);
        }

        /// <summary>Sets the value at a path such as nodes[0].address to null.</summary>
        static void SetNull(JsonNode root, string field)
        {
            JsonNode parent = root;
            string[] parts = field.Replace("[", ".").Replace("]", "").Split('.');
            for (int i = 0; i < parts.Length - 1; i++)
                parent = (int.TryParse(parts[i], out int index) ? parent[index] : parent[parts[i]]) ?? throw new ArgumentException(field + " is not in the state");
            string last = parts[parts.Length - 1];
            if (int.TryParse(last, out int at)) parent[at] = null; else parent[last] = null;
        }
    }
}
