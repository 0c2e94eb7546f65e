using System;
using System.Globalization;
using System.Linq;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    [Collection(SafetyCollection.Name)]
    public class ControlPlaneCheckTests
    {
        static string Ago(double seconds) =>
            (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - seconds).ToString("R", CultureInfo.InvariantCulture);

        static NbEntry Service(string chassis, string binary, double secondsAgo) =>
            new NbEntry(new NbKey("service", null, chassis + binary),
                Safe.Json($"{{\"id\": \"{chassis + binary}\", \"chassis\": \"{chassis}\", \"binary\": \"{binary}\", \"last_seen_up\": {Ago(secondsAgo)}}}"));

        [Fact]
        public void Services_that_reported_within_service_down_time_are_alive()
        {
            string uri = Safe.NewRedis(new[]
            {
                Service("compute-1", "df-local-controller", 10),
                Service("compute-2", "df-local-controller", 200),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                var live = ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime);
                Assert.Equal("service df-local-controller on compute-1", Assert.Single(live).Description);
                Assert.Equal(2, ControlPlaneCheck.FindLive(store, TimeSpan.FromSeconds(300)).Count);
                Assert.Empty(ControlPlaneCheck.FindLive(store, TimeSpan.FromSeconds(5)));
            }
        }

        [Fact]
        public void A_fresh_neutron_listener_or_publisher_is_alive_and_a_stale_one_is_not()
        {
            string uri = Safe.NewRedis(new[]
            {
                new NbEntry(new NbKey("listener", "listener_ctl-1", "ctl-1"), Safe.Json($"{{\"id\": \"ctl-1\", \"timestamp\": {Ago(30)}, \"ppid\": 812}}")),
                new NbEntry(new NbKey("listener", "listener_ctl-2", "ctl-2"), Safe.Json($"{{\"id\": \"ctl-2\", \"timestamp\": {Ago(600)}, \"ppid\": 813}}")),
                new NbEntry(new NbKey("publisher", null, "pub-1"), Safe.Json($"{{\"id\": \"pub-1\", \"uri\": \"tcp://10.0.0.1:8866\", \"last_activity_timestamp\": {Ago(20)}}}")),
                new NbEntry(new NbKey("publisher", null, "pub-2"), Safe.Json($"{{\"id\": \"pub-2\", \"uri\": \"tcp://10.0.0.2:8866\", \"last_activity_timestamp\": {Ago(400)}}}")),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                var live = ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime).Select(l => l.Description).ToList();
                Assert.Equal(new[] { "Neutron server ctl-1 (process 812)", "publisher pub-1 (tcp://10.0.0.1:8866)" }, live);
            }
        }

        [Fact]
        public void A_publisher_silent_for_longer_than_service_down_time_is_not_alive()
        {
            // What Stop-DfControlPlane waits for: a migration right after it must not be refused.
            string uri = Safe.NewRedis(new[]
            {
                new NbEntry(new NbKey("publisher", null, "pub-1"), Safe.Json($"{{\"id\": \"pub-1\", \"last_activity_timestamp\": {Ago(100)}}}")),
            });
            using (var store = NbStoreFactory.Open(uri))
                Assert.Empty(ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime));
        }

        [Fact]
        public void A_live_control_plane_is_refused_by_name_unless_forced()
        {
            string uri = Safe.NewRedis(new[] { Service("compute-1", "df-l3-agent", 1) });
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<ControlPlaneAliveException>(() => ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, force: false, out _));
                Assert.Contains("df-l3-agent on compute-1", e.Message);
                Assert.Contains("-IgnoreLiveControlPlane", e.Message);
                Assert.Single(ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, force: true, out _));
            }
        }
    }
}
