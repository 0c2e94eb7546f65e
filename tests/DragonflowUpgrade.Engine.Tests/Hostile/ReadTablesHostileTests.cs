using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>Hostile inputs to NbJson.TopicOf (no server).</summary>
    public class TopicOfHostileTests
    {
        readonly ITestOutputHelper _out;
        public TopicOfHostileTests(ITestOutputHelper output) { _out = output; }

        static byte[] B(string ascii, params byte[] tail) => Encoding.UTF8.GetBytes(ascii).Concat(tail).ToArray();
        static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

        static string? ParseTopic(byte[] v, out bool parsed)
        {
            try { parsed = true; return (NbJson.Parse(v) as NbObject)?["topic"] as string; }
            catch (FormatException) { parsed = false; return null; }
        }

        static IEnumerable<byte[]> Crafted()
        {
            string deep(int n) => new string('[', n) + new string(']', n);
            yield return B("{\"\\ud800\": 1, \"topic\": \"t\"}");
            yield return B("{\"\\udc00\": 1, \"topic\": \"t\"}");
            yield return B("{\"topic\": \"\\ud800\"}");
            yield return B("{\"topic\": \"a\\udc00b\"}");
            yield return B("{\"topic\": \"\\ud800\\ud800\"}");
            yield return B("{\"topic\": \"\\udbff\\udfff\"}");
            yield return B("{\"\\ud800\": 1, \"topic\": \"a\", \"topic\": \"b\"}");
            yield return B("{\"topic\": \"\\ud800\", \"topic\": \"b\"}");
            yield return B("{\"topic\": \"b\", \"topic\": \"\\ud800\"}");
            yield return B("{\"\\ud8\": 1, \"topic\": \"t\"}");
            yield return B("{\"\\ud800\": 1, \"topic\": \"t\"");
            yield return B("{\"\\ud800\": 1, \"topic\": \"t\"}x");
            yield return B("{\"\\ud800\": " + deep(63) + ", \"topic\": \"t\"}");
            yield return B("{\"\\ud800\": " + deep(64) + ", \"topic\": \"t\"}");
            yield return B("{\"\\ud800\": " + deep(10000) + ", \"topic\": \"t\"}");
            yield return B("{\"a\": " + deep(63) + ", \"topic\": \"t\"}");
            yield return B("{\"a\": " + deep(64) + ", \"topic\": \"t\"}");
            yield return Cat(B("{\""), new byte[] { 0xff }, B("\": 1, \"topic\": \"t\"}"));
            yield return Cat(B("{\""), new byte[] { 0xc0, 0x80 }, B("\": 1, \"topic\": \"t\"}"));
            yield return Cat(B("{\"topic\": \""), new byte[] { 0xc0 }, B("\"}"));
            yield return Cat(B("{\"topic\": \""), new byte[] { 0xed, 0xa0, 0x80 }, B("\"}"));
            yield return Cat(B("{\"topic\": \"\\ud800"), new byte[] { 0xff }, B("\"}"));
            yield return Cat(B("{\"\\ud800\": \""), new byte[] { 0xff }, B("\", \"topic\": \"t\"}"));
            yield return B("{\"\\u0074opic\": \"\\ud800x\"}");
            yield return B("{\"topic\\ud800\": \"x\", \"topic\": \"t\"}");
            yield return B("{\"\\ud800\": 1, \"topic\": \"\\u00e9\\ud800\"}");
            yield return B("{\"\\ud800\": 1, \"topic\": null}");
            yield return B("{\"\\ud800\": 1, \"topic\": 5}");
            yield return B("{\"\\ud800\": 1}");
            yield return B("[\"\\ud800\", {\"topic\": \"t\"}]");
            yield return B("{\"\\ud800\": 1, \"topic\": \"t\", }");
            yield return B("{\"\\ud800\": 1, /*c*/ \"topic\": \"t\"}");
            yield return Cat(new byte[] { 0xef, 0xbb, 0xbf }, B("{\"\\ud800\": 1, \"topic\": \"t\"}"));
            yield return B("{\"\\ud800\": 1, \"topic\": \"t\"}\n");
            yield return B("{\"\\ud800\": 1e999999, \"topic\": \"t\"}");
            yield return B("{\"\\ud800\": " + new string('9', 5000) + ", \"topic\": \"t\"}");
            yield return B("{\"\\ud800\": 1, \"topic\": \"t\\u0000\"}");
        }

        [Fact]
        public void TopicOf_never_throws_and_agrees_with_the_json_reader_wherever_that_reads_the_value()
        {
            var problems = new List<string>();
            void Check(byte[] v)
            {
                string? got;
                try { got = NbJson.TopicOf(v); }
                catch (Exception e) { problems.Add($"{Show(v)}: threw {e.GetType().Name}: {e.Message}"); return; }
                string? want = ParseTopic(v, out bool parsed);
                if (parsed && got != want) problems.Add($"{Show(v)}: TopicOf {Show(got)}, Parse {Show(want)}");
                if (!parsed && got != null) _out.WriteLine($"note: {Show(v)}: TopicOf {Show(got)} though Parse refuses it");
            }
            foreach (var v in Crafted()) Check(v);
            // Random mutations of a few templates.
            var rng = new Random(35);
            string[] templates =
            {
                "{\"id\": \"x\", \"topic\": \"t1\", \"n\": [1, {\"a\": \"b\"}]}",
                "{\"a\\u00e9\": \"v\", \"topic\": \"t\\u00e9\"}",
                "{\"topic\": \"tt\", \"topic2\": \"x\"}",
            };
            string[] inserts = { "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u", "\\", "\"", "\u00e9", "{", "[", "]", "}", ",", ":", "\\ud800\\u0041" };
            byte[][] rawInserts = { new byte[] { 0xff }, new byte[] { 0xc0 }, new byte[] { 0xc3 }, new byte[] { 0xed, 0xa0, 0x80 }, new byte[] { 0 } };
            for (int n = 0; n < 20000; n++)
            {
                var v = Encoding.UTF8.GetBytes(templates[rng.Next(templates.Length)]).ToList();
                int edits = 1 + rng.Next(3);
                for (int k = 0; k < edits; k++)
                {
                    int at = rng.Next(v.Count + 1);
                    switch (rng.Next(3))
                    {
                        case 0: v.InsertRange(at, Encoding.UTF8.GetBytes(inserts[rng.Next(inserts.Length)])); break;
                        case 1: v.InsertRange(at, rawInserts[rng.Next(rawInserts.Length)]); break;
                        default: if (at < v.Count) v.RemoveAt(at); break;
                    }
                }
                Check(v.ToArray());
            }
            foreach (var p in problems.Distinct().Take(40)) _out.WriteLine(p);
            Assert.True(problems.Count == 0, $"{problems.Count} problem(s), first: {problems.FirstOrDefault()}");
        }

        static string Show(byte[] v) => string.Concat(v.Select(b => b >= 0x20 && b < 0x7f ? ((char)b).ToString() : $"<{b:x2}>"));
        static string Show(string? s) => s == null ? "null" : "\"" + string.Concat(s.Select(c => c >= 0x20 && c < 0x7f ? c.ToString() : $"\\u{(int)c:x4}")) + "\"";
    }

    /// <summary>INbStore.ReadTables and the heartbeat check on hostile key spaces, and a run's backup while its migrations change the snapshot.</summary>
    [Collection(SafetyCollection.Name)]
    public class ReadTablesHostileTests
    {
        readonly ITestOutputHelper _out;
        public ReadTablesHostileTests(ITestOutputHelper output) { _out = output; }

        internal static string Now(double ago = 5) => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - ago).ToString("R", CultureInfo.InvariantCulture);

        static void MSet(IDatabase db, IEnumerable<KeyValuePair<RedisKey, RedisValue>> pairs)
        {
            foreach (var chunk in pairs.Select((p, i) => (p, i)).GroupBy(x => x.i / 1000)) db.StringSet(chunk.Select(x => x.p).ToArray());
        }

        [Fact]
        public void Random_sets_of_odd_tables_read_together_are_the_union_of_their_reads_alone()
        {
            string uri = TestRedis.NewDatabase();
            var rng = new Random(3535);
            string alphabet = "ab*?[]^-\\!_A\u00e9 \u0001x";
            var tables = new HashSet<string>(StringComparer.Ordinal);
            while (tables.Count < 60)
            {
                int len = 1 + rng.Next(4);
                tables.Add(new string(Enumerable.Range(0, len).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray()));
            }
            foreach (var t in new[] { "service", "services", "listener", "publisher", "lervice", "pub", "serv" }) tables.Add(t);
            var list = tables.ToList();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                var pairs = new List<KeyValuePair<RedisKey, RedisValue>>();
                foreach (var t in list)
                {
                    pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{" + t + ".}.q1", "{\"id\": \"q1\"}"));
                    pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{" + t + ".top}.q2", "{\"id\": \"q2\", \"topic\": \"top\"}"));
                }
                MSet(db, pairs);
            }
            using (var store = NbStoreFactory.Open(uri))
            {
                var failures = new List<string>();
                for (int n = 0; n < 150; n++)
                {
                    var set = list.OrderBy(_ => rng.Next()).Take(2 + rng.Next(4)).ToList();
                    var each = set.SelectMany(t => store.Read(t)).Select(e => e.Key.ToString()).OrderBy(k => k, StringComparer.Ordinal).ToList();
                    var together = store.ReadTables(set).Select(e => e.Key.ToString()).OrderBy(k => k, StringComparer.Ordinal).ToList();
                    if (each.Count != 2 * set.Count || !each.SequenceEqual(together))
                        failures.Add($"[{string.Join(" | ", set)}] pattern {RedisKeys.Pattern(set)}: alone {each.Count}, together {together.Count}");
                }
                foreach (var f in failures.Take(20)) _out.WriteLine(f);
                Assert.Empty(failures);
            }
        }

        [Theory]
        [InlineData("redis")]
        [InlineData("redis-cluster")]
        [InlineData("etcd")]
        [InlineData("file")]
        public void A_list_of_no_tables_one_table_twice_or_a_null_is_read_alike_on_every_store_and_leaves_it_usable(string kind)
        {
            var s1 = new[] { new NbEntry(new NbKey("service", null, "s1"), Safe.Json("{\"id\": \"s1\"}")) };
            using (var store = NbStoreFactory.Open(Safe.NewDatabase(kind, s1)))
            {
                Assert.Empty(store.ReadTables(Array.Empty<string>()));
                Assert.Single(store.ReadTables(new[] { "service", "service" }));
                // Refused at the call, not when the objects are asked for.
                Assert.Contains("null or empty", Assert.Throws<ArgumentException>(() => store.ReadTables(new[] { "service", null! })).Message);
                Assert.Throws<ArgumentException>(() => store.ReadTables(new[] { "" }));
                Assert.Single(store.Read("service"));
                store.Write(s1);
                // An id with '/' is not of a table whose name holds the id's start (etcd's key: /service/x/1).
                store.Write(new[] { new NbEntry(new NbKey("service", null, "x/1"), Safe.Json("{\"id\": \"x/1\"}")) });
                Assert.Empty(store.Read("service/x"));
                Assert.Equal(new[] { "s1", "x/1" }, store.ReadTables(new[] { "service", "service/x" }).Select(e => e.Key.Id).OrderBy(i => i, StringComparer.Ordinal));
            }
        }

        [Fact]
        public void A_live_heartbeat_row_among_many_scan_pages_of_keys_the_pattern_matches_is_seen()
        {
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                var pairs = new List<KeyValuePair<RedisKey, RedisValue>>();
                // Keys the pattern matches of other tables, and non-NB keys.
                for (int i = 0; i < 6000; i++) pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{lervice.t}.n" + i, "{}"));
                for (int i = 0; i < 3000; i++) pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{servicesh.}n" + i, "{}"));
                for (int i = 0; i < 3000; i++) pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{service.no-close" + i, "x"));
                // Dead rows of every heartbeat table, both layouts.
                for (int i = 0; i < 2000; i++)
                {
                    pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{service.}.d" + i, "{\"id\": \"d" + i + "\", \"last_seen_up\": 1000}"));
                    pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{listener.h" + (i % 7) + "}d" + i, "{\"id\": \"d" + i + "\", \"timestamp\": 1000}"));
                    pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{publisher.}.d" + i, "{\"id\": \"d" + i + "\", \"last_activity_timestamp\": 1000}"));
                }
                MSet(db, pairs);
                db.StringSet("{publisher.}live-p", "{\"id\": \"live-p\", \"last_activity_timestamp\": " + Now() + "}");
                db.StringSet("{listener.host-9}.live-l", "{\"id\": \"live-l\", \"timestamp\": " + Now() + "}");
                db.StringSet("{service.}.live-s", "{\"id\": \"live-s\", \"last_seen_up\": " + Now() + "}");
            }
            using (var store = NbStoreFactory.Open(uri))
            {
                var live = ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime).Select(l => l.Table + "/" + l.Id).OrderBy(x => x).ToList();
                Assert.Equal(new[] { "listener/live-l", "publisher/live-p", "service/live-s" }, live);
                var rows = ControlPlaneCheck.HeartbeatRows(store);
                Assert.Equal(2001, rows["service"].Count());
                Assert.Equal(2001, rows["listener"].Count());
                Assert.Equal(2001, rows["publisher"].Count());
                Assert.Throws<ControlPlaneAliveException>(() => ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, false, out _));
            }
        }

        [Fact]
        public void A_live_row_next_to_a_heartbeat_row_that_cannot_be_read_still_stops_the_run()
        {
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                db.StringSet("{service.}.bad", "{\"id\": \"bad\", \"last_seen_up\": \"soon\"}");
                db.StringSet("{publisher.}.live-p", "{\"id\": \"live-p\", \"last_activity_timestamp\": " + Now() + "}");
            }
            using (var store = NbStoreFactory.Open(uri))
            {
                // Forced past the row whose time cannot be read, the live one is still seen.
                var live = ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, true, out var unreadable);
                Assert.Equal(new[] { "live-p" }, live.Select(l => l.Id));
                Assert.Contains("service row 'bad'", unreadable!.Message);
                Assert.Contains("live-p", Assert.Throws<ControlPlaneAliveException>(() => ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, false, out _)).Message);
            }
            // A value that is not JSON, and a key of another type, are refused by the read itself.
            using (var mux = TestRedis.Connect())
                mux.GetDatabase(TestRedis.DbOf(uri)).StringSet("{listener.}.bad", "not json");
            using (var store = NbStoreFactory.Open(uri))
                Assert.Contains("listener/bad", Assert.Throws<NbValueInvalidException>(() => ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, true, out _)).Message);
            using (var mux = TestRedis.Connect())
                mux.GetDatabase(TestRedis.DbOf(uri)).HashSet("{listener.}.hash", "a", "b");
            using (var store = NbStoreFactory.Open(uri))
                Assert.Throws<NbKeyException>(() => ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, true, out _));
        }

        [Fact]
        public void Heartbeat_rows_written_and_deleted_during_the_scan_leave_a_row_present_throughout_seen()
        {
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                var pairs = new List<KeyValuePair<RedisKey, RedisValue>>();
                for (int i = 0; i < 20000; i++) pairs.Add(new KeyValuePair<RedisKey, RedisValue>("{servicx.}.n" + i, "{}"));
                MSet(db, pairs);
                db.StringSet("{publisher.}.live-p", "{\"id\": \"live-p\", \"last_activity_timestamp\": " + Now() + "}");
                using (var store = NbStoreFactory.Open(uri))
                {
                    var stop = false;
                    var churn = System.Threading.Tasks.Task.Run(() =>
                    {
                        int k = 0;
                        while (!System.Threading.Volatile.Read(ref stop))
                        {
                            db.StringSet("{service.}.churn" + (k % 500), "{\"id\": \"churn\", \"last_seen_up\": 1000}");
                            db.KeyDelete("{service.}.churn" + ((k + 250) % 500));
                            db.StringSet("{publisher.}.live-p", "{\"id\": \"live-p\", \"last_activity_timestamp\": " + Now() + "}");
                            k++;
                            System.Threading.Thread.Sleep(1);  // a writer beside the check, not one that takes a core
                        }
                    });
                    try
                    {
                        for (int n = 0; n < 15; n++)
                        {
                            var live = ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime);
                            Assert.Contains(live, l => l.Id == "live-p");
                        }
                    }
                    finally
                    {
                        stop = true;
                        churn.Wait();
                    }
                }
            }
        }

        static Migration Churn(string id, string release, string proposedAt) =>
            new Migration(id, release, "test " + id, Migration.ParseUtc(proposedAt).Value, null, null, "test:" + id, nb =>
            {
                int n = 0;
                foreach (var port in nb.GetAll("lport").ToList())
                {
                    string pid = (string)port["id"]!;
                    switch (n++ % 4)
                    {
                        case 0: nb.Delete("lport", pid); break;
                        case 1: port["version"] = (long)port["version"]! + 1; nb.Update("lport", port); break;
                        case 2: port["topic"] = "moved"; nb.Update("lport", port); break;
                        default: break;
                    }
                }
                for (int i = 0; i < 5000; i++)
                {
                    var o = new NbObject();
                    o["id"] = "new" + i;
                    o["topic"] = "t" + (i % 5);
                    o["version"] = 1L;
                    nb.Create("lport", o);
                }
                // Delete some just created and recreate a deleted original.
                for (int i = 0; i < 1500; i++) nb.Delete("lport", "new" + i);
                var back = new NbObject();
                back["id"] = "p0000";
                back["topic"] = "t0";
                back["version"] = 99L;
                nb.Create("lport", back);
            });

        [Fact]
        public void A_runs_backup_holds_exactly_the_database_as_read_while_migrations_create_thousands()
        {
            var content = Enumerable.Range(0, 3000)
                .Select(i => new NbEntry(new NbKey("lport", "t" + (i % 3), $"p{i:D4}"),
                    Safe.Json($"{{\"id\": \"p{i:D4}\", \"topic\": \"t{i % 3}\", \"version\": {i}, \"s\": \"\\u00e9{new string('x', i % 50)}\"}}"))).ToList();
            foreach (string kind in new[] { "redis", "etcd" })
            {
                string uri = Safe.NewDatabase(kind, content);
                var before = Safe.Dump(uri);
                string backupPath = Safe.TempFile("backup.jsonl.gz");
                using (var store = NbStoreFactory.Open(uri))
                {
                    var migrator = new Migrator(store, new MigrationCatalog(new[]
                    {
                        Churn("pike-churn", "pike", "2017-03-01T00:00:00Z"),
                        Churn2("queens-churn", "queens", "2017-09-01T00:00:00Z"),
                    }));
                    using (var plan = NbRun.PlanMigration(store, migrator, new MigrationRunRequest { BackupPath = backupPath },
                        new GuardOptions("test", false, false, ignoreLiveControlPlane: false)))
                        plan.Execute();
                }
                var (info, entries) = NbBackup.Load(backupPath);
                var inBackup = new SortedDictionary<string, string>(entries.ToDictionary(e => e.Key.ToString(), e => Convert.ToBase64String(e.Value.Span)), StringComparer.Ordinal);
                _out.WriteLine($"{kind}: before {before.Count}, backup {inBackup.Count}, header {info.Objects}");
                Assert.Equal(before, inBackup);
                Assert.Equal(3000, info.Objects);
            }
        }

        static Migration Churn2(string id, string release, string proposedAt) =>
            new Migration(id, release, "test " + id, Migration.ParseUtc(proposedAt).Value, null, null, "test:" + id, nb =>
            {
                foreach (var port in nb.GetAll("lport").ToList()) { port["v2"] = true; nb.Update("lport", port); }
                for (int i = 0; i < 3000; i++)
                {
                    var o = new NbObject();
                    o["id"] = "x" + i;
                    nb.Create("lswitch", o);
                }
            });
    }

    [Collection(RedisClusterCollection.Name)]
    public class ReadTablesClusterHostileTests
    {
        static string Now() => ReadTablesHostileTests.Now();

        [Fact]
        public void Live_heartbeat_rows_on_every_master_of_a_cluster_are_all_seen()
        {
            var content = new List<NbEntry>();
            for (int i = 0; i < 60; i++)
            {
                content.Add(new NbEntry(new NbKey("service", "h" + i, "s" + i), Safe.Json("{\"id\": \"s" + i + "\", \"topic\": \"h" + i + "\", \"last_seen_up\": " + Now() + "}")));
                content.Add(new NbEntry(new NbKey("listener", "h" + i, "l" + i), Safe.Json("{\"id\": \"l" + i + "\", \"timestamp\": " + Now() + "}")));
                content.Add(new NbEntry(new NbKey("publisher", "h" + i, "p" + i), Safe.Json("{\"id\": \"p" + i + "\", \"last_activity_timestamp\": " + Now() + "}")));
                content.Add(new NbEntry(new NbKey("lervice", "h" + i, "x" + i), Safe.Json("{\"id\": \"x" + i + "\"}")));
            }
            string uri = Safe.NewDatabase("redis-cluster", content);
            using (var store = NbStoreFactory.Open(uri))
            {
                var live = ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime);
                Assert.Equal(180, live.Count);
                Assert.Equal(180, store.ReadTables(new[] { "service", "listener", "publisher" }).Count());
            }
        }
    }
}
