using System;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Dragonflow.Configuration;
using Xunit;

namespace DragonflowUpgrade.Dragonflow.Tests
{
    public class OptionManifestTests
    {
        [Fact]
        public void The_queens_manifest_marks_the_options_dragonflow_5_deprecated_for_removal()
        {
            var queens = OptionManifest.Of("queens");
            var deprecated = queens.Options.Where(o => o.DeprecatedForRemoval).Select(o => o.ToString()).OrderBy(s => s, StringComparer.Ordinal);
            Assert.Equal(new[]
            {
                "[df] remote_db_ip", "[df] remote_db_port",
                "[df_dnat_app] ex_peer_patch_port", "[df_dnat_app] external_network_bridge", "[df_dnat_app] int_peer_patch_port",
                "[df_snat_app] enable_goto_flows",
            }, deprecated);
            Assert.Empty(OptionManifest.Of("pike").Options.Where(o => o.DeprecatedForRemoval));
        }

        [Fact]
        public void The_manifests_hold_each_release_s_groups_types_and_defaults()
        {
            var pike = OptionManifest.Of("pike");
            var queens = OptionManifest.Of("queens");
            Assert.Equal("port", pike.Find("df_metadata", "port").Type);
            Assert.Equal("18080", pike.Find("df_metadata", "port").Default);
            Assert.Equal("l2,l3_proactive,dhcp", pike.Find("df", "apps_list").Default);
            Assert.Equal("80", queens.Find("df", "service_down_time").Default);
            Assert.Null(pike.Find("df_loadbalancer", "auto_enable_vip_ports"));
            Assert.Equal("True", queens.Find("df_loadbalancer", "auto_enable_vip_ports").Default);
            Assert.Equal("10", queens.Find("df_rethinkdb", "connection_pool_size").Default);
            Assert.NotNull(queens.Find("DF", "local_ip")); // group names ignore case, as oslo.config's do
        }

        [Fact]
        public void An_unknown_release_is_refused_naming_the_known_ones()
        {
            var e = Assert.ThrowsAny<Engine.Errors.DfException>(() => OptionManifest.Of("rocky"));
            Assert.Equal("ReleaseUnknown", e.ErrorId);
            Assert.Contains("pike, queens", e.RecommendedAction);
        }

        [Theory]
        [InlineData(@"{ ""release"": null, ""groups"": {} }", "'release' is null")]
        [InlineData(@"{ ""release"": ""x"", ""groups"": { ""df"": { ""o"": { ""type"": null } } } }", "'type' is null")]
        [InlineData(@"{ ""release"": ""x"", ""groups"": { ""df"": { ""o"": { ""type"": ""string"", ""deprecatedNames"": [ { ""group"": null, ""name"": ""old"" } ] } } } }", "'group' is null")]
        public void A_manifest_file_with_a_null_where_a_name_belongs_is_refused_naming_it(string json, string problem)
        {
            string path = Path.GetTempFileName() + ".json";
            try
            {
                File.WriteAllText(path, json);
                var e = Assert.ThrowsAny<Engine.Errors.DfException>(() => OptionManifest.Resolve(path, p => p));
                Assert.Equal("OptionManifestInvalid", e.ErrorId);
                Assert.Contains(problem, e.Message);
            }
            finally { File.Delete(path); }
        }
    }

    public class IniFileTests
    {
        static string Fixture => Path.Combine(AppContext.BaseDirectory, "fixtures", "pike-dragonflow.ini");

        [Theory]
        [InlineData("\n")]
        [InlineData("\r\n")]
        public void An_untouched_file_is_written_back_byte_for_byte(string newline)
        {
            // Ends without a newline, on a line with odd spacing and trailing blanks.
            string text = File.ReadAllText(Fixture).Replace("\n", newline) + "[df_bgp]" + newline + "bgp_router_id=  'x' ;  trailing   ";
            foreach (bool bom in new[] { false, true })
            {
                byte[] bytes = (bom ? new byte[] { 0xEF, 0xBB, 0xBF } : new byte[0]).Concat(Encoding.UTF8.GetBytes(text)).ToArray();
                Assert.Equal(bytes, IniFile.Parse(bytes, "n1: dragonflow.ini").ToBytes());
            }
        }

        [Fact]
        public void Options_are_read_as_oslo_config_reads_them()
        {
            var ini = Parse("[df]\nlocal_ip: 10.0.0.1\napps_list = l2,\n  l3_proactive\n# not: an option\nname = \"quoted\"\n");
            var options = ini.Options;
            Assert.Equal(new[] { "local_ip", "apps_list", "name" }, options.Select(o => o.Name));
            Assert.Equal("10.0.0.1", options[0].Value);
            Assert.Equal("l2,\nl3_proactive", options[1].Value);
            Assert.Equal(3, options[1].Line);
            Assert.Equal("quoted", options[2].Value);
        }

