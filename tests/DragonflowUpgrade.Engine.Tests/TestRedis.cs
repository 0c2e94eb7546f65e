using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>The test Redis started by build.ps1 (DF_TEST_REDIS): each test gets a database of its own, emptied.</summary>
    static class TestRedis
    {
        static int _next = -1;
        const int FirstDatabase = 100;
        const int Databases = 1024;   // redis.server.ps1 starts redis-server with --databases 1024

        public static string Endpoint =>
            Environment.GetEnvironmentVariable("DF_TEST_REDIS")
            ?? throw new InvalidOperationException("DF_TEST_REDIS is not set: run the tests through 'build.ps1 Test', which starts redis-server.");

        /// <summary>
        /// A fresh database and its URI: each call a database of its own (100 and up; the Pester
        /// and remote tests use those below), never handed out twice in a run, so that test
        /// classes running in parallel cannot empty each other's.
        /// </summary>
        public static string NewDatabase()
        {
            int db = FirstDatabase + Interlocked.Increment(ref _next);
            if (db >= Databases) throw new InvalidOperationException($"The test Redis has {Databases} databases and the tests asked for more: raise --databases in tests/servers/redis.server.ps1 and {nameof(Databases)}.");
            using (var mux = ConnectionMultiplexer.Connect(Endpoint + ",allowAdmin=true"))
                mux.GetServer(Endpoint).FlushDatabase(db);
            return $"redis://{Endpoint}/{db}";
        }

        public static ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect(Endpoint + ",allowAdmin=true");

        public static int DbOf(string uri) => int.Parse(uri.Substring(uri.LastIndexOf('/') + 1));

        /// <summary>
        /// The names of the commands (upper case) that <paramref name="act"/> sends to the database at
        /// <paramref name="uri"/>, as Redis's MONITOR reports them; commands of other databases are left out.
        /// </summary>
        public static List<string> CommandsSent(string uri, Action act)
        {
            int db = DbOf(uri);
            var hostPort = Endpoint.Split(':');
            using (var client = new TcpClient(hostPort[0], int.Parse(hostPort[1])))
            using (var stream = client.GetStream())
            using (var reader = new StreamReader(stream, new UTF8Encoding(false)))
            {
                var monitor = Encoding.ASCII.GetBytes("MONITOR\r\n");
                stream.Write(monitor, 0, monitor.Length);
                if (reader.ReadLine() != "+OK") throw new InvalidOperationException("Redis refused MONITOR.");
                act();
                // MONITOR reports commands in the order the server ran them: a last one of our own ends the list.
                string end = "commands-seen-" + Guid.NewGuid().ToString("N");
                using (var mux = Connect()) mux.GetDatabase(db).StringGet(end);
                var names = new List<string>();
                string tag = $"[{db} ";
                while (true)
                {
                    string line = reader.ReadLine() ?? throw new InvalidOperationException("Redis closed the MONITOR connection.");
                    int at = line.IndexOf(tag, StringComparison.Ordinal);
                    if (at < 0) continue;
                    if (line.Contains(end)) return names;
                    int name = line.IndexOf("] \"", at, StringComparison.Ordinal) + 3;
                    names.Add(line.Substring(name, line.IndexOf('"', name) - name).ToUpperInvariant());
                }
            }
        }

        /// <summary>
        /// How many keys of the database at <paramref name="uri"/> <paramref name="write"/> sets or
        /// deletes (a multi-key MSET or DEL counts each key), as Redis's keyspace events report them.
        /// </summary>
        public static long KeysWritten(string uri, Action write)
        {
            int db = DbOf(uri);
            using (var mux = Connect())
            {
                mux.GetServer(Endpoint).ConfigSet("notify-keyspace-events", "Eg$");
                var events = mux.GetSubscriber().Subscribe(new RedisChannel($"__keyevent@{db}__:*", RedisChannel.PatternMode.Pattern));
                write();
                // Events arrive in the order the server ran the commands: a last write of our own ends the count.
                string end = "writes-counted-" + Guid.NewGuid();
                mux.GetDatabase(db).StringSet(end, "");
                long n = 0;
                while (true)
                {
                    var read = events.ReadAsync().AsTask();
                    if (!read.Wait(TimeSpan.FromSeconds(10))) throw new TimeoutException("Redis did not report the keyspace events of the writes within 10 s.");
                    if (read.Result.Message == end) break;
                    n++;
                }
                events.Unsubscribe();
                mux.GetDatabase(db).KeyDelete(end);
                return n;
            }
        }
    }
}
