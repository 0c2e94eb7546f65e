using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.Engine.Tests;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Dragonflow.Tests
{
    /// <summary>
    /// Queens to master on Redis: the same values under the keys of master's redis driver. The
    /// expected keys are computed here as that driver computes them, not by the module.
    /// </summary>
    public class MasterKeyLayoutTests : IDisposable
    {
        readonly string _dir = Directory.CreateTempSubdirectory("df-master-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

        // Master's redis driver: _key_name(table, topic, key) = '{%s.%s}%s' % (table, topic or '', key);
        // allocate_unique_key(table) INCRs _key_name('unique_key', None, table).
        static string MasterKey(NbKey k) => "{" + k.Table + "." + (k.Topic ?? "") + "}" + k.Id;

        // Queens' redis driver: _uuid_to_key(table, key, topic) = '{' + table + '.' + topic + '}' + '.' + key.
        static string QueensKey(NbKey k) => "{" + k.Table + "." + (k.Topic ?? "") + "}." + k.Id;

        // Master's get_all_keys strips each key found for a table with this pattern to get the id.
        static readonly Regex TableStrip = new Regex("^{.+}(.+)$");

        static Migrator NewMigrator(INbStore store) =>
            new Migrator(store, new MigrationCatalog(DragonflowReleases.Migrations, DragonflowReleases.All), null, DragonflowReleases.Schema);

        static GuardOptions Guard() => new GuardOptions("test", planOnly: false, ignoreLiveControlPlane: true);

        /// <summary>Every key of the Redis database (the module's own lock and journal left out) with its stored bytes.</summary>
        static SortedDictionary<string, string> Raw(string uri)
        {
            var raw = new SortedDictionary<string, string>(StringComparer.Ordinal);
            using (var mux = TestRedis.Connect())
            {
                int db = TestRedis.DbOf(uri);
                foreach (var key in mux.GetServer(TestRedis.Endpoint).Keys(db, "*", pageSize: 1000))
                    if (!((string)key).StartsWith("{" + ModuleTables.Prefix, StringComparison.Ordinal))
                        raw.Add(key, Convert.ToBase64String((byte[])mux.GetDatabase(db).StringGet(key)));
            }
            return raw;
        }

        static string Text(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));

        void Baseline(INbStore store, string release)
        {
            using (var plan = NbRun.PlanBaseline(store, NewMigrator(store), release, Guard())) plan.Execute();
        }

        MigrationRunPlan PlanMaster(INbStore store) =>
            NbRun.PlanMigration(store, NewMigrator(store), new MigrationRunRequest { TargetRelease = "master", BackupPath = Path.Combine(_dir, Guid.NewGuid() + ".jsonl.gz") }, Guard());

        [Fact]
        public void A_pike_redis_database_taken_to_master_in_one_run_holds_the_queens_values_under_the_keys_master_reads()
        {
            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new FileNbStore(FixturePath("pike-nb.jsonl")).Read().ToList());
                Baseline(store, "pike");
                using (var plan = PlanMaster(store))
                {
                    Assert.Equal(("pike", "master"), (plan.Schema.From, plan.Schema.To));
                    Assert.Equal(4, plan.Migrations.Count);
                    Assert.Contains("{table.topic}id", plan.Summary);
                    plan.Execute();
                }
                Assert.Equal("master", MigrationLog.RecordedRelease(MigrationLog.Read(store)));
            }

            var raw = Raw(uri);
            var queens = new FileNbStore(FixturePath("queens-expected.jsonl")).Read().ToList();
            foreach (var e in queens)
            {
                Assert.True(raw.TryGetValue(MasterKey(e.Key), out var stored), $"{MasterKey(e.Key)} is missing");
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(e.Value.Span), JsonNode.Parse(Text(stored))), $"{MasterKey(e.Key)}: {Text(stored)}");
            }
            // Nothing else but the migration log, which moved too: no key is left in queens' layout.
            var log = raw.Keys.Where(k => k.StartsWith("{" + MigrationLog.Table + ".}", StringComparison.Ordinal)).ToList();
            Assert.Equal(queens.Count + log.Count, raw.Count);
            Assert.DoesNotContain(raw.Keys, k => k.Contains("}."));
            // The counters moved, values as they were: master's allocate_unique_key goes on from them.
            Assert.Equal("25", Text(raw["{unique_key.}lport"]));
            Assert.Equal("5", Text(raw["{unique_key.}secgroup"]));
            // Master's get_all_keys finds every object of a table by its id.
            foreach (var table in queens.GroupBy(e => e.Key.Table))
            {
                var ids = raw.Keys.Where(k => k.StartsWith("{" + table.Key + ".", StringComparison.Ordinal)).Select(k => TableStrip.Match(k).Groups[1].Value);
                Assert.Equal(table.Select(e => e.Key.Id).OrderBy(i => i, StringComparer.Ordinal), ids.OrderBy(i => i, StringComparer.Ordinal));
            }
        }

        [Fact]
        public void A_file_database_taken_to_master_is_what_queens_writes_and_no_object_is_rewritten()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.Copy(FixturePath("queens-expected.jsonl"), path);
            using (var store = new FileNbStore(path))
            {
                Baseline(store, "queens");
                var before = store.Read().Where(e => e.Key.Table != MigrationLog.Table && !ModuleTables.IsModuleTable(e.Key.Table)).ToDictionary(e => e.Key, e => Convert.ToBase64String(e.Value.Span));
                using (var plan = PlanMaster(store))
                {
                    Assert.Null(plan.Result.KeyLayout);
                    Assert.Equal(0, plan.Result.Rekeyed);
                    Assert.Equal(new[] { MigrationLog.SchemaId }, plan.Result.Writes.Select(w => w.Key.Id));
                    plan.Execute();
                }
                var after = store.Read().Where(e => e.Key.Table != MigrationLog.Table && !ModuleTables.IsModuleTable(e.Key.Table)).ToDictionary(e => e.Key, e => Convert.ToBase64String(e.Value.Span));
                Assert.Equal(before.Keys.OrderBy(k => k.ToString()), after.Keys.OrderBy(k => k.ToString()));
                foreach (var key in before.Keys) Assert.True(before[key] == after[key], $"{key}: {Text(before[key])} became {Text(after[key])}");
            }
        }

        // A queens database big enough for several batches: the fixture and 2,500 more ports.
        static string NewQueensRedis()
        {
            string uri = TestRedis.NewDatabase();
            var queens = new FileNbStore(FixturePath("queens-expected.jsonl")).Read().ToList();
            var port = queens.First(e => e.Key.Table == "lport");
            string text = Encoding.UTF8.GetString(port.Value.Span);
            var more = Enumerable.Range(0, 2500).Select(i => $"p-{i:D4}")
                .Select(id => new NbEntry(new NbKey("lport", port.Key.Topic, id), Encoding.UTF8.GetBytes(text.Replace(port.Key.Id, id))));
            using (var store = NbStoreFactory.Open(uri)) store.Write(queens.Concat(more).ToList());
            return uri;
        }

        // The run to master, its commit stopped after the journal (the row naming it, its rows), the marker and one batch, as a killed process stops.
        void InterruptedRunToMaster(string uri)
        {
            using (var store = new SteppedStore(NbStoreFactory.Open(uri), writesBeforeFailure: 4))
            using (var plan = PlanMaster(store))
            {
                Assert.True(plan.Result.Rekeyed > 2500);
                Assert.Throws<CommitInterruptedException>(() => plan.Execute());
            }
            var raw = Raw(uri);
            Assert.Contains(raw.Keys, k => k.StartsWith("{lport.", StringComparison.Ordinal) && k.Contains("}."));
            Assert.Contains(raw.Keys, k => k.StartsWith("{lport.", StringComparison.Ordinal) && !k.Contains("}."));
        }

        [Fact]
        public void A_rewrite_of_every_key_killed_part_way_is_resumed_to_master_keys_with_the_same_bytes()
        {
            string uri = NewQueensRedis();
            using (var store = NbStoreFactory.Open(uri)) Baseline(store, "queens");
            var before = Raw(uri);
            InterruptedRunToMaster(uri);

            using (var store = NbStoreFactory.Open(uri))
            using (var plan = NbRun.PlanResume(store, Guard()))
                plan.Execute();

            var after = Raw(uri);
            Assert.DoesNotContain(after.Keys, k => k.Contains("}."));
            foreach (var (key, value) in before.Where(p => !p.Key.StartsWith("{" + MigrationLog.Table, StringComparison.Ordinal)))
            {
                string master = key.Substring(0, key.IndexOf('}') + 1) + key.Substring(key.IndexOf('}') + 2);
                Assert.Equal(value, after[master]);
            }
            using (var store = NbStoreFactory.Open(uri)) Assert.Equal("master", MigrationLog.RecordedRelease(MigrationLog.Read(store)));
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void Undo_of_a_run_to_master_puts_back_the_queens_keys_byte_for_byte(bool interrupted)
        {
            string uri = NewQueensRedis();
            using (var store = NbStoreFactory.Open(uri)) Baseline(store, "queens");
            var before = Raw(uri);
            if (interrupted) InterruptedRunToMaster(uri);
            else
                using (var store = NbStoreFactory.Open(uri))
                using (var plan = PlanMaster(store))
                    plan.Execute();

            using (var store = NbStoreFactory.Open(uri))
            using (var plan = NbRun.PlanUndo(store, Guard()))
            {
                Assert.Contains("{table.topic}.id", plan.Summary);
                plan.Execute();
            }
            Assert.Equal(before, Raw(uri));
        }
    }
}