        [Theory]
        [InlineData("[df]\nlocal_ip = 1\n[df_l2_app\n", 3, "does not end with ']'")]
        [InlineData("[df]\n\n  indented = 1\n", 3, "is indented, but follows no option")]
        [InlineData("[df]\nlocal_ip 10.0.0.1\n", 2, "is neither a comment")]
        [InlineData("local_ip = 1\n", 1, "before any [group]")]
        [InlineData("[df]\n = 1\n", 2, "is indented")]
        [InlineData("[]\n", 1, "names no group")]
        [InlineData("[df]\n=1\n", 2, "no option name")]
        public void A_line_oslo_config_refuses_is_named_by_file_and_line(string text, int line, string problem)
        {
            var e = Assert.Throws<IniFormatException>(() => Parse(text));
            Assert.Equal("ConfigFileMalformed", e.ErrorId);
            Assert.Equal(line, e.Line);
            Assert.StartsWith($"node01: /etc/neutron/dragonflow.ini line {line} ", e.Message);
            Assert.Contains(problem, e.Message);
        }

        [Fact]
        public void A_file_that_is_not_utf8_is_refused_naming_the_line()
        {
            var bytes = Encoding.UTF8.GetBytes("[df]\nlocal_ip = 1\nx = ").Concat(new byte[] { 0xFF, (byte)'\n' }).ToArray();
            var e = Assert.Throws<IniFormatException>(() => IniFile.Parse(bytes, "node01: /etc/neutron/dragonflow.ini"));
            Assert.Equal(3, e.Line);
        }

        [Fact]
        public void A_rename_in_its_group_changes_the_name_alone()
        {
            var ini = Parse("# top\n[df]\n; note\nold_name   =  v1 # kept\n  continued\n\nlocal_ip = 1\n");
            ini.Rename(4, "df", "new_name");
            Assert.Equal("# top\n[df]\n; note\nnew_name   =  v1 # kept\n  continued\n\nlocal_ip = 1\n", Text(ini));
        }

        [Fact]
        public void A_rename_into_another_group_moves_the_option_with_its_continuation_lines()
        {
            var ini = Parse("[df]\nold = a,\n  b\nlocal_ip = 1\n\n[df_l2_app]\n# responder\nl2_responder = True\n\n[df_l3_app]\nx = 1");
            ini.Rename(2, "df_l2_app", "new");
            Assert.Equal("[df]\nlocal_ip = 1\n\n[df_l2_app]\n# responder\nl2_responder = True\nnew = a,\n  b\n\n[df_l3_app]\nx = 1", Text(ini));

            ini.Rename(7, "df_bgp", "newer");
            Assert.Equal("[df]\nlocal_ip = 1\n\n[df_l2_app]\n# responder\nl2_responder = True\n\n[df_l3_app]\nx = 1\n\n[df_bgp]\nnewer = a,\n  b\n", Text(ini));
        }

        static IniFile Parse(string text) => IniFile.Parse(Encoding.UTF8.GetBytes(text), "node01: /etc/neutron/dragonflow.ini");

        static string Text(IniFile ini) => Encoding.UTF8.GetString(ini.ToBytes());
    }

