using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// The safety tests write a lot and count nothing server-wide; they run on their own, after
    /// the parallel tests, so that they never disturb another test's count of Redis writes.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class SafetyCollection
    {
        public const string Name = "Safety";
    }

    static class Safe
    {
        /// <summary>A migration that adds one to every port's version: each port is an update.</summary>
        public static Migration Bump => new Migration("bump", "queens", "test bump", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:bump", nb =>
        {
            foreach (var port in nb.GetAll("lport").ToList())
            {
                port["version"] = (long)port["version"] + 1;
                nb.Update("lport", port);
            }
        });

        /// <summary><see cref="Bump"/>, and deletes p00010 and creates lswitch s-new: puts, a delete and a create.</summary>
        public static Migration BumpAndDelete => new Migration("bump", "queens", "test bump", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:bump", nb =>
        {
            foreach (var port in nb.GetAll("lport").ToList())
            {
                if ((string)port["id"] == "p00010") { nb.Delete("lport", "p00010"); continue; }
                port["version"] = (long)port["version"] + 1;
                nb.Update("lport", port);
            }
            nb.Create("lswitch", new NbObject { ["id"] = "s-new", ["topic"] = "t0", ["version"] = 1 });
        });

        public static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        /// <summary>A switch per 100 ports, each port in its switch's topic.</summary>
        public static List<NbEntry> Ports(int count) =>
            Enumerable.Range(0, count).Select(i => new NbEntry(new NbKey("lport", "t" + (i % 7), $"p{i:D5}"),
                    Json($"{{\"id\": \"p{i:D5}\", \"topic\": \"t{i % 7}\", \"lswitch\": \"s{i / 100}\", \"version\": 1}}")))
                .Concat(Enumerable.Range(0, (count + 99) / 100).Select(s => new NbEntry(new NbKey("lswitch", "t0", $"s{s}"),
                    Json($"{{\"id\": \"s{s}\", \"topic\": \"t0\", \"version\": 1}}"))))
                .ToList();

        public static string NewRedis(IReadOnlyCollection<NbEntry> content) => NewDatabase("redis", content);

        /// <summary>
        /// The stores the safety cases run on, one case per store: the embedded file and the test servers. What
        /// differs between them (the lock's place, the batch size, whether the journal is kept in the database)
        /// each store says through its <see cref="NbStoreParts"/>. (The TLS Redis Cluster would add some 35 s
        /// to a test run, both builds: its safety is the plain cluster's code, and it is in <see cref="StoresAndTls"/>.)
        /// </summary>
        public static TheoryData<string> Stores => new TheoryData<string> { "file", "redis", "redis-cluster", "etcd", "etcd-cluster" };

        /// <summary>
        /// <see cref="Stores"/> and the TLS test servers, for what every store does alike. The TLS Redis and etcd
        /// ask for a client certificate, which Windows PowerShell's build cannot give: they are left out of its run.
        /// </summary>
        public static TheoryData<string> StoresAndTls
        {
            get
            {
                var stores = Stores;
                stores.Add("rediss-cluster");
#if !ENGINE_NETSTANDARD
                stores.Add("rediss");
                stores.Add("etcds");
#endif
                return stores;
            }
        }

        /// <summary>The stores of <see cref="StoresAndTls"/> that are servers reached over the network.</summary>
        public static TheoryData<string> Servers
        {
            get
            {
                var servers = new TheoryData<string>();
                foreach (string store in StoresAndTls)
                    if (store != "file") servers.Add(store);
                return servers;
            }
        }

        /// <summary>An emptied database of the test server of <paramref name="kind"/> (one of <see cref="StoresAndTls"/>) holding <paramref name="content"/>.</summary>
        public static string NewDatabase(string kind, IReadOnlyCollection<NbEntry> content)
        {
            string uri;
            switch (kind)
            {
                case "file":
                    uri = TempFile("nb.jsonl");
                    File.WriteAllText(uri, "");   // an empty database
                    break;
                case "redis": uri = TestRedis.NewDatabase(); break;
                case "redis-cluster": uri = TestRedisCluster.NewDatabase(); break;
                case "rediss-cluster": uri = TestRedisClusterTls.NewDatabase(); break;
                case "rediss": uri = TestTls.NewRedisDatabase() + TestTls.Query(); break;
                case "etcds":
                    uri = $"etcds://{TestTls.Etcd}{TestTls.Query()}";
                    using (var store = NbStoreFactory.Open(uri)) store.Write(store.Read().Select(e => NbEntry.Delete(e.Key)).ToList());
                    break;
                case "etcd": uri = TestEtcd.NewDatabase(); break;
                case "etcd-cluster": uri = TestEtcdCluster.NewDatabase(); break;
                default: throw new ArgumentException($"No test store '{kind}'.", nameof(kind));
            }
            using (var store = NbStoreFactory.Open(uri)) store.Write(content);
            return uri;
        }

        /// <summary>Waits until <paramref name="condition"/> holds, polling; fails naming <paramref name="what"/> after <paramref name="seconds"/>.</summary>
        public static void WaitUntil(Func<bool> condition, string what, double seconds = 30)
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {seconds} s for {what}.");
                System.Threading.Thread.Sleep(20);
            }
        }

        /// <summary>A run holding the upgrade lock of <paramref name="uri"/> refuses a second, naming itself.</summary>
        public static void SecondRunIsRefused(string uri)
        {
            using (var store = NbStoreFactory.Open(uri))
            using (UpgradeLock.Acquire(store, "Invoke-DfMigration"))
            {
                var e = Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(store, "Restore-DfNbDatabase"));
                Assert.Contains($"process {Process.GetCurrentProcess().Id}", e.Message);
                Assert.Contains(Environment.MachineName, e.Message);
                Assert.Contains("Invoke-DfMigration", e.Message);
                Assert.Contains(store.Location, e.Message);
            }
        }

        /// <summary>Every NB object (the module's own tables left out) with its stored bytes, by key.</summary>
        public static SortedDictionary<string, string> Dump(INbStore store) =>
            new SortedDictionary<string, string>(store.Read().Where(e => !ModuleTables.IsModuleTable(e.Key.Table))
                .ToDictionary(e => e.Key.ToString(), e => Convert.ToBase64String(e.Value.Span)), StringComparer.Ordinal);

        public static SortedDictionary<string, string> Dump(string uri)
        {
            using (var store = NbStoreFactory.Open(uri)) return Dump(store);
        }

        /// <summary>How many of the writes the database holds (that differ from the original); fails when a key (not skipped) holds neither the original nor the write.</summary>
        public static int Written(SortedDictionary<string, string> original, IEnumerable<NbEntry> writes, SortedDictionary<string, string> now, params string[] skip)
        {
            var w = writes.ToDictionary(e => e.Key.ToString(), e => e.IsDelete ? null : Convert.ToBase64String(e.Value.Span));
            int n = 0;
            foreach (var key in original.Keys.Union(w.Keys).Where(k => !skip.Contains(k)))
            {
                now.TryGetValue(key, out var value);
                original.TryGetValue(key, out var old);
                bool isNew = w.TryGetValue(key, out var mine) && value == mine;
                Assert.True(isNew || value == old, $"{key} holds neither the original nor the write");
                if (isNew && value != old) n++;
            }
            return n;
        }

        /// <summary>Keys of one of the module's own tables.</summary>
        public static List<NbKey> ModuleKeys(string uri, string table)
        {
            using (var store = NbStoreFactory.Open(uri)) return store.ReadKeys(table).ToList();
        }

        // The tests' backups and journals, removed when the test run ends.
        static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "df-safety-tests-" + Guid.NewGuid().ToString("N"));

        static Safe()
        {
            AppDomain.CurrentDomain.ProcessExit += (_, __) =>
            {
                try { Directory.Delete(TempRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            };
        }

        public static string TempFile(string name)
        {
            string dir = Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            return Path.Combine(dir, name);
        }
    }
}
