using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>The Redis store's two key layouts, queens' <c>{table.topic}.id</c> and master's <c>{table.topic}id</c>, as stored.</summary>
    public class RedisKeyLayoutTests
    {
        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        [Fact]
        public void A_layout_says_whether_its_key_holds_the_topic_as_its_keys_do()
        {
            foreach (NbKeyLayout layout in new NbKeyLayout[] { RedisKeys.Queens, RedisKeys.Master, EtcdKeys.Layout })
            {
                bool apart = layout.FormatKey(new NbKey("lport", "t1", "p1")) != layout.FormatKey(new NbKey("lport", "t2", "p1"));
                Assert.True(apart == layout.KeyHoldsTopic, $"{layout}: two topics are {(apart ? "" : "not ")}stored apart");
            }
            Assert.False(EtcdKeys.Layout.KeyHoldsTopic);
        }

        [Fact]
        public void The_heartbeat_tables_are_read_in_one_scan_whose_pattern_other_tables_keys_match_too_and_the_read_leaves_them_out()
        {
            // A class of the tables' characters at each place, up to the shortest name's end; glob
            // characters in a class are escaped; a place past ASCII ends the pattern.
            Assert.Equal("{[lps][eiu][brs][ltv][ei][cns][eh]*", RedisKeys.Pattern(new[] { "service", "listener", "publisher" }));
            Assert.Equal("{service.*", RedisKeys.Pattern(new[] { "service" }));
            Assert.Equal("{[\\]\\^][\\-\\[\\\\]*", RedisKeys.Pattern(new[] { "]-x", "^[", "]\\" }));
            Assert.Equal("{a*", RedisKeys.Pattern(new[] { "a\u00e9b", "a\u00e8c" }));
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                db.StringSet("{service.}.s1", "{\"id\": \"s1\"}");
                db.StringSet("{services.}.s2", "{\"id\": \"s2\"}");
                // Keys the pattern matches of a table not read, one of them not UTF-8: not the read's to refuse.
                db.StringSet(Encoding.UTF8.GetBytes("{lervice.}.x").Concat(new byte[] { 0xff }).ToArray(), "{}");
            }
            var heartbeats = ControlPlaneCheck.HeartbeatTables.Select(h => h.Table).ToList();
            using (var store = NbStoreFactory.Open(uri))
            {
                List<string> read = null;
                var sent = TestRedis.CommandsSent(uri, () => read = store.ReadTables(heartbeats).Select(e => e.Key.Table + "/" + e.Key.Id).ToList());
                Assert.Equal(new[] { "service/s1" }, read);
                Assert.Equal(1, sent.Count(c => c == "SCAN"));
                Assert.Equal(1, TestRedis.CommandsSent(uri, () => ControlPlaneCheck.HeartbeatRows(store)).Count(c => c == "SCAN"));
            }
            // Such a key of a table read is refused, as a read of that table alone refuses it.
            using (var mux = TestRedis.Connect())
                mux.GetDatabase(TestRedis.DbOf(uri)).StringSet(Encoding.UTF8.GetBytes("{publisher.}.x").Concat(new byte[] { 0xff }).ToArray(), "{}");
            using (var store = NbStoreFactory.Open(uri))
            {
                Assert.Throws<NbKeyException>(() => store.Read("publisher").ToList());
                Assert.Throws<NbKeyException>(() => store.ReadTables(heartbeats).ToList());
            }
            // Values are checked table by table, as when each was read alone: of a bad service row and
            // fifty bad publisher rows, whatever order the SCAN finds them in, the service row is refused.
            uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                for (int i = 0; i < 50; i++) db.StringSet("{publisher.}.p" + i, "not json");
                db.StringSet("{service.}.s1", "not json");
            }
            using (var store = NbStoreFactory.Open(uri))
                Assert.Contains("service/s1", Assert.Throws<NbValueInvalidException>(() => ControlPlaneCheck.HeartbeatRows(store)).Message);
        }

        [Fact]
        public void Keys_that_read_back_as_themselves_have_stored_keys_of_their_own_but_where_the_topic_is_left_out()
        {
            // Keys at the edges of each layout: its separators in every part, no topic, an empty id, a module table.
            var tables = new[] { "lport", "l.port", "l{port", "l}port", "l/port", CommitJournal.Table };
            var topics = new[] { null, "t", "t.1", "t}1", "t{1", "t/1", "." };
            var ids = new[] { "p", "", ".p", "}p", "{p", "/p", "p.", "p/q", ".", "}" };
            foreach (NbKeyLayout layout in new NbKeyLayout[] { RedisKeys.Queens, RedisKeys.Master, EtcdKeys.Layout })
            {
                var stored = new System.Collections.Generic.Dictionary<string, NbKey>(StringComparer.Ordinal);
                int shared = 0;
                foreach (var key in tables.SelectMany(t => topics.SelectMany(p => ids.Select(i => new NbKey(t, p, i)))))
                {
                    if (layout.KeyProblem(key) != null) continue;
                    if (!stored.TryGetValue(layout.FormatKey(key), out var other)) stored.Add(layout.FormatKey(key), key);
                    else
                    {
                        Assert.False(layout.KeyHoldsTopic, $"{layout}: {key} and {other} are both stored as {layout.FormatKey(key)}");
                        Assert.True(key.Table == other.Table && key.Id == other.Id, $"{layout}: {key} and {other} are both stored as {layout.FormatKey(key)}");
                        shared++;
                    }
                }
                Assert.True(layout.KeyHoldsTopic == (shared == 0), $"{layout}: {shared} keys share a stored key");
            }
            var keys = new[] { new NbKey("lport", "t1", "p1"), new NbKey("lport", "t1", "p2"), new NbKey("lport", "t2", "p1") };
            using (var redis = NbStoreFactory.Open(TestRedis.NewDatabase()))
                StoredKeys.Require(redis, keys);
            using (var etcd = NbStoreFactory.Open("etcd://" + TestEtcd.Endpoint))
            {
                var e = Assert.Throws<NbKeyException>(() => StoredKeys.Require(etcd, keys));
                Assert.Contains("table 'lport' topic 't2' id 'p1' has the stored key '/lport/p1' of table 'lport' topic 't1' id 'p1' too", e.Message);
            }
        }

        // Writes keys as Dragonflow's drivers would, behind the module's back.
        static void Set(string uri, params (string Key, string Value)[] keys)
        {
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                foreach (var (key, value) in keys) db.StringSet(key, value);
            }
        }

        static bool Exists(string uri, string key)
        {
            using (var mux = TestRedis.Connect()) return mux.GetDatabase(TestRedis.DbOf(uri)).KeyExists(key);
        }

        static GuardOptions Guard() => new GuardOptions("test", planOnly: false, ignoreLiveControlPlane: true);

        static Migrator NewMigrator(INbStore store) => new Migrator(store, new MigrationCatalog(Array.Empty<Migration>(), new[] { "pike", "queens", "master" }));

        [Fact]
        public void A_database_of_both_layouts_and_no_recorded_release_is_refused_naming_a_key_of_each()
        {
            string uri = TestRedis.NewDatabase();
            Set(uri, ("{lport.t1}.p1", "{\"id\": \"p1\"}"), ("{lport.t1}p2", "{\"id\": \"p2\"}"));
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<NbKeyException>(() => NbRun.PlanBaseline(store, NewMigrator(store), "queens", Guard()));
                Assert.Equal("NbKeyLayoutMixed", e.ErrorId);
                Assert.Contains("{table.topic}.id (e.g. '{lport.t1}.p1')", e.Message);
                Assert.Contains("{table.topic}id (e.g. '{lport.t1}p2')", e.Message);
                Assert.Contains("Nothing was written", e.Message);
                Assert.Empty(store.Read(MigrationLog.Table));
            }
        }

        // Right after a read of every table, the store answers what layouts its keys are in from that
        // read; after any other command, or a read left part way, it walks the keyspace again.
        [Fact]
        public void The_layouts_a_read_of_every_table_found_are_the_answer_until_the_store_runs_another_command()
        {
            string uri = TestRedis.NewDatabase();
            Set(uri, ("{lport.t1}.p1", "{\"id\": \"p1\"}"), ("{lswitch.t1}s1", "{\"id\": \"s1\"}"), ("{df_upgrade_lock.}lock", "{}"));
            IReadOnlyDictionary<NbKeyLayout, string> scanned;
            using (var store = NbStoreFactory.Open(uri)) scanned = store.Parts.FindKeyLayouts();
            Assert.Equal(new[] { "{lport.t1}.p1", "{lswitch.t1}s1" }, scanned.Values.OrderBy(v => v, StringComparer.Ordinal));
            using (var store = NbStoreFactory.Open(uri))
            {
                IReadOnlyDictionary<NbKeyLayout, string> found = null!;
                int Scans(Action act) => TestRedis.CommandsSent(uri, act).Count(c => c == "SCAN");
                Assert.Equal(1, Scans(() => { store.Read().ToList(); found = store.Parts.FindKeyLayouts(); }));
                Assert.Equal(scanned.OrderBy(l => l.Value, StringComparer.Ordinal), found.OrderBy(l => l.Value, StringComparer.Ordinal));
                Assert.Equal(3, Scans(() => { store.ReadKeys().ToList(); store.Read("lport").ToList(); found = store.Parts.FindKeyLayouts(); }));
                Assert.Equal(2, Scans(() => { store.Read().First(); found = store.Parts.FindKeyLayouts(); }));
                Assert.Equal(scanned.Count, found.Count);
                // A write since the read: the only key of master's layout is deleted.
                store.Read().ToList();
                store.Parts.UseKeyLayout(RedisKeys.Master);
                store.Write(new[] { NbEntry.Delete(new NbKey("lswitch", "t1", "s1")) });
                Assert.Equal(new NbKeyLayout[] { RedisKeys.Queens }, store.Parts.FindKeyLayouts().Keys);
            }
        }

        [Fact]
        public void A_master_layout_database_is_baselined_at_master_in_its_own_layout_and_refused_at_queens()
        {
            string uri = TestRedis.NewDatabase();
            Set(uri, ("{lport.t1}p1", "{\"id\": \"p1\"}"), ("{unique_key.}lport", "1"));
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<NbKeyException>(() => NbRun.PlanBaseline(store, NewMigrator(store), "queens", Guard()));
                Assert.Equal("NbKeyLayoutNotRelease", e.ErrorId);
                Assert.Contains("{table.topic}id", e.Message);
                using (var plan = NbRun.PlanBaseline(store, NewMigrator(store), "master", Guard())) plan.Execute();
                Assert.Equal("master", MigrationLog.RecordedRelease(MigrationLog.Read(store)));
            }
            Assert.True(Exists(uri, "{schema_migration_log.}baseline"));
            Assert.False(Exists(uri, "{schema_migration_log.}.baseline"));
        }

        [Fact]
        public void A_conditional_write_in_master_layout_moves_the_object_out_of_queens_layout_and_checks_it_there()
        {
            string uri = TestRedis.NewDatabase();
            Set(uri, ("{lport.t1}.p1", "{\"id\": \"p1\"}"), ("{lport.t1}.p2", "{\"id\": \"p2\"}"));
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Parts.UseKeyLayout(store.Parts.KeyLayoutAt("master"));
                var p1 = new NbKey("lport", "t1", "p1");
                // Another value than the one stored in queens' layout is a conflict, wherever the object is.
                Assert.Throws<NbConflictException>(() => store.WriteIf(new[] { new NbEntry(p1, Json("{\"id\": \"p1\"}")) }, k => Json("{\"id\": \"other\"}")));
                store.WriteIf(new[] { new NbEntry(p1, Json("{\"id\": \"p1\"}")), NbEntry.Delete(new NbKey("lport", "t1", "p2")) }, k => Json("{\"id\": \"" + k.Id + "\"}"));
            }
            Assert.True(Exists(uri, "{lport.t1}p1"));
            Assert.False(Exists(uri, "{lport.t1}.p1"));
            Assert.False(Exists(uri, "{lport.t1}.p2"));
        }

        [Fact]
        public void Ids_that_master_layout_cannot_tell_from_queens_are_refused_before_anything_is_written()
        {
            using (var store = NbStoreFactory.Open(TestRedis.NewDatabase()))
            {
                var master = store.Parts.KeyLayoutAt("master");
                Assert.NotNull(master.KeyProblem(new NbKey("lport", "t", ".p1")));
                Assert.Null(store.Parts.KeyLayoutAt("queens").KeyProblem(new NbKey("lport", "t", ".p1")));
                Assert.Null(store.Parts.KeyLayoutAt("my-own-release"));
            }
        }

        [Fact]
        public void Etcd_and_file_stores_keep_one_layout_for_every_release()
        {
            string path = Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".jsonl");
            try
            {
                using (var file = new FileNbStore(path, create: true))
                {
                    Assert.Null(file.Parts.KeyLayoutAt("master"));
                    Assert.Empty(file.Parts.FindKeyLayouts());
                }
                using (var etcd = NbStoreFactory.Open("etcd://" + TestEtcd.Endpoint))
                {
                    Assert.Same(etcd.Parts.KeyLayoutAt("queens"), etcd.Parts.KeyLayoutAt("master"));
                    Assert.Empty(etcd.Parts.FindKeyLayouts());
                }
            }
            finally { File.Delete(path); }
        }
    }
}