    public class ConfigurationCheckTests
    {
        static IniFile PikeFile => IniFile.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "pike-dragonflow.ini")), "node01: dragonflow.ini");

        [Fact]
        public void A_pike_file_going_to_queens_has_the_dnat_bridge_options_and_the_old_db_address_deprecated_for_removal()
        {
            var findings = ConfigurationCheck.Compare(PikeFile, OptionManifest.Of("pike"), OptionManifest.Of("queens"), "node01", "/etc/neutron/dragonflow.ini");
            Assert.Equal(new[]
            {
                "DeprecatedForRemoval df remote_db_ip 6",
                "DeprecatedForRemoval df remote_db_port 7",
                "DeprecatedForRemoval df_dnat_app external_network_bridge 27",
                "DeprecatedForRemoval df_dnat_app int_peer_patch_port 28",
                "DeprecatedForRemoval df_dnat_app ex_peer_patch_port 29",
                "DeprecatedForRemoval df_snat_app enable_goto_flows 33",
                "Unknown df-cassandra consistency_level 41",
            }, findings.Select(f => $"{f.Kind} {f.Group} {f.Option} {f.Line}"));
            Assert.All(findings, f => Assert.Equal("node01", f.Node));
            Assert.All(findings, f => Assert.Equal("/etc/neutron/dragonflow.ini", f.Path));
            Assert.Contains("deprecated for removal in queens", findings[2].Message);
            Assert.Contains("[df-cassandra] is no group of Dragonflow pike or queens", findings[6].Message);
        }

        [Fact]
        public void The_same_release_on_both_sides_finds_only_what_is_wrong_in_the_file()
        {
            var findings = ConfigurationCheck.Compare(PikeFile, OptionManifest.Of("pike"), OptionManifest.Of("pike"), "node01", "f");
            Assert.Equal(new[] { "Unknown df-cassandra consistency_level" }, findings.Select(f => $"{f.Kind} {f.Group} {f.Option}"));
        }

        // A release pair with every kind of change: an option renamed within its group, one moved
        // to another group, one removed, one whose default changes, one new.
        static readonly OptionManifest Before = new OptionManifest("before", new[]
        {
            Option("df", "old_name", "1"), Option("df", "moved", "x"), Option("df", "gone", "g"), Option("df", "timeout", "10"), Option("df", "local_ip", "127.0.0.1"),
        });
        static readonly OptionManifest After = new OptionManifest("after", new[]
        {
            Option("df", "new_name", "1", new OptionName("df", "old_name")), Option("df_l2_app", "moved_here", "x", new OptionName("df", "moved")),
            Option("df", "timeout", "20"), Option("df", "local_ip", "127.0.0.1"), Option("df", "added", "a"),
        });

        static OptionSpec Option(string group, string name, string value, params OptionName[] was) =>
            new OptionSpec(group, name, "string", value, was, false);

        [Fact]
        public void Renames_removals_unknown_options_and_relied_on_defaults_are_each_found_with_what_to_do()
        {
            var file = IniFile.Parse(Encoding.UTF8.GetBytes("[DEFAULT]\ndebug = True\n[df]\nold_name = 5\nmoved = y\ngone = 1\ntypo = 2\n[df_l2_app]\nl2_responder = True\n"), "n: f");
            var findings = ConfigurationCheck.Compare(file, Before, After, "n", "f");
            Assert.Equal(new[]
            {
                "Renamed df old_name 4 -> df new_name",
                "Renamed df moved 5 -> df_l2_app moved_here",
                "Removed df gone 6",
                "Unknown df typo 7",
                "Unknown df_l2_app l2_responder 9",
                "DefaultChanged df timeout ",
            }, findings.Select(f => $"{f.Kind} {f.Group} {f.Option} {f.Line}" + (f.NewGroup == null ? "" : $" -> {f.NewGroup} {f.NewOption}")));
            Assert.Contains("Update-DfConfiguration renames it", findings[0].Message);
            Assert.Contains("set 'timeout = 10' under [df]", findings[5].Message);
        }

        [Fact]
        public void Applying_the_renames_keeps_every_comment_and_the_order_and_changes_only_the_renamed_lines()
        {
            string text = "# node01\n[df]\n; old name, kept for now\nold_name = 5   # five\nmoved = y\n\tstill y\ngone = 1\n\n[df_l2_app]\nl2_responder = True\n";
            var file = IniFile.Parse(Encoding.UTF8.GetBytes(text), "n: f");
            var applied = ConfigurationCheck.ApplyRenames(file, ConfigurationCheck.Compare(file, Before, After, "n", "f"));
            Assert.Equal(new[] { "old_name", "moved" }, applied.Select(f => f.Option));
            Assert.Equal("# node01\n[df]\n; old name, kept for now\nnew_name = 5   # five\ngone = 1\n\n[df_l2_app]\nl2_responder = True\nmoved_here = y\n\tstill y\n",
                Encoding.UTF8.GetString(file.ToBytes()));
            Assert.Empty(ConfigurationCheck.Compare(file, Before, After, "n", "f").Where(f => f.Kind == FindingKind.Renamed));
        }

        [Fact]
        public void An_option_set_twice_is_renamed_on_the_last_line_which_oslo_config_reads_and_the_earlier_line_is_reported_and_left()
        {
            var file = IniFile.Parse(Encoding.UTF8.GetBytes("[df]\nold_name = 5\nold_name = 7\n"), "n: f");
            var findings = ConfigurationCheck.Compare(file, Before, After, "n", "f");
            Assert.Contains("set again on line 3, which is the one read: this line has no effect, and Update-DfConfiguration leaves it as it is. Remove line 2",
                findings.Single(f => f.Line == 2).Message);
            Assert.Contains("Update-DfConfiguration renames it", findings.Single(f => f.Line == 3).Message);
            Assert.Equal(new int?[] { 3 }, ConfigurationCheck.ApplyRenames(file, findings).Select(f => f.Line));
            Assert.Equal("[df]\nold_name = 5\nnew_name = 7\n", Encoding.UTF8.GetString(file.ToBytes()));
        }

        [Fact]
        public void A_rename_whose_new_name_the_file_already_sets_is_left_to_the_operator()
        {
            var file = IniFile.Parse(Encoding.UTF8.GetBytes("[df]\nold_name = 5\nnew_name = 6\n"), "n: f");
            var findings = ConfigurationCheck.Compare(file, Before, After, "n", "f");
            Assert.Contains("which the file also sets: that one wins. Remove line 2", findings.Single(f => f.Kind == FindingKind.Renamed).Message);
            Assert.Empty(ConfigurationCheck.ApplyRenames(file, findings));
            Assert.Equal("[df]\nold_name = 5\nnew_name = 6\n", Encoding.UTF8.GetString(file.ToBytes()));
        }
    }
}
