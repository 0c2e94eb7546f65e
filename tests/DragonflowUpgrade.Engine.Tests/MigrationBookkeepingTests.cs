using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>Migrations keep objects' keys, and never touch the module's own records.</summary>
    [Collection(SafetyCollection.Name)]
    public class MigrationBookkeepingTests
    {
        static Migration M(string id, Action<INbApi> apply) =>
            new Migration(id, "queens", "test", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:" + id, apply);

        // A listener's topic is only in its key, as Dragonflow's Neutron server writes it.
        static readonly NbKey Listener = new NbKey("listener", "listener_ctl1", "ctl1");
        static readonly List<NbEntry> Content = new List<NbEntry>
        {
            new NbEntry(Listener, Safe.Json("{\"id\": \"ctl1\", \"timestamp\": 1}")),
            new NbEntry(new NbKey("lport", "t1", "p1"), Safe.Json("{\"id\": \"p1\", \"topic\": \"t1\", \"version\": 1}")),
            new NbEntry(new NbKey(MigrationLog.Table, null, "earlier"), Safe.Json("{\"id\": \"earlier\", \"kind\": \"migration\", \"release\": \"pike\", \"description\": \"\"}")),
        };

        [Fact]
        public void An_unchanged_update_of_an_object_whose_topic_is_only_in_its_key_writes_nothing()
        {
            string uri = Safe.NewRedis(Content);
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { M("touch", nb => { foreach (var l in nb.GetAll("listener").ToList()) nb.Update("listener", l); }) }));
                var result = migrator.Run(migrator.Plan().Pending);
                Assert.DoesNotContain(result.Writes, w => w.Key.Table == "listener");
            }
        }

        [Fact]
        public void A_changed_object_whose_topic_is_only_in_its_key_is_written_under_its_own_key()
        {
            string uri = Safe.NewRedis(Content);
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { M("bump", nb =>
                {
                    var l = nb.Get("listener", "ctl1");
                    l["timestamp"] = 2L;
                    nb.Update("listener", l);
                }) }));
                migrator.Commit(migrator.Run(migrator.Plan().Pending));
                var listeners = store.Read("listener").ToList();
                Assert.Equal(Listener, Assert.Single(listeners).Key);
                Assert.Contains("\"timestamp\": 2", NbJson.Utf8Text(listeners[0].Value.Span));
            }
        }

        [Fact]
        public void An_object_moves_when_the_migration_changes_its_topic()
        {
            string uri = Safe.NewRedis(Content);
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { M("move", nb =>
                {
                    var p = nb.Get("lport", "p1");
                    p["topic"] = "t2";
                    nb.Update("lport", p);
                }) }));
                migrator.Commit(migrator.Run(migrator.Plan().Pending));
                Assert.Equal(new NbKey("lport", "t2", "p1"), Assert.Single(store.Read("lport")).Key);
            }
        }

        public static IEnumerable<object[]> BookkeepingWrites() => new[]
        {
            new object[] { "deletes a log row", "schema_migration_log/earlier", (Action<INbApi>)(nb => nb.Delete(MigrationLog.Table, "earlier")) },
            new object[] { "updates a log row", "schema_migration_log/earlier", (Action<INbApi>)(nb => { var r = nb.Get(MigrationLog.Table, "earlier"); r["release"] = "queens"; nb.Update(MigrationLog.Table, r); }) },
            new object[] { "creates a log row", "schema_migration_log/fake", (Action<INbApi>)(nb => nb.Create(MigrationLog.Table, new NbObject { ["id"] = "fake" })) },
            new object[] { "creates a lock row", "df_upgrade_lock/lock", (Action<INbApi>)(nb => nb.Create("df_upgrade_lock", new NbObject { ["id"] = "lock" })) },
            new object[] { "deletes the commit marker", "df_upgrade_commit/in-progress", (Action<INbApi>)(nb => nb.Delete("df_upgrade_commit", "in-progress")) },
        };

        [Theory]
        [MemberData(nameof(BookkeepingWrites))]
        public void A_migration_that_writes_the_modules_own_records_is_refused_naming_it_and_the_object(string what, string culprit, Action<INbApi> apply)
        {
            string uri = Safe.NewRedis(Content);
            using (var store = NbStoreFactory.Open(uri))
            {
                var before = Safe.Dump(store);
                var migrator = new Migrator(store, new MigrationCatalog(new[] { M("meddler", apply) }));
                var e = Assert.Throws<DfException>(() => migrator.Run(migrator.Plan().Pending));
                Assert.Equal(NbSnapshot.ModuleTableWrittenId, e.ErrorId);
                Assert.Contains("'meddler'", e.Message);
                Assert.Contains($"it writes {culprit}, but table '{culprit.Split('/')[0]}' holds the module's own records, which migrations may read but never write.", e.Message);
                Assert.Equal("meddler", e.Target);
                Assert.Equal("Change the migration to leave that table alone: the module writes the migration log itself.", e.RecommendedAction);
                Assert.Equal(before, Safe.Dump(store));
                _ = what; // names the case in the test's display
            }
        }

        [Theory]
        [InlineData("../../x y")]
        [InlineData("../evil")]
        [InlineData("a b")]
        [InlineData(".hidden")]
        [InlineData("a/b")]
        [InlineData("-flag")]
        [InlineData("ok\n")]
        [InlineData("é")]
        public void A_migration_id_outside_the_one_rule_is_refused_naming_the_source(string id)
        {
            var e = Assert.Throws<MigrationDefinitionException>(() => Migration.ValidateMetadata("m.ps1", id, "queens", "2017-09-01T00:00:00Z"));
            Assert.StartsWith("m.ps1: ", e.Message);
            Assert.Contains("New-DfMigration", e.Message);
        }

        [Theory]
        [InlineData("lport-add-flag")]
        [InlineData("queens.1_fix")]
        [InlineData("0001")]
        public void A_migration_id_inside_the_rule_is_accepted(string id) =>
            Assert.Equal(new DateTimeOffset(2017, 9, 1, 0, 0, 0, TimeSpan.Zero), Migration.ValidateMetadata("m.ps1", id, "queens", "2017-09-01T00:00:00Z"));
    }
}
