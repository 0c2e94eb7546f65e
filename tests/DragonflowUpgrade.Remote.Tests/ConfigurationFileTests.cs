using System;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>Replacing a node's configuration file: its bytes never travel in a command line, so no message can quote them.</summary>
    public sealed class ConfigurationFileTests : IDisposable
    {
        readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "df-config-" + Guid.NewGuid().ToString("N"))).FullName;
        readonly ListLogger _log = new ListLogger();

        public void Dispose() => Directory.Delete(_dir, true);

        [Fact]
        public void A_file_larger_than_a_command_line_can_hold_is_replaced_exactly()
        {
            using (var cloud = new TestCloud(db: 42, nodes: 1))
            using (var c = TestCloud.Connector().Connect(cloud.Nodes[0], _log))
            {
                string path = Path.Combine(_dir, "dragonflow.ini");
                File.WriteAllText(path, "[df]\n");
                var content = new byte[300 * 1024];
                new Random(13).NextBytes(content);

                NodeFiles.Replace(c, path, content, NodeFiles.Sha256(File.ReadAllBytes(path)), null, _log);

                Assert.Equal(content, File.ReadAllBytes(path));
                Assert.Equal(content, NodeFiles.Read(c, path, _log));
            }
        }

        [Fact]
        public void A_replace_that_fails_quotes_no_part_of_the_new_content_in_its_error_or_log()
        {
            using (var cloud = new TestCloud(db: 42, nodes: 1))
            {
                string secret = "password = s3cret-" + Guid.NewGuid().ToString("N");
                byte[] content = Encoding.ASCII.GetBytes("[df]\nremote_db_ip = 10.0.0.5\n" + secret + "\n");
                string encoded = Convert.ToBase64String(content);
                // A file that hashes slowly (sparse, 4 GiB) and a command timeout of 1 s: the replace fails while it runs.
                string path = Path.Combine(_dir, "dragonflow.ini");
                using (var f = File.Create(path)) f.SetLength(4L << 30);
                var connector = new SshConnector(new SshOptions { KnownHostsPath = TestCloud.KnownHostsPath, CommandTimeout = TimeSpan.FromSeconds(1) });
                ConfigurationFileException e;
                using (var c = connector.Connect(cloud.Nodes[0], _log))
                    e = Assert.Throws<ConfigurationFileException>(() => NodeFiles.Replace(c, path, content, new string('0', 64), null, _log));
                Assert.Equal("ConfigFileWriteFailed", e.ErrorId);
                Assert.Contains("timed out", e.Message);
                Assert.Equal(4L << 30, new FileInfo(path).Length);
                var texts = new[] { e.Message, e.RecommendedAction ?? "", e.ToString() }.Concat(_log.Lines.Select(l => l.Message)).ToList();
                Assert.DoesNotContain(texts, t => t.Contains("s3cret") || t.Contains(encoded.Substring(8, 24)));
            }
        }

        [Fact]
        public void A_file_that_changed_since_it_was_read_is_left_as_it_is_and_the_error_holds_none_of_the_new_content()
        {
            using (var cloud = new TestCloud(db: 42, nodes: 1))
            using (var c = TestCloud.Connector().Connect(cloud.Nodes[0], _log))
            {
                string path = Path.Combine(_dir, "dragonflow.ini");
                File.WriteAllText(path, "[df]\nchanged = by someone else\n");
                byte[] content = Encoding.ASCII.GetBytes("[df]\npassword = s3cret\n");
                var e = Assert.Throws<ConfigurationFileException>(() => NodeFiles.Replace(c, path, content, NodeFiles.Sha256(Encoding.ASCII.GetBytes("[df]\n")), null, _log));
                Assert.Equal("ConfigFileChanged", e.ErrorId);
                Assert.Equal("[df]\nchanged = by someone else\n", File.ReadAllText(path));
                Assert.DoesNotContain("s3cret", e.ToString());
                Assert.Empty(Directory.GetFiles(_dir, "*.df-new.*"));
            }
        }

        [Fact]
        public void A_local_backup_of_a_long_path_gets_a_name_a_file_system_takes_unique_to_that_path()
        {
            Assert.Equal("20260101T000000Z-etc_neutron_dragonflow.ini", NodeConfiguration.BackupName("20260101T000000Z", "/etc/neutron/dragonflow.ini"));
            string deep = "/srv/" + string.Concat(Enumerable.Repeat("é", 200)) + "/conf/";
            string a = NodeConfiguration.BackupName("20260101T000000Z", deep + "a/dragonflow.ini"), b = NodeConfiguration.BackupName("20260101T000000Z", deep + "b/dragonflow.ini");
            foreach (string name in new[] { a, b })
            {
                Assert.InRange(Encoding.UTF8.GetByteCount(name), 1, 255);
                Assert.StartsWith("20260101T000000Z-", name);
                Assert.EndsWith("_dragonflow.ini", name);
                // A file system takes it: the backup can be written.
                File.WriteAllText(Path.Combine(_dir, name), "x");
            }
            Assert.NotEqual(a, b);
        }
    }
}
