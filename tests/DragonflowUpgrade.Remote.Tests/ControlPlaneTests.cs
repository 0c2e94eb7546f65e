using DragonflowUpgrade.Engine;
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>
    /// Stopping and starting test nodes whose services are real daemons writing Dragonflow
    /// heartbeats into the test Redis, checked through the NB database as in production.
    /// </summary>
    public sealed class ControlPlaneTests : IDisposable
    {
        static readonly TimeSpan DownTime = TimeSpan.FromSeconds(2);
        readonly List<TestCloud> _clouds = new List<TestCloud>();
        readonly ListLogger _log = new ListLogger();

        public void Dispose() { foreach (var c in _clouds) c.Dispose(); }

        TestCloud Cloud(int db, int nodes = 3, string extraNode = null, string services = null, bool firstBeatGate = false)
        {
            var cloud = new TestCloud(db, nodes, extraNodesJson: extraNode, servicesJson: services, firstBeatGate: firstBeatGate);
            _clouds.Add(cloud);
            return cloud;
        }

        ControlPlane Plane(int throttle = 8) => new ControlPlane(TestCloud.Connector(), throttle, _log);

        static HeartbeatCheck Check(TestCloud cloud, double timeout = 15) =>
            new HeartbeatCheck(cloud.Store) { DownTime = DownTime, Timeout = TimeSpan.FromSeconds(timeout), PollInterval = TimeSpan.FromMilliseconds(200) };

        static void AssertSucceeded(ControlPlaneOutcome o) =>
            Assert.True(o.Succeeded, string.Join("\n", o.Nodes.Select(n => n.Error).Where(e => e != null).Append(o.HeartbeatFailure)));

        Dictionary<(string, string), ServiceState> Status(TestCloud cloud) =>
            Plane().GetStatus(cloud.Nodes).SelectMany(n => n.Services).ToDictionary(s => (s.Node.Name, s.Service.Name), s => s.Status);

        [Fact]
        public void Starting_brings_up_dragonflow_services_first_and_waits_for_their_fresh_heartbeats_then_neutron()
        {
            // The services write their first heartbeats only once the start says it waits for
            // them: a start that started Neutron before waiting would start it before them.
            var cloud = Cloud(42, firstBeatGate: true);
            var outcome = Plane().Start(cloud.Nodes, Check(cloud, timeout: 60), new Sync<ProgressReport>(p =>
            {
                if (p.Activity == "Waiting for the Dragonflow services' first heartbeats") cloud.OpenFirstBeatGate();
            }));
            AssertSucceeded(outcome);

            var events = cloud.Events();
            double neutronStart = events.Single(e => e.Service == "neutron-server" && e.What == "start-begin").Time;
            // Each Dragonflow service that writes heartbeats had written one before Neutron was started.
            var beating = cloud.Nodes.SelectMany(n => n.Services.Where(s => s.Heartbeat).Select(s => (n.Name, s.Name))).ToList();
            Assert.Equal(7, beating.Count); // node01: publisher, local controller, metadata; node02-03: local controller, metadata
            Assert.Equal(beating.OrderBy(b => b), events.Where(e => e.What == "first-beat" && e.Service != "neutron-server").Select(e => (e.Node, e.Service)).OrderBy(b => b));
            Assert.All(events.Where(e => e.Service != "neutron-server"), e => Assert.True(e.Time < neutronStart, $"{e} came after neutron-server's start"));
            var rows = Heartbeats.ReadServices(cloud.Store);
            Assert.All(beating, b => Assert.Contains(rows, r => (r.Chassis, r.Binary) == b));
            Assert.All(Status(cloud), s => Assert.Equal(ServiceState.Running, s.Value));
            Assert.All(outcome.Nodes, n => Assert.Equal(ControlPlaneAction.Start, n.Action));
            Assert.Contains(_log.Lines, l => l.Message.Contains("start") && l.Message.Contains(" neutron-server"));
        }

        [Fact]
        public void Stopping_takes_neutron_down_first_then_every_dragonflow_service_and_waits_until_no_heartbeat_is_alive()
        {
            var cloud = Cloud(43);
            AssertSucceeded(Plane().Start(cloud.Nodes, null, null));
            var progress = new List<ProgressReport>();
            var outcome = Plane().Stop(cloud.Nodes, Check(cloud), new Sync<ProgressReport>(progress.Add));
            AssertSucceeded(outcome);

            var events = cloud.Events();
            double neutronStopped = events.Single(e => e.Service == "neutron-server" && e.What == "stopped").Time;
            Assert.All(events.Where(e => e.Service != "neutron-server" && e.What == "stop-begin"), e => Assert.True(e.Time > neutronStopped, $"{e} came before neutron-server stopped"));
            Assert.Equal(7, events.Count(e => e.What == "stopped" && e.Service != "neutron-server"));
            double now = Heartbeats.Now();
            var rows = Heartbeats.ReadAll(cloud.Store);
            Assert.Equal(new[] { "listener", "publisher", "service" }, rows.Select(r => r.Table).Distinct().OrderBy(t => t));
            Assert.DoesNotContain(rows, r => r.IsAlive(now, DownTime));
            Assert.All(Status(cloud), s => Assert.Equal(ServiceState.Stopped, s.Value));
            Assert.Contains(progress, p => p.Activity == "Stopping the Neutron servers");
            Assert.Contains(progress, p => p.Activity == "Waiting for the NB heartbeats to stop");
        }

        [Fact]
        public void A_service_that_refuses_to_stop_fails_its_node_after_the_other_nodes_stopped()
        {
            var cloud = Cloud(44);
            AssertSucceeded(Plane().Start(cloud.Nodes, null, null));
            string stubborn = cloud.Nodes[2].Name;
            cloud.RefuseStop(stubborn, "df-local-controller");

            var outcome = Plane().Stop(cloud.Nodes, Check(cloud), null);

            Assert.False(outcome.Succeeded);
            var failed = Assert.Single(outcome.FailedNodes);
            Assert.Equal(stubborn, failed.Node.Name);
            Assert.Contains("exit code 2", failed.Error);
            Assert.Contains("still running 2 s after SIGTERM", failed.Error);
            var error = failed.ToException();
            Assert.Equal("NodeStopFailed", error.ErrorId);
            Assert.Same(failed.Node, error.TargetObject);
            Assert.All(outcome.Nodes.Where(n => n != failed), n => Assert.True(n.Succeeded));
            var status = Status(cloud);
            Assert.Equal(ServiceState.Running, status[(stubborn, "df-local-controller")]);
            Assert.Equal(ServiceState.Stopped, status[(stubborn, "df-metadata-service")]);
            Assert.All(status.Where(s => s.Key.Item1 != stubborn), s => Assert.Equal(ServiceState.Stopped, s.Value));
        }

        [Fact]
        public void A_node_that_is_down_fails_alone_and_is_not_retried_in_later_phases()
        {
            var cloud = Cloud(45, extraNode: $"{{\"Name\": \"down1\", \"Address\": \"{TestCloud.DownAddress}\", \"Roles\": [\"controller\"]}}");
            var outcome = Plane().Start(cloud.Nodes, null, null);

            var down = Assert.Single(outcome.FailedNodes);
            Assert.Equal("down1", down.Node.Name);
            Assert.Single(down.Failures);
            Assert.Contains("connection refused", down.Error);
            var error = down.ToException();
            Assert.Equal("NodeUnreachable", error.ErrorId); // the same id as for any other command, not NodeStartFailed
            Assert.Same(down.Node, error.TargetObject);
            Assert.Empty(down.Services);
            Assert.Equal(3, outcome.Nodes.Count(n => n.Succeeded));
        }

        [Fact]
        public void A_heartbeat_from_a_service_left_running_outside_the_inventory_fails_the_stop_naming_it()
        {
            var cloud = Cloud(46, nodes: 1);
            Assert.Equal(0, cloud.RunService("start", "stray1", "df-local-controller"));
            // Its first beat, before the stop: on a loaded machine the daemon may not have written one
            // yet, and a stop that finds no live heartbeat rightly succeeds.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!cloud.Events().Any(e => e.Node == "stray1" && e.What == "first-beat"))
            {
                Assert.True(DateTime.UtcNow < deadline, "the stray service wrote no heartbeat in 30 s");
                System.Threading.Thread.Sleep(50);
            }
            var outcome = Plane().Stop(cloud.Nodes, Check(cloud, timeout: 3), null);

            Assert.All(outcome.Nodes, n => Assert.True(n.Succeeded));
            Assert.False(outcome.Succeeded);
            Assert.Contains("df-local-controller on stray1", outcome.HeartbeatFailure);
            Assert.Equal("stray1", Assert.Single(outcome.HeartbeatsAtFault).Chassis);
        }

        [Fact]
        public void A_started_service_that_writes_no_heartbeat_fails_the_start_naming_it()
        {
            // The metadata service "starts" but never runs.
            var cloud = Cloud(47, nodes: 2, services: "{\"df-metadata-service\": {\"Start\": \"true\"}}");
            var outcome = Plane().Start(cloud.Nodes, Check(cloud, timeout: 3), null);

            Assert.All(outcome.Nodes, n => Assert.True(n.Succeeded));
            Assert.Contains("2 started Dragonflow service(s) wrote no new heartbeat", outcome.HeartbeatFailure);
            Assert.Contains($"df-metadata-service on {cloud.Nodes[0].Name}", outcome.HeartbeatFailure);
            Assert.Contains($"df-metadata-service on {cloud.Nodes[1].Name}", outcome.HeartbeatFailure);
            Assert.DoesNotContain("df-local-controller", outcome.HeartbeatFailure);
        }

        [Fact]
        public void Status_tells_running_stopped_failed_and_unknown_apart()
        {
            var cloud = Cloud(48, nodes: 2, extraNode: $"{{\"Name\": \"down1\", \"Address\": \"{TestCloud.DownAddress}\", \"Roles\": [\"compute\"]}}");
            string n1 = cloud.Nodes[0].Name, n2 = cloud.Nodes[1].Name;
            Assert.Equal(0, cloud.RunService("start", n2, "df-local-controller"));
            Assert.Equal(0, cloud.RunService("start", n2, "df-metadata-service"));
            int pid = int.Parse(System.IO.File.ReadAllText(System.IO.Path.Combine(cloud.ServiceDir, n2, "df-metadata-service.pid")).Trim());
            using (var p = System.Diagnostics.Process.GetProcessById(pid)) { p.Kill(); p.WaitForExit(); }

            var byNode = Plane().GetStatus(cloud.Nodes).ToDictionary(n => n.Node.Name);
            var status = byNode.Values.SelectMany(n => n.Services).ToDictionary(s => (s.Node.Name, s.Service.Name), s => s.Status);

            Assert.Equal(ServiceState.Stopped, status[(n1, "neutron-server")]);
            Assert.Equal(ServiceState.Running, status[(n2, "df-local-controller")]);
            Assert.Equal(ServiceState.Failed, status[(n2, "df-metadata-service")]);
            Assert.Equal(ServiceState.Unknown, status[("down1", "df-local-controller")]);
            Assert.IsType<NodeConnectionException>(byNode["down1"].Error);
            Assert.Null(byNode[n1].Error);
        }

        [Theory]
        [InlineData("active", 0, ServiceState.Running)]
        [InlineData("inactive", 3, ServiceState.Stopped)]
        [InlineData("failed", 3, ServiceState.Failed)]
        [InlineData("activating", 3, ServiceState.Unknown)]
        [InlineData("", 3, ServiceState.Stopped)]
        [InlineData("", 1, ServiceState.Failed)]
        [InlineData("", 4, ServiceState.Unknown)]
        public void A_status_command_is_read_as_systemctl_is_active_or_an_LSB_status(string output, int exit, ServiceState expected)
        {
            var r = new NodeCommandResult(null, "status", exit, output, "", TimeSpan.Zero, exit == 0 ? null : "failed");
            Assert.Equal(expected, ServiceStatusResult.Classify(r));
        }

        [Fact]
        public void Heartbeat_rows_are_read_in_Dragonflow_layout()
        {
            var cloud = Cloud(49, nodes: 1);
            NbEntry Row(string table, string id, string json) => new NbEntry(new NbKey(table, null, id), Encoding.UTF8.GetBytes(json));
            cloud.Store.Write(new[]
            {
                Row("service", "af881eb5-68e0-5bb2-a7ac-502080053716", "{\"binary\": \"df-local-controller\", \"chassis\": \"cmp1\", \"id\": \"af881eb5-68e0-5bb2-a7ac-502080053716\", \"last_seen_up\": 1500000000.25}"),
                Row("listener", "ctl1", "{\"id\": \"ctl1\", \"ppid\": 4242, \"timestamp\": 1500000001.5}"),
                Row("publisher", "p1", "{\"id\": \"p1\", \"uri\": \"tcp://10.0.0.1:8866\", \"last_activity_timestamp\": 1500000002}"),
                Row("chassis", "cmp1", "{\"id\": \"cmp1\", \"ip\": \"10.0.0.21\"}"),
            });
            var rows = Heartbeats.ReadAll(cloud.Store).ToDictionary(r => r.Table);
            Assert.Equal(3, rows.Count);
            Assert.Equal(("cmp1", "df-local-controller", 1500000000.25), (rows["service"].Chassis, rows["service"].Binary, rows["service"].LastSeen.Value));
            Assert.Equal(("ctl1", "neutron-server", 1500000001.5), (rows["listener"].Chassis, rows["listener"].Binary, rows["listener"].LastSeen.Value));
            Assert.Equal(1500000002, rows["publisher"].LastSeen);
            Assert.True(rows["listener"].IsAlive(1500000081.5, TimeSpan.FromSeconds(80)));
            Assert.False(rows["listener"].IsAlive(1500000081.6, TimeSpan.FromSeconds(80)));
        }

        [Fact]
        public void A_heartbeat_row_the_control_plane_check_refuses_counts_as_alive_naming_what_is_wrong()
        {
            string dir = Path.Combine(Path.GetTempPath(), "df-beats-" + Guid.NewGuid().ToString("N"));
            try
            {
                var store = new FileNbStore(Path.Combine(dir, "nb.jsonl"), create: true);
                NbEntry Row(string table, string id, string json) => new NbEntry(new NbKey(table, null, id), Encoding.UTF8.GetBytes(json));
                store.Write(new[]
                {
                    Row("service", "s1", "{\"binary\": \"df-local-controller\", \"chassis\": \"cmp1\", \"last_seen_up\": \"soon\"}"),
                    Row("service", "s2", "{\"binary\": \"df-l3-agent\", \"chassis\": \"cmp2\", \"last_seen_up\": 1e300}"),
                    Row("listener", "ctl1", "[1500000001]"),
                    Row("publisher", "p1", "{\"id\": \"p1\", \"last_activity_timestamp\": 1500000002}"),
                });
                var rows = Heartbeats.ReadAll(store).ToDictionary(r => r.Id);
                double later = 1500000002 + 3600;
                Assert.All(new[] { "s1", "s2", "ctl1" }, id => Assert.True(rows[id].IsAlive(later, TimeSpan.FromSeconds(80)), id));
                Assert.Contains("df-local-controller on cmp1 (its service row has last_seen_up \"soon\", which is not a time in epoch seconds)", rows["s1"].Describe(later));
                Assert.Contains("is not a JSON object", rows["ctl1"].Describe(later));
                Assert.Null(rows["p1"].Problem);
                Assert.Equal(1500000002, rows["p1"].LastSeen);
                Assert.False(rows["p1"].IsAlive(later, TimeSpan.FromSeconds(80)));
                var refused = Assert.Throws<HeartbeatInvalidException>(() => ControlPlaneCheck.FindLive(store, TimeSpan.FromSeconds(80)));
                Assert.Equal("s1", refused.Key.Id);
            }
            finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
        }

        sealed class Sync<T> : IProgress<T>
        {
            readonly Action<T> _report;
            public Sync(Action<T> report) { _report = report; }
            public void Report(T value) => _report(value);
        }
    }
}
