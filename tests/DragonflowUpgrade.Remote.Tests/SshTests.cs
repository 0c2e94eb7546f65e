using System;
using System.IO;
using System.Linq;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>SSH to the test nodes: real sshd daemons on 127.0.0.11, .12, ...</summary>
    public sealed class SshTests : IDisposable
    {
        readonly TestCloud _cloud = new TestCloud(db: 40, nodes: 2);
        readonly ListLogger _log = new ListLogger();

        public void Dispose() => _cloud.Dispose();

        DfNode Node(int i = 0) => _cloud.Nodes[i];

        static DfNode With(DfNode n, string name = null, string address = null, string identity = null) =>
            new DfNode(name ?? n.Name, address ?? n.Address, n.Port, n.User, identity ?? n.IdentityFile, n.Chassis, n.Roles, n.Services);

        [Fact]
        public void A_command_reports_its_exit_code_output_and_error_output()
        {
            using (var c = TestCloud.Connector().Connect(Node(1), _log))
            {
                var r = c.Run("echo \"$SSH_CONNECTION\"; echo oops >&2; exit 3", _log);
                Assert.Equal(3, r.ExitCode);
                Assert.EndsWith($"{Node(1).Address} {Node(1).Port}", r.Output);
                Assert.Equal("oops", r.Error);
                Assert.False(r.Succeeded);
                Assert.Contains("exit code 3", r.Failure);
                Assert.True(c.Run("true", _log).Succeeded);
            }
            Assert.Contains(_log.Lines, l => l.Message.Contains("echo oops >&2; exit 3") && l.Message.StartsWith(Node(1).Name));
        }

        [Fact]
        public void A_missing_identity_file_fails_its_node_alone_but_stops_a_control_plane_stop_before_anything_runs()
        {
            string missing = Path.Combine(_cloud.Dir, "no-such-key");
            var nodes = new[] { Node(0), With(Node(1), identity: missing) };
            var plane = new ControlPlane(TestCloud.Connector(), 2, _log);

            var results = plane.Invoke(nodes, "echo ran").ToDictionary(r => r.Node.Name);
            Assert.Equal(("ran", 0), (results[Node(0).Name].Output, results[Node(0).Name].ExitCode.Value));
            var failed = results[Node(1).Name];
            Assert.Null(failed.ExitCode);
            Assert.IsType<NodeConnectionException>(failed.ConnectionError);
            Assert.Contains($"{Node(1).Name}: the identity file {missing} does not exist", failed.Failure);

            var status = plane.GetStatus(nodes).ToDictionary(s => s.Node.Name);
            Assert.Null(status[Node(0).Name].Error);
            Assert.IsType<NodeConnectionException>(status[Node(1).Name].Error);

            string marker = Path.Combine(_cloud.Dir, "stopped");
            var n = Node(0);
            var stopping = new[] { new DfNode(n.Name, n.Address, n.Port, n.User, n.IdentityFile, n.Chassis, n.Roles,
                new[] { new NodeService("df-x", "compute", ServiceKind.Dragonflow, false, "true", $"touch {marker}", "true") }), nodes[1] };
            var e = Assert.ThrowsAny<DragonflowUpgrade.Engine.Errors.DfException>(() => plane.Stop(stopping, null, null));
            Assert.Equal("IdentityFileNotFound", e.ErrorId);
            Assert.False(File.Exists(marker), "a node was stopped although another's identity file is missing");
        }

        [Fact]
        public void A_changed_host_key_is_refused_even_with_accept_new()
        {
            // known_hosts says node01's address has node02's key.
            string known = Path.Combine(_cloud.Dir, "known_hosts");
            string node02Line = File.ReadAllLines(TestCloud.KnownHostsPath).Single(l => l.StartsWith($"[{Node(1).Address}]:"));
            File.WriteAllText(known, "# first line\n" + node02Line.Replace(Node(1).Address, Node(0).Address) + "\n");
            var e = Assert.Throws<HostKeyRejectedException>(() => TestCloud.Connector(acceptNew: true, knownHosts: known).Connect(Node(0), _log));
            Assert.Contains("CHANGED", e.Message);
            Assert.Contains($"{known} line 2", e.Message);
            Assert.StartsWith(Node(0).Name, e.Message);
            Assert.Equal(2, File.ReadAllLines(known).Length);
        }

        [Fact]
        public void An_unknown_host_key_is_refused_unless_accepted_and_then_recorded()
        {
            string known = Path.Combine(_cloud.Dir, "new", "known_hosts");
            var e = Assert.Throws<HostKeyRejectedException>(() => TestCloud.Connector(knownHosts: known).Connect(Node(0), _log));
            Assert.Contains("is not in", e.Message);
            Assert.Contains("-AcceptNewHostKey", e.Message);
            Assert.False(File.Exists(known));

            using (var c = TestCloud.Connector(acceptNew: true, knownHosts: known).Connect(Node(0), _log))
                Assert.Equal(0, c.Run("true", _log).ExitCode);
            string expected = File.ReadAllLines(TestCloud.KnownHostsPath).Single(l => l.StartsWith($"[{Node(0).Address}]:"));
            Assert.Equal(new[] { expected }, File.ReadAllLines(known));
            using (var c = TestCloud.Connector(knownHosts: known).Connect(Node(0), _log))
                Assert.Equal(0, c.Run("true", _log).ExitCode);
        }

        [Fact]
        public void A_node_that_is_down_is_an_error_naming_it()
        {
            var down = With(Node(), name: "down1", address: TestCloud.DownAddress);
            var e = Assert.Throws<NodeConnectionException>(() => TestCloud.Connector().Connect(down, _log));
            Assert.StartsWith($"down1 ({down.User}@[{TestCloud.DownAddress}]:{down.Port})", e.Message);
            Assert.Contains("connection refused", e.Message);
        }

        [Fact]
        public void A_command_that_outlives_its_timeout_fails_without_an_exit_code()
        {
            var connector = new SshConnector(new SshOptions { KnownHostsPath = TestCloud.KnownHostsPath, CommandTimeout = TimeSpan.FromSeconds(1) });
            using (var c = connector.Connect(Node(), _log))
            {
                var r = c.Run("sleep 60", _log);
                Assert.Null(r.ExitCode);
                Assert.Contains("timed out after 1 s", r.Failure);
                Assert.True(r.Duration < TimeSpan.FromSeconds(30), $"the command should be given up after 1 s, not waited for: it took {r.Duration}");
            }
        }

        [Fact]
        public void An_encrypted_key_needs_its_passphrase()
        {
            var node = With(Node(), identity: Path.Combine(TestCloud.SshDir, "id_ed25519_pass"));
            var e = Assert.Throws<NodeConnectionException>(() => TestCloud.Connector().Connect(node, _log));
            Assert.Contains("passphrase", e.Message);

            var connector = new SshConnector(new SshOptions { KnownHostsPath = TestCloud.KnownHostsPath, Passphrase = "df-test-passphrase" });
            using (var c = connector.Connect(node, _log))
                Assert.Equal(0, c.Run("true", _log).ExitCode);
        }
    }
}
