using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Objects whose (table, topic, id) a store's key layout cannot take back, or that would share
    /// a stored key: a restore refuses them all by name, and writes nothing.
    /// </summary>
    [Collection(EtcdCollection.Name)]
    public class KeyLayoutHostileTests
    {
        static NbEntry Row(string table, string topic, string id) =>
            new NbEntry(new NbKey(table, topic, id), Safe.Json($"{{\"id\": \"{id}\"}}"));

        [Fact]
        public void A_restore_into_Redis_refuses_keys_that_do_not_read_back_and_writes_nothing()
        {
            string uri = TestRedis.NewDatabase();
            var rows = new[]
            {
                Row("lport.x", null, "a"), Row("lport", "x.", "a"), Row("lport", "t}.x", "b"), Row("lport", "t", "x}.b"), Row("lp{o}rt", null, "c"),
            };
            using (var store = NbStoreFactory.Open(uri))
            {
                string path = Safe.TempFile("keys.jsonl.gz");
                NbBackup.Write(rows, store.Location, path);
                var e = Assert.Throws<NbKeyException>(() => NbRestore.Plan(store, path));
                Assert.Equal("NbKeyNotStorable", e.ErrorId);
                Assert.Contains("3 object(s)", e.Message);
                Assert.Contains("table 'lport.x'", e.Message);
                Assert.Contains("topic 't}.x'", e.Message);
                Assert.Contains("table 'lp{o}rt'", e.Message);
                Assert.Contains("Nothing was written", e.Message);
            }
            using (var mux = TestRedis.Connect())
                Assert.Empty(mux.GetServer(TestRedis.Endpoint).Keys(TestRedis.DbOf(uri)));
        }

        // Keys are stored as UTF-8: half of a surrogate pair (an id cut in the middle of an emoji)
        // would come back as U+FFFD, and two such ids as one key.
        [Theory]   // the ids are made here: theory data passes through UTF-8, which turns half a pair into U+FFFD
        [InlineData("redis", "a high half", "id")]
        [InlineData("redis", "a low half", "id")]
        [InlineData("etcd", "a high half", "id")]
        [InlineData("redis", "a whole pair", null)]   // text
        public void A_migration_making_a_key_with_half_a_surrogate_pair_is_refused_before_its_commit(string kind, string what, string? refusedIn)
        {
            string id = what == "a high half" ? "p\ud800" : what == "a low half" ? "\udc00" : "p\ud83d\ude00";
            string uri = kind == "redis" ? TestRedis.NewDatabase() : TestEtcd.NewDatabase();
            var make = new Migration("half", "queens", "test half", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:half",
                nb => nb.Create("lport", new NbObject { ["id"] = id, ["topic"] = "t" }));
            var other = new NbEntry(new NbKey("lport", "t", "q"), Safe.Json("{\"id\": \"q\", \"topic\": \"t\"}"));   // its key tells the layout
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new[] { other });
                var migrator = new Migrator(store, new MigrationCatalog(new[] { make }));
                var e = Record.Exception(() => migrator.Run(migrator.Plan().Pending));
                if (refusedIn == null) { Assert.Null(e); return; }
                Assert.Equal("NbKeyNotStorable", Assert.IsType<NbKeyException>(e).ErrorId);
                Assert.Contains($"has half of a UTF-16 surrogate pair in its {refusedIn}, which a key stored as UTF-8 cannot hold", e.Message);
                Assert.Equal(new[] { other.Key }, store.Read().Select(x => x.Key));
            }
        }

        [Fact]
        public void A_migration_making_an_object_its_store_cannot_key_is_refused_before_its_commit()
        {
            string uri = TestEtcd.NewDatabase();
            TestEtcd.Put("/lport/q", "{\"id\": \"q\", \"topic\": \"t1\"}");
            var before = TestEtcd.All();
            var move = new Migration("twin", "queens", "test twin", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:twin",
                nb => nb.Create("a/b", new NbObject { ["id"] = "s" }));
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { move }));
                var e = Assert.Throws<NbKeyException>(() => migrator.Run(migrator.Plan().Pending));
                Assert.Equal("NbKeyNotStorable", e.ErrorId);
                Assert.Contains("table 'a/b'", e.Message);
            }
            Assert.Equal(before, TestEtcd.All());
        }

        [Fact]
        public void A_restore_into_etcd_refuses_objects_sharing_a_key_and_writes_nothing()
        {
            string uri = TestEtcd.NewDatabase();
            var rows = new[] { Row("lport", "t1", "q"), Row("lport", "t2", "q"), Row("lport", "t1", "r"), Row("a/b", null, "s") };
            using (var store = NbStoreFactory.Open(uri))
            {
                string path = Safe.TempFile("keys.jsonl.gz");
                NbBackup.Write(rows, store.Location, path);
                var e = Assert.Throws<NbKeyException>(() => NbRestore.Plan(store, path));
                Assert.Equal("NbKeyNotStorable", e.ErrorId);
                Assert.Contains("2 object(s)", e.Message);
                Assert.Contains("'/lport/q'", e.Message);
                Assert.Contains("table 'a/b'", e.Message);
            }
            Assert.Empty(TestEtcd.All());
        }
    }
}
