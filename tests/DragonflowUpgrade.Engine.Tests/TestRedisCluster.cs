using System;
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
    }
}
