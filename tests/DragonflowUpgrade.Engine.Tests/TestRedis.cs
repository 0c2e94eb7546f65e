using System;
using System.Threading;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>The test Redis started by build.ps1 (DF_TEST_REDIS): each test gets a database of its own, emptied.</summary>
    static class TestRedis
    {
        static int _next = -1;

        public static string Endpoint =>
            Environment.GetEnvironmentVariable("DF_TEST_REDIS")
            ?? throw new InvalidOperationException("DF_TEST_REDIS is not set: run the tests through 'build.ps1 Test', which starts redis-server.");

        /// <summary>A fresh database (0..39; the remote tests use 40 and up) and its URI.</summary>
        public static string NewDatabase()
        {
            int db = Interlocked.Increment(ref _next) % 40;
            using (var mux = ConnectionMultiplexer.Connect(Endpoint + ",allowAdmin=true"))
                mux.GetServer(Endpoint).FlushDatabase(db);
            return $"redis://{Endpoint}/{db}";
        }

        public static ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect(Endpoint + ",allowAdmin=true");

        public static int DbOf(string uri) => int.Parse(uri.Substring(uri.LastIndexOf('/') + 1));

        /// <summary>How many SET and DEL commands the server has executed since the last reset.</summary>
        public static long Writes(ConnectionMultiplexer mux)
        {
            long n = 0;
            foreach (var group in mux.GetServer(Endpoint).Info("commandstats"))
                foreach (var kv in group)
                    if (kv.Key == "cmdstat_set" || kv.Key == "cmdstat_del")
                        n += long.Parse(kv.Value.Split(',')[0].Split('=')[1]);
            return n;
        }
    }
}
