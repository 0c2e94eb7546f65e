using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>Neutron's database commands: the inventory's NeutronDatabase table, the dump files, and streaming over SSH to the test nodes.</summary>
    public sealed class NeutronDatabaseTests : IDisposable
    {
        readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "df-neutron-" + Guid.NewGuid().ToString("N"))).FullName;
        readonly ListLogger _log = new ListLogger();

        public void Dispose() => Directory.Delete(_dir, true);

        NeutronDatabase Parse(string neutronDatabase, string roles = "\"controller\"")
        {
            string path = Path.Combine(_dir, "inventory.json");
            File.WriteAllText(path, $@"{{
  ""Nodes"": [
    {{ ""Name"": ""cmp1"", ""Address"": ""10.0.0.21"", ""Roles"": [""compute""] }},
    {{ ""Name"": ""ctl1"", ""Chassis"": ""ctl1.example.org"", ""Address"": ""10.0.0.11"", ""Roles"": [{roles}] }}
  ]{(neutronDatabase == null ? "" : ",\n  \"NeutronDatabase\": " + neutronDatabase)}
}}");
            return Inventory.ParseNeutronDatabase(Inventory.ReadJson(path), path);
        }

        [Fact]
        public void The_first_controller_runs_the_default_commands_when_the_inventory_says_nothing()
        {
            var db = Parse(null);
            Assert.Equal("ctl1", db.Node.Name);
            Assert.Equal("mysqldump --single-transaction --add-drop-database --databases neutron", db.Backup.For(null));
            Assert.Equal("mysql neutron", db.Restore.For(null));
            Assert.Equal("neutron-db-manage upgrade heads", db.Migrate.For(null));
            Assert.Equal("mysql -N -e \"SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = 'neutron'\"", db.Size.For(null));
        }

        [Fact]
        public void The_size_command_the_readiness_sizes_the_dump_with_comes_from_the_inventory()
        {
            var db = Parse(@"{ ""Size"": ""MYSQL_PWD={password} mysql -N -e 'SELECT 42' neutron"" }");
            Assert.Equal("MYSQL_PWD=*** mysql -N -e 'SELECT 42' neutron", db.Size.Shown);
        }

        [Fact]
        public void Commands_get_the_node_and_chassis_filled_in_and_the_password_only_when_they_run()
        {
            var db = Parse(@"{ ""Node"": ""cmp1"", ""Migrate"": ""MYSQL_PWD={password} neutron-db-manage --host {node} --chassis \""{chassis}\"" upgrade heads"" }");
            Assert.Equal("cmp1", db.Node.Name);
            Assert.Equal("MYSQL_PWD=*** neutron-db-manage --host cmp1 --chassis \"cmp1\" upgrade heads", db.Migrate.Shown);
            Assert.Equal("IFS= read -r MYSQL_PWD || exit 1; export MYSQL_PWD\nMYSQL_PWD=\"$MYSQL_PWD\" neutron-db-manage --host cmp1 --chassis \"cmp1\" upgrade heads",
                db.Migrate.For("it's; rm -rf /"));
            Assert.DoesNotContain("rm -rf", db.Migrate.For("it's; rm -rf /"));
            var e = Assert.Throws<NeutronDatabaseException>(() => db.Migrate.For(null));
            Assert.Equal("NeutronPasswordMissing", e.ErrorId);
        }

        [Theory]
        [InlineData(@"{ ""Backup"": ""mysqldump {service}"" }", "InventoryPlaceholderUnknown", "field NeutronDatabase.Backup: {service} is not a placeholder: use {node}, {chassis}, {password}")]
        [InlineData(@"{ ""Restore"": ""sh -c 'mysql -p{password} neutron'"" }", "InventoryPlaceholderUnsafe", "field NeutronDatabase.Restore: {password} may stand only at the start")]
        [InlineData(@"{ ""Restore"": ""mysql -p\""{password}\"" neutron"" }", "InventoryPlaceholderUnsafe", "field NeutronDatabase.Restore: {password} may stand only at the start")]
        [InlineData(@"{ ""Backup"": ""mysqldump -p{password} neutron"" }", "InventoryPlaceholderUnsafe", "into a process's arguments, which any user of the node can read with ps")]
        [InlineData(@"{ ""Backup"": ""MYSQL_PWD={password} mysqldump -p{password} neutron"" }", "InventoryPlaceholderUnsafe", "field NeutronDatabase.Backup: {password} may stand only at the start")]
        [InlineData(@"{ ""Backup"": ""cd /; MYSQL_PWD={password} mysqldump neutron"" }", "InventoryPlaceholderUnsafe", "field NeutronDatabase.Backup: {password} may stand only at the start")]
        [InlineData(@"{ ""Backup"": ""MYSQL_PWD={password}x mysqldump neutron"" }", "InventoryPlaceholderUnsafe", "leave {password} out, or write MYSQL_PWD={password} mysqldump")]
        [InlineData(@"{ ""Migrate"": ""echo ${password}"" }", "InventoryPlaceholderUnsafe", "field NeutronDatabase.Migrate: the placeholder {password} follows '$'")]
        [InlineData(@"{ ""Node"": ""ctl9"" }", "InventoryInvalid", "field NeutronDatabase.Node: 'ctl9' is not a node of the inventory")]
        [InlineData(@"{ ""Nodes"": ""ctl1"" }", "InventoryInvalid", "field NeutronDatabase.Nodes: is not a field here")]
        public void An_unsafe_or_unknown_setting_is_refused_naming_the_field(string table, string id, string says)
        {
            var e = Assert.Throws<InventoryException>(() => Parse(table));
            Assert.Equal(id, e.ErrorId);
            Assert.Contains(says, e.Message);
        }

        [Fact]
        public void Without_a_controller_the_inventory_must_name_the_node()
        {
            var e = Assert.Throws<InventoryException>(() => Parse(null, roles: "\"network\""));
            Assert.Contains("no node has the controller role", e.Message);
            Assert.Equal("ctl1", Parse(@"{ ""Node"": ""ctl1"" }", roles: "\"network\"").Node.Name);
        }

        [Fact]
        public void A_dump_file_is_created_for_its_owner_only_and_never_over_another()
        {
            string path = Path.Combine(_dir, "d.sql.gz");
            using (var f = NeutronDump.CreateOwnerOnly(path)) f.WriteByte(1);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Throws<IOException>(() => NeutronDump.CreateOwnerOnly(path));
            Assert.Equal(new byte[] { 1 }, File.ReadAllBytes(path));
        }

        [Fact]
        public void A_device_given_as_the_dump_is_refused_naming_it()
        {
            var e = Assert.Throws<NeutronDatabaseException>(() => NeutronDump.Verify("/dev/null"));
            Assert.Equal("NeutronDumpNotRegular", e.ErrorId);
            Assert.Contains("/dev/null is not a regular file", e.Message);
        }

        [Fact]
        public void A_dump_is_checked_against_its_checksum_file()
        {
            string path = Path.Combine(_dir, "d.sql.gz");
            File.WriteAllBytes(path, Encoding.ASCII.GetBytes("a dump"));
            Assert.Equal("NeutronDumpUnverified", Assert.Throws<NeutronDatabaseException>(() => NeutronDump.Verify(path)).ErrorId);
            string sum = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();
            File.WriteAllText(path + ".sha256", sum + "  d.sql.gz\n");
            Assert.Equal(sum, NeutronDump.Verify(path));
            File.WriteAllBytes(path, Encoding.ASCII.GetBytes("a dumq"));
            var e = Assert.Throws<NeutronDatabaseException>(() => NeutronDump.Verify(path));
            Assert.Equal("NeutronDumpDamaged", e.ErrorId);
            Assert.Contains($"{path}.sha256 says {sum}", e.Message);
        }

        [Fact]
        public void The_default_dump_name_skips_names_taken()
        {
            var t = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            string first = NeutronDump.DefaultPath(_dir, "ctl1", t);
            Assert.Equal(Path.Combine(_dir, "neutron-ctl1-20260102T030405Z.sql.gz"), first);
            File.WriteAllText(first + ".sha256", "");
            Assert.Equal(Path.Combine(_dir, "neutron-ctl1-20260102T030405Z-2.sql.gz"), NeutronDump.DefaultPath(_dir, "ctl1", t));
        }

        /// <summary>The test cloud's first node with these commands.</summary>
        NeutronDatabase OnTestNode(TestCloud cloud, string backup = "true", string restore = "true", string migrate = "true") =>
            new NeutronDatabase(cloud.Nodes[0], new NeutronCommand(backup), new NeutronCommand(restore), new NeutronCommand(migrate), cloud.InventoryPath);

        static string Sha256Hex(byte[] data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

        [Fact]
        public void A_large_dump_streams_to_a_compressed_file_and_back_into_the_restore_command_unchanged()
        {
            using (var cloud = new TestCloud(db: 41, nodes: 1))
            {
                string received = Path.Combine(_dir, "received.sha256");
                // About 40 MB of text, made on the node; the restore command hashes what it is fed.
                var db = OnTestNode(cloud, backup: "seq 1 5000000", restore: $"sha256sum > {ShellQuote.Quote(received)}");
                var client = new NeutronDatabaseClient(TestCloud.Connector(), _log);
                string path = Path.Combine(_dir, "big.sql.gz");

                var backup = client.Backup(db, path, null, null);

                byte[] expected = Encoding.ASCII.GetBytes(string.Join("", Enumerable.Range(1, 5000000).Select(i => i + "\n")));
                Assert.Equal(expected.Length, backup.Bytes);
                Assert.True(new FileInfo(path).Length < expected.Length / 2, "the dump is stored compressed");
                Assert.Equal(Sha256Hex(File.ReadAllBytes(path)), backup.Checksum);
                Assert.Equal($"{backup.Checksum}  big.sql.gz\n", File.ReadAllText(path + ".sha256"));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                using (var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
                using (var all = new MemoryStream())
                {
                    gz.CopyTo(all);
                    Assert.Equal(Sha256Hex(expected), Sha256Hex(all.ToArray()));
                }

                var restore = client.Restore(db, path, null, null);
                Assert.Equal(expected.Length, restore.Bytes);
                Assert.Equal($"{Sha256Hex(expected)}  -", File.ReadAllText(received).Trim());
            }
        }

        [Fact]
        public void A_backup_that_fails_half_way_leaves_no_file_behind()
        {
            using (var cloud = new TestCloud(db: 41, nodes: 1))
            {
                var db = OnTestNode(cloud, backup: "seq 1 200000; echo 'mysqldump: Got error: 2013: Lost connection' >&2; exit 2");
                string path = Path.Combine(_dir, "part.sql.gz");
                var e = Assert.Throws<NeutronDatabaseException>(() => new NeutronDatabaseClient(TestCloud.Connector(), _log).Backup(db, path, null, null));
                Assert.Equal("NeutronCommandFailed", e.ErrorId);
                Assert.Contains("exit code 2", e.Message);
                Assert.Empty(Directory.GetFileSystemEntries(_dir));
            }
        }

        [Fact]
        public void A_migration_streams_its_lines_and_a_failure_quotes_the_last_error_lines_without_the_password()
        {
            using (var cloud = new TestCloud(db: 41, nodes: 1))
            {
                var db = OnTestNode(cloud, migrate: "MYSQL_PWD={password} true; P=$MYSQL_PWD; echo start; for i in $(seq 1 15); do echo \"err$i $P\" >&2; done; echo done; exit 4");
                var lines = new List<string>();
                var e = Assert.Throws<NeutronDatabaseException>(() =>
                    new NeutronDatabaseClient(TestCloud.Connector(), _log).Migrate(db, "s3cret", l => { lock (lines) lines.Add(l); }));
                Assert.Equal("NeutronCommandFailed", e.ErrorId);
                Assert.Equal(cloud.Nodes[0].Name, e.Target);
                Assert.StartsWith($"{cloud.Nodes[0].Name}: exit code 4 from MYSQL_PWD=*** true; P=$MYSQL_PWD; echo start;", e.Message);
                Assert.EndsWith("its last error output:\n" + string.Join("\n", Enumerable.Range(6, 10).Select(i => $"err{i} ***")), e.Message);
                Assert.Contains("start", lines);
                Assert.Contains("done", lines);
                Assert.Contains("err1 ***", lines);
                Assert.DoesNotContain(lines.Concat(_log.Lines.Select(l => l.Message)), l => l.Contains("s3cret"));
            }
        }

        [Fact]
        public void The_password_reaches_the_commands_on_their_standard_input_and_no_process_line_on_the_node_holds_it()
        {
            using (var cloud = new TestCloud(db: 41, nodes: 1))
            {
                string password = "pw-" + Guid.NewGuid().ToString("N");
                string marker = "df-marker-" + Guid.NewGuid().ToString("N");
                string received = Path.Combine(_dir, "received"), seen = Path.Combine(_dir, "seen");
                // A slow backup: its process lines are scanned while it runs; it prints the password it was given.
                var db = OnTestNode(cloud, backup: $"MYSQL_PWD={{password}} true; : {marker}; sleep 3; printf '%s' \"$MYSQL_PWD\"",
                    restore: $"printf '%s' \"$MYSQL_PWD\" > {ShellQuote.Quote(seen)}; cat > {ShellQuote.Quote(received)}");
                var client = new NeutronDatabaseClient(TestCloud.Connector(), _log);
                string path = Path.Combine(_dir, "slow.sql.gz");

                var backup = System.Threading.Tasks.Task.Run(() => client.Backup(db, path, password, null));
                bool markerSeen = false, passwordSeen = false;
                while (!backup.IsCompleted)
                {
                    foreach (string dir in Directory.GetDirectories("/proc"))
                    {
                        string cmdline;
                        try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")); }
                        catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { continue; }
                        markerSeen |= cmdline.Contains(marker);
                        passwordSeen |= cmdline.Contains(password);
                    }
                    System.Threading.Thread.Sleep(50);
                }
                backup.GetAwaiter().GetResult();
                Assert.True(markerSeen, "the scan saw the command running");
                Assert.False(passwordSeen, "a process line held the password");
                using (var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
                using (var reader = new StreamReader(gz))
                    Assert.Equal(password, reader.ReadToEnd());

                client.Restore(db, path, password, null);
                Assert.Equal(password, File.ReadAllText(seen));
                Assert.Equal(password, File.ReadAllText(received)); // the dump, without the password line in front
            }
        }

        [Fact]
        public void A_controller_that_does_not_answer_gives_the_connection_error_every_node_cmdlet_gives()
        {
            using (var cloud = new TestCloud(db: 41, nodes: 1))
            {
                var n = cloud.Nodes[0];
                var down = new DfNode("down1", TestCloud.DownAddress, n.Port, n.User, n.IdentityFile, n.Chassis, n.Roles, n.Services);
                var db = new NeutronDatabase(down, new NeutronCommand("true"), new NeutronCommand("true"), new NeutronCommand("true"), cloud.InventoryPath);
                var expected = Assert.Throws<NodeConnectionException>(() => TestCloud.Connector().Connect(down, _log));
                var e = Assert.Throws<NodeConnectionException>(() => new NeutronDatabaseClient(TestCloud.Connector(), _log).Migrate(db, null, null));
                Assert.Equal("NodeUnreachable", e.ErrorId);
                Assert.Equal("down1", e.Target);
                Assert.Equal(expected.RecommendedAction, e.RecommendedAction);
                Assert.Throws<NodeConnectionException>(() => new NeutronDatabaseClient(TestCloud.Connector(), _log).Backup(db, Path.Combine(_dir, "d.sql.gz"), null, null));
                Assert.Empty(Directory.GetFileSystemEntries(_dir));
            }
        }
    }
}
