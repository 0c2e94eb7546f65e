using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>The Redis Cluster tests share one key space: they run one at a time, each on an emptied cluster.</summary>
    [CollectionDefinition(Name)]
    public sealed class RedisClusterCollection
    {
        public const string Name = "RedisCluster";
    }

    /// <summary>The test Redis Cluster started by build.ps1 (DF_TEST_REDIS_CLUSTER, a redis-cluster:// URI of its six nodes).</summary>
    static class TestRedisCluster
    {
        public static string Uri =>
            Environment.GetEnvironmentVariable("DF_TEST_REDIS_CLUSTER")
            ?? throw new InvalidOperationException("DF_TEST_REDIS_CLUSTER is not set: run the tests through 'build.ps1 Test', which starts a Redis Cluster.");

        /// <summary>StackExchange.Redis's configuration for the cluster's nodes, admin commands allowed.</summary>
        public static string Configuration => string.Join(",", Uri.Substring(Uri.IndexOf("//", StringComparison.Ordinal) + 2).Split(',')) + ",allowAdmin=true";

        /// <summary>Empties every master and returns the cluster's URI.</summary>
        public static string NewDatabase()
        {
            using (var mux = ConnectionMultiplexer.Connect(Configuration))
                foreach (var server in mux.GetServers().Where(s => s.IsConnected && !s.IsReplica)) server.FlushAllDatabases();
            return Uri;
        }

        /// <summary>Sends the redis-server of the node on <paramref name="port"/> a signal (STOP, CONT).</summary>
        public static void Signal(int port, string signal)
        {
            string dir = Environment.GetEnvironmentVariable("DF_TEST_REDIS_CLUSTER_DIR")
                ?? throw new InvalidOperationException("DF_TEST_REDIS_CLUSTER_DIR is not set: run the tests through 'build.ps1 Test', which starts a Redis Cluster.");
            string pid = File.ReadAllText(Path.Combine(dir, port.ToString(CultureInfo.InvariantCulture), "node.pid")).Trim();
            using (var kill = Process.Start("kill", new[] { "-" + signal, pid }))
            {
                kill.WaitForExit();
                Assert.Equal(0, kill.ExitCode);
            }
        }

        /// <summary>Waits until every node says cluster_state:ok and none is marked failing.</summary>
        public static void WaitUntilOk() =>
            Safe.WaitUntil(() =>
            {
                using (var mux = ConnectionMultiplexer.Connect(Configuration))
                    return mux.GetServers().All(s => s.IsConnected && ((string)s.Execute("CLUSTER", "INFO")).Contains("cluster_state:ok") &&
                                                     s.ClusterNodes().Nodes.All(n => !n.IsFail && !n.IsPossiblyFail));
            }, "the Redis Cluster's cluster_state:ok on every node, none failing", 60);

        /// <summary>
        /// Moves <paramref name="slot"/> and its keys to the master at <paramref name="to"/> as redis-cli
        /// --cluster reshard does (IMPORTING, MIGRATING, MIGRATE, then SETSLOT NODE on every master);
        /// returns the master that served it.
        /// </summary>
        public static System.Net.EndPoint MoveSlot(int slot, System.Net.EndPoint to)
        {
            using (var mux = ConnectionMultiplexer.Connect(Configuration))
            {
                var nodes = mux.GetServer(to).ClusterNodes();
                var source = nodes.GetBySlot(slot);
                var target = nodes[to];
                if (source.EndPoint.Equals(to)) return to;
                var from = mux.GetServer(source.EndPoint);
                mux.GetServer(to).Execute("CLUSTER", "SETSLOT", slot, "IMPORTING", source.NodeId);
                from.Execute("CLUSTER", "SETSLOT", slot, "MIGRATING", target.NodeId);
                var host = (System.Net.IPEndPoint)to;
                while (true)
                {
                    var keys = (RedisResult[])from.Execute("CLUSTER", "GETKEYSINSLOT", slot, 1000);
                    if (keys.Length == 0) break;
                    var migrate = new object[] { host.Address.ToString(), host.Port, "", 0, 5000, "KEYS" }.Concat(keys.Select(k => (object)(string)k)).ToArray();
                    from.Execute("MIGRATE", migrate);
                }
                foreach (var master in mux.GetServers().Where(s => s.IsConnected && !s.IsReplica))
                    master.Execute("CLUSTER", "SETSLOT", slot, "NODE", target.NodeId);
                // Until every node, replicas too, tells the same masters, slots and epochs: the next store may open on any.
                string Masters(IServer server) => string.Join("\n", server.ClusterNodes().Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0)
                    .Select(n => { var f = n.Raw.Split(' '); return n.NodeId + " " + f[6] + " " + string.Join(",", n.Slots); }).OrderBy(l => l, StringComparer.Ordinal));
                Safe.WaitUntil(() => mux.GetServers().Where(s => s.IsConnected).Select(Masters).Distinct().Count() == 1, $"every node of the Redis Cluster to see slot {slot} moved", 30);
                return source.EndPoint;
            }
        }
    }

    /// <summary>
    /// The test Redis Cluster over TLS started by build.ps1: three masters and no replica
    /// (DF_TEST_REDIS_CLUSTER_TLS, its nodes' folders in DF_TEST_REDIS_CLUSTER_TLS_DIR), a client
    /// certificate optional, so that the netstandard build, which cannot offer one, connects too.
    /// Each node has an address of its own (127.0.0.2 to .4) and a certificate naming only that
    /// address; each also listens on 127.0.0.1, which its certificate does not name.
    /// </summary>
    static class TestRedisClusterTls
    {
        static string Env(string name) => Environment.GetEnvironmentVariable(name)
            ?? throw new InvalidOperationException($"{name} is not set: run the tests through 'build.ps1 Test', which starts the TLS Redis Cluster.");

        /// <summary>Its URI, with the test CA.</summary>
        public static string Uri => Env("DF_TEST_REDIS_CLUSTER_TLS") + TestTls.Query(client: false);

        /// <summary>Its nodes, each by the address its certificate names.</summary>
        public static (string Host, int Port)[] Nodes =>
            Env("DF_TEST_REDIS_CLUSTER_TLS").Substring(Env("DF_TEST_REDIS_CLUSTER_TLS").IndexOf("//", StringComparison.Ordinal) + 2).Split(',')
                .Select(n => (n.Split(':')[0], int.Parse(n.Split(':')[1], CultureInfo.InvariantCulture))).ToArray();

        public static int[] Ports => Nodes.Select(n => n.Port).ToArray();

        /// <summary>The address of the node on <paramref name="port"/>.</summary>
        public static string Host(int port) => Nodes.Single(n => n.Port == port).Host;

        /// <summary>Empties it (every node is a master) and returns its URI.</summary>
        public static string NewDatabase()
        {
            foreach (int port in Ports) Assert.Equal("OK", Cli(port, "FLUSHALL"));
            return Uri;
        }

        /// <summary>What redis-cli answers the node on <paramref name="port"/>, trimmed.</summary>
        public static string Cli(int port, params string[] command)
        {
            var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--tls", "--cacert", TestTls.File("ca.pem"), "-h", Host(port), "-p", port.ToString(CultureInfo.InvariantCulture) }.Concat(command))
                start.ArgumentList.Add(a);
            using (var cli = Process.Start(start))
            {
                string answer = cli.StandardOutput.ReadToEnd();
                cli.WaitForExit();
                return answer.Trim();
            }
        }

        /// <summary>Sends the node's redis-server a signal (STOP, CONT).</summary>
        public static void Signal(int port, string signal)
        {
            string pid = File.ReadAllText(Path.Combine(Env("DF_TEST_REDIS_CLUSTER_TLS_DIR"), port.ToString(CultureInfo.InvariantCulture), "node.pid")).Trim();
            using (var kill = Process.Start("kill", new[] { "-" + signal, pid }))
            {
                kill.WaitForExit();
                Assert.Equal(0, kill.ExitCode);
            }
        }

        /// <summary>Waits until every node says cluster_state:ok.</summary>
        public static void WaitUntilOk() =>
            Safe.WaitUntil(() => Ports.All(p => Cli(p, "CLUSTER", "INFO").Contains("cluster_state:ok")), "the TLS Redis Cluster's cluster_state:ok on every node", 60);
    }
}
