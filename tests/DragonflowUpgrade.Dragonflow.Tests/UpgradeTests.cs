using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.Engine.Tests;
using Xunit;

namespace DragonflowUpgrade.Dragonflow.Tests
{
    public class ManifestTests
    {
        static IReadOnlyList<NbEntry> Fixture(string name) =>
            new FileNbStore(Path.Combine(AppContext.BaseDirectory, "fixtures", name)).Read().ToList();

        [Theory]
        [InlineData("pike", "pike-nb.jsonl")]
        [InlineData("queens", "queens-expected.jsonl")]
        [InlineData("master", "queens-expected.jsonl")]
        public void Each_release_schema_accepts_objects_as_that_release_serializes_them(string release, string fixture)
        {
            var errors = SchemaValidator.Validate(DragonflowReleases.Schema(release), Fixture(fixture), _ => false);
            Assert.Empty(errors.Select(e => e.ToString()));
        }

        [Fact]
        public void The_pike_fixture_does_not_fit_queens()
        {
            var errors = SchemaValidator.Validate(DragonflowReleases.Schema("queens"), Fixture("pike-nb.jsonl"), _ => false);
            Assert.Contains(errors, e => e.Table == "lswitch" && e.Field == "subnets");
            Assert.Contains(errors, e => e.Table == "floatingip" && e.Field == "name");
        }

        [Fact]
        public void Every_pike_to_queens_change_that_needs_a_migration_has_a_shipped_one()
        {
            var changes = SchemaDiff.Compare(DragonflowReleases.Schema("pike"), DragonflowReleases.Schema("queens"));
            var manual = changes.Where(c => !c.Automatic).Select(c => c.Key).OrderBy(k => k).ToList();
            Assert.Equal(new[] { "floatingip.name:FieldRemoved", "lport.subnets:TypeChanged", "lswitch.subnets:FieldRemoved" }, manual);
            Assert.Contains(changes, c => c.Key == "lsubnet:TableAdded" && c.Automatic);
            Assert.Empty(SchemaUpgrade.FindUnhandled(changes, DragonflowReleases.Migrations.SelectMany(m => m.Handles)));
        }

        [Fact]
        public void Master_stores_exactly_the_fields_of_queens_so_it_needs_no_migration()
        {
            Assert.Equal(new[] { "pike", "queens", "master" }, DragonflowReleases.All);
            Assert.Equal("master", DragonflowReleases.Schema("master").Release);
            Assert.Empty(SchemaDiff.Compare(DragonflowReleases.Schema("queens"), DragonflowReleases.Schema("master")).Select(c => c.Key));
            Assert.DoesNotContain("switch_port", DragonflowReleases.Schema("master").Tables.Keys);  // local to each controller, never in the NB database
        }

        [Fact]
        public void The_shipped_migrations_are_queens_ones_dated_by_their_dragonflow_commits()
        {
            var catalog = new MigrationCatalog(DragonflowReleases.Migrations, DragonflowReleases.All);
            Assert.Equal(new[] { "queens-lport-switch-topic", "queens-dhcp-port-per-network", "queens-floatingip-drop-name", "queens-subnet-first-order-model" },
                catalog.Migrations.Select(m => m.Id));
            Assert.All(catalog.Migrations, m => Assert.Equal("queens", m.Release));
            Assert.Equal(Migration.ParseUtc("2017-12-18T09:14:50Z"), catalog.Migrations.Last().ProposedAt);
        }
    }

    public class PikeToQueensTests : IDisposable
    {
        readonly string _dir = Directory.CreateTempSubdirectory("df-upgrade-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

        static Migrator NewMigrator(INbStore store, IEnumerable<Migration> extra = null) =>
            new Migrator(store, new MigrationCatalog(DragonflowReleases.Migrations.Concat(extra ?? Enumerable.Empty<Migration>()), DragonflowReleases.All),
                null, DragonflowReleases.Schema);

        static MigrationRunResult Upgrade(INbStore store, string target = "queens", IEnumerable<Migration> extra = null)
        {
            var migrator = NewMigrator(store, extra);
            migrator.Baseline("pike");
            var plan = migrator.Plan();
            var selected = migrator.Select(plan, target);
            var result = migrator.Run(selected, migrator.PlanSchema(plan, target, selected));
            migrator.Commit(result);
            return result;
        }

        // withTopics false: objects compared by table and id alone (etcd keeps no topic in its keys).
        static void AssertSameDatabase(IEnumerable<NbEntry> expected, IEnumerable<NbEntry> actual, bool withTopics = true)
        {
            NbKey Key(NbEntry e) => withTopics ? e.Key : new NbKey(e.Key.Table, null, e.Key.Id);
            var want = expected.ToDictionary(Key);
            var got = actual.Where(e => e.Key.Table != MigrationLog.Table).ToDictionary(Key);
            Assert.Equal(want.Keys.Select(k => k.ToString()).OrderBy(k => k), got.Keys.Select(k => k.ToString()).OrderBy(k => k));
            foreach (var key in want.Keys)
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(want[key].Value.Span), JsonNode.Parse(got[key].Value.Span)),
                    $"{key}:\nexpected {Encoding.UTF8.GetString(want[key].Value.Span)}\nactual   {Encoding.UTF8.GetString(got[key].Value.Span)}");
        }

        // The database of each store's test server (a file here), emptied, holding the pike fixture.
        string PikeDatabase(string kind)
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            if (kind == "file")
            {
                File.Copy(FixturePath("pike-nb.jsonl"), path);
                return path;
            }
            string uri = kind switch
            {
                "redis" => TestRedis.NewDatabase(),
                "etcd" => TestEtcd.NewDatabase(),
                "etcd-cluster" => TestEtcdCluster.NewDatabase(),
                // The cluster build.ps1 starts; this project's only user of it, one case at a time.
                "redis-cluster" => Environment.GetEnvironmentVariable("DF_TEST_REDIS_CLUSTER")
                    ?? throw new InvalidOperationException("DF_TEST_REDIS_CLUSTER is not set: run the tests through 'build.ps1 Test', which starts a Redis Cluster."),
                _ => throw new ArgumentException(kind),
            };
            using (var store = NbStoreFactory.Open(uri))
            {
                var left = store.ReadKeys().Select(NbEntry.Delete).ToList();
                if (left.Count > 0) store.Write(left);
                store.Write(new FileNbStore(FixturePath("pike-nb.jsonl")).Read().ToList());
            }
            return uri;
        }

        [Theory]
        [InlineData("file")]
        [InlineData("redis")]
        [InlineData("redis-cluster")]
        [InlineData("etcd")]
        [InlineData("etcd-cluster")]
        public void A_pike_database_becomes_exactly_what_queens_would_have_written(string kind)
        {
            using (var store = NbStoreFactory.Open(PikeDatabase(kind)))
            {
                var result = Upgrade(store);
                Assert.Equal(new[] { "Migration", "Migration", "Migration", "Migration", "Schema" }, result.Applied.Select(r => r.Kind.ToString()));
                AssertSameDatabase(new FileNbStore(FixturePath("queens-expected.jsonl")).Read(), store.Read(), withTopics: !kind.StartsWith("etcd"));
                Assert.Equal("queens", MigrationLog.Read(store).Single(r => r.Kind == MigrationLogKind.Schema).Release);
            }
        }

        [Fact]
        public void The_objects_a_pike_to_queens_upgrade_moves_on_redis_land_under_dragonflows_keys()
        {
            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new FileNbStore(FixturePath("pike-nb.jsonl")).Read().ToList());
                Upgrade(store);
                AssertSameDatabase(new FileNbStore(FixturePath("queens-expected.jsonl")).Read(), store.Read());
            }
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                // The gateway port moved from the empty topic to its switch's, in Dragonflow's key layout.
                Assert.False(db.KeyExists("{lport.}.fae02074-1169-4c8c-b31c-945441bba08c"));
                Assert.True(db.KeyExists("{lport.59b7a0752743616458507ade12c9bb70}.fae02074-1169-4c8c-b31c-945441bba08c"));
                Assert.StartsWith("{\"id\": ", (string)db.StringGet("{lsubnet.59b7a0752743616458507ade12c9bb70}.30c00f9d-8b4c-48a3-92bf-4b04405d41c9"));
            }
        }

        [Fact]
        public void Networks_with_several_dhcp_ports_are_named_in_warnings()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.Copy(FixturePath("pike-nb.jsonl"), path);
            using (var store = new FileNbStore(path))
            {
                var warnings = Upgrade(store).Warnings;
                Assert.Equal(2, warnings.Count);
                Assert.Contains(warnings, w => w.Contains("alpha-net") && w.Contains("neutron port-delete"));
                Assert.Contains(warnings, w => w.Contains("beta-net"));
            }
        }

        [Fact]
        public void Ports_without_a_switch_are_left_as_they_are()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            var lines = File.ReadAllLines(FixturePath("pike-nb.jsonl")).ToList();
            int i = lines.FindIndex(l => l.Contains("\"table\":\"lport\"") && l.Contains("network:dhcp"));
            var obj = JsonNode.Parse(lines[i]);
            obj["value"].AsObject().Remove("lswitch");
            obj["value"]["topic"] = "";
            obj["topic"] = null;
            lines[i] = obj.ToJsonString();
            File.WriteAllLines(path, lines);
            using (var store = new FileNbStore(path))
            {
                Upgrade(store);
                var port = store.Read("lport").Single(e => e.Key.Id == (string)obj["id"]);
                Assert.Null(port.Key.Topic);
                Assert.DoesNotContain("lswitch", Encoding.UTF8.GetString(port.Value.Span));
            }
        }

        // A port a migration moves (a floating IP's, without a topic) is checked whole; one left as it
        // was read (a compute port) for its member names, its required fields and the values of the
        // fields whose rules changed (subnets).
        [Theory]
        [InlineData("dangling reference, moved port", "network:floatingip", "qos_policy", "\"no-such-policy\"", "qos_policy", "refers to qospolicy/no-such-policy, which does not exist")]
        [InlineData("wrong type, moved port", "network:floatingip", "enabled", "\"yes\"", "enabled", "must be true or false")]
        [InlineData("bad enum value, moved port", "network:floatingip", "binding_vnic_type", "\"warp\"", "binding_vnic_type", "is not one of")]
        [InlineData("dangling reference in a changed field, port as read", "compute:nova", "subnets", "[\"no-such-subnet\"]", "subnets[0]", "refers to lsubnet/no-such-subnet, which does not exist")]
        [InlineData("missing required field, port as read", "compute:nova", "unique_key", null, "unique_key", "is required but missing")]
        [InlineData("a field of no release, port as read", "compute:nova", "colour", "\"red\"", "colour", "is not a field of LogicalPort")]
        public void An_object_that_does_not_fit_queens_stops_the_run_with_nothing_written(string what, string owner, string field, string value, string errorField, string reason)
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            var lines = File.ReadAllLines(FixturePath("pike-nb.jsonl")).ToList();
            string table = "lport";
            int i = lines.FindIndex(l => l.Contains($"\"table\":\"{table}\"") && l.Contains(owner));
            var obj = JsonNode.Parse(lines[i]);
            if (value == null) obj["value"].AsObject().Remove(field);
            else obj["value"][field] = JsonNode.Parse(value);
            lines[i] = obj.ToJsonString();
            File.WriteAllLines(path, lines);
            using (var store = new FileNbStore(path))
            {
                var migrator = NewMigrator(store);
                migrator.Baseline("pike");
                var before = File.ReadAllBytes(path);
                var plan = migrator.Plan();
                var e = Assert.Throws<SchemaValidationException>(() => migrator.Run(plan.Pending, migrator.PlanSchema(plan, "queens", plan.Pending)));
                var error = Assert.Single(e.Errors);
                Assert.Equal((table, (string)obj["id"], errorField), (error.Table, error.Id, error.Field));
                Assert.Contains(reason, error.Reason);
                Assert.Equal(before, File.ReadAllBytes(path));
                _ = what;
            }
        }

        // A port left as it was read fitted pike; in a field whose rules pike and queens share, what fitted
        // one fits the other (and what fitted neither was so before the run): its value is not judged again.
        // The same port changed by a migration is judged whole.
        [Fact]
        public void A_port_left_as_read_is_judged_only_where_the_rules_changed_and_a_changed_one_whole()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            var lines = File.ReadAllLines(FixturePath("pike-nb.jsonl")).ToList();
            int i = lines.FindIndex(l => l.Contains("\"table\":\"lport\"") && l.Contains("compute:nova"));
            var obj = JsonNode.Parse(lines[i]);
            string id = (string)obj["id"];
            obj["value"]["enabled"] = "yes";
            lines[i] = obj.ToJsonString();
            File.WriteAllLines(path, lines);
            string touchedPath = Path.Combine(_dir, "touched.jsonl");
            File.Copy(path, touchedPath);
            using (var store = new FileNbStore(touchedPath))
            {
                var e = Assert.Throws<SchemaValidationException>(() => Upgrade(store, extra: new[] { Extra("touch-the-port", nb =>
                {
                    var p = nb.Get("lport", id)!;
                    p["name"] = "touched";
                    nb.Update("lport", p);
                }) }));
                Assert.Equal(("lport", id, "enabled"), (Assert.Single(e.Errors).Table, e.Errors[0].Id, e.Errors[0].Field));
            }
            using (var store = new FileNbStore(path))
            {
                var port = store.Read("lport").Single(e => e.Key.Id == id).Value.ToArray();
                Upgrade(store);
                Assert.Equal(port, store.Read("lport").Single(x => x.Key.Id == id).Value.ToArray());
            }
        }

        // activeport's rules are the same in pike and queens, and no shipped migration touches it.
        const string ActivePort = "6fc397dc-8e8e-4538-8510-026d363ee8cf10.10.0.100", ItsPort = "93feb55a-0bc5-4013-b2e9-da07e3dd400d";

        static Migration Extra(string id, Action<INbApi> apply) =>
            new Migration(id, "queens", null, Migration.ParseUtc("2018-01-01T00:00:00Z")!.Value, null, null, "test", apply);

        [Fact]
        public void An_untouched_object_that_refers_to_one_a_migration_deleted_stops_the_run()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.Copy(FixturePath("pike-nb.jsonl"), path);
            using (var store = new FileNbStore(path))
            {
                var e = Assert.Throws<SchemaValidationException>(() => Upgrade(store, extra: new[] { Extra("delete-a-port", nb => nb.Delete("lport", ItsPort)) }));
                var error = Assert.Single(e.Errors);
                Assert.Equal(("activeport", ActivePort, "detected_lport"), (error.Table, error.Id, error.Field));
                Assert.Contains($"refers to lport/{ItsPort}, which does not exist", error.Reason);
            }
        }

        [Fact]
        public void An_object_a_migration_changed_in_a_table_whose_rules_did_not_change_is_validated()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.Copy(FixturePath("pike-nb.jsonl"), path);
            using (var store = new FileNbStore(path))
            {
                var e = Assert.Throws<SchemaValidationException>(() => Upgrade(store, extra: new[] { Extra("break-an-active-port", nb =>
                {
                    var port = nb.Get("activeport", ActivePort)!;
                    port["detected_mac"] = "not-a-mac";
                    nb.Update("activeport", port);
                }) }));
                var error = Assert.Single(e.Errors);
                Assert.Equal(("activeport", ActivePort, "detected_mac"), (error.Table, error.Id, error.Field));
            }
        }

        [Fact]
        public void Validation_checks_only_the_entries_asked_for_and_resolves_their_references_against_all()
        {
            var entries = new FileNbStore(FixturePath("pike-nb.jsonl")).Read().ToList();
            // Pike's switches, ports and floating IPs do not fit queens; left unchecked, nothing else fails,
            // and the references of active ports to those switches and ports still resolve.
            var errors = SchemaValidator.Validate(DragonflowReleases.Schema("queens"),
                entries.Select(e => (e, e.Key.Table != "lswitch" && e.Key.Table != "floatingip" && e.Key.Table != "lport" ? CheckScope.Whole : CheckScope.Nothing)), _ => false);
            Assert.Empty(errors.Select(x => x.ToString()));
        }

        [Fact]
        public void The_references_of_a_table_are_found_through_its_embedded_models()
        {
            var queens = DragonflowReleases.Schema("queens");
            var (tables, embeddedIn) = SchemaValidator.ReferencesOf(queens, queens.Tables["activeport"].Model.Fields.Values);
            Assert.Equal(new[] { "lport", "lswitch" }, tables.OrderBy(t => t, StringComparer.Ordinal));
            Assert.Empty(embeddedIn);
        }

        [Fact]
        public void A_change_no_migration_handles_is_refused_before_anything_is_read()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.Copy(FixturePath("pike-nb.jsonl"), path);
            using (var store = new FileNbStore(path))
            {
                // Without the shipped subnet migration, lswitch.subnets has nowhere to go.
                var migrations = DragonflowReleases.Migrations.Where(m => m.Id != "queens-subnet-first-order-model");
                var migrator = new Migrator(store, new MigrationCatalog(migrations, DragonflowReleases.All), null, DragonflowReleases.Schema);
                migrator.Baseline("pike");
                var before = File.ReadAllBytes(path);
                var plan = migrator.Plan();
                var schema = migrator.PlanSchema(plan, "queens", plan.Pending);
                var e = Assert.Throws<SchemaChangeUnhandledException>(() => migrator.Run(plan.Pending, schema));
                Assert.Equal(new[] { "lport.subnets:TypeChanged", "lswitch.subnets:FieldRemoved" }, e.Unhandled.Select(c => c.Key).OrderBy(k => k));
                Assert.Contains("lswitch.subnets:FieldRemoved", e.Message);
                Assert.Equal(before, File.ReadAllBytes(path));
            }
        }
    }

    public class AutomaticChangeTests
    {
        static SchemaManifest Manifest(string release, string lportFields, string extraTables = "") =>
            SchemaManifest.Load(new MemoryStream(Encoding.UTF8.GetBytes(
                $"{{\"release\":\"{release}\",\"tables\":{{\"lport\":{{\"fields\":{{\"id\":{{\"type\":\"string\",\"required\":true}},{lportFields}}}}}{extraTables}}}}}")), release);

        [Fact]
        public void A_field_added_with_a_default_is_written_into_existing_objects()
        {
            var v1 = Manifest("v1", "\"name\":{\"type\":\"string\"}");
            var v2 = Manifest("v2", "\"name\":{\"type\":\"string\"},\"mtu\":{\"type\":\"int\",\"default\":1450}", ",\"qos\":{\"fields\":{\"id\":{\"type\":\"string\"}}}");
            var changes = SchemaDiff.Compare(v1, v2);
            Assert.All(changes, c => Assert.True(c.Automatic));
            Assert.Equal(new[] { "lport.mtu:FieldAdded", "qos:TableAdded" }, changes.Select(c => c.Key));

            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new[] { new NbEntry(new NbKey("lport", "t", "p1"), Encoding.UTF8.GetBytes("{\"id\": \"p1\", \"name\": \"a\"}")) });
                var schemas = new Dictionary<string, SchemaManifest> { ["v1"] = v1, ["v2"] = v2 };
                var migrator = new Migrator(store, new MigrationCatalog(Array.Empty<Migration>(), new[] { "v1", "v2" }), null, r => schemas.TryGetValue(r, out var m) ? m : null);
                migrator.Baseline("v1");
                var plan = migrator.Plan();
                var schema = migrator.PlanSchema(plan, null, plan.Pending);
                Assert.Equal(("v1", "v2"), (schema.From, schema.To));
                migrator.Commit(migrator.Run(plan.Pending, schema));
                var port = store.Read("lport").Single();
                Assert.Equal("{\"id\": \"p1\", \"name\": \"a\", \"mtu\": 1450}", Encoding.UTF8.GetString(port.Value.Span));
                Assert.Equal("v2", MigrationLog.Read(store).Single(r => r.Kind == MigrationLogKind.Schema).Release);
            }
        }

        [Theory]
        [InlineData("\"name\":{\"type\":\"string\"}", "", "lport.name:FieldRemoved", false)]
        [InlineData("\"name\":{\"type\":\"string\"}", "\"name\":{\"type\":\"int\"}", "lport.name:TypeChanged", false)]
        [InlineData("\"name\":{\"type\":\"string\"}", "\"name\":{\"type\":\"string\",\"required\":true}", "lport.name:RequiredChanged", false)]
        [InlineData("\"name\":{\"type\":\"string\",\"required\":true}", "\"name\":{\"type\":\"string\"}", "lport.name:RequiredChanged", true)]
        [InlineData("\"s\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"]}", "\"s\":{\"type\":\"enum\",\"values\":[\"a\"]}", "lport.s:EnumValuesChanged", false)]
        [InlineData("\"s\":{\"type\":\"enum\",\"values\":[\"a\"]}", "\"s\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"]}", "lport.s:EnumValuesChanged", true)]
        [InlineData("", "\"n\":{\"type\":\"int\",\"required\":true}", "lport.n:FieldAdded", false)]
        public void Changes_are_classified(string before, string after, string key, bool automatic)
        {
            var a = Manifest("a", before.Length == 0 ? "\"x\":{\"type\":\"int\"}" : before);
            var b = Manifest("b", after.Length == 0 ? "\"x\":{\"type\":\"int\"}" : after);
            var change = SchemaDiff.Compare(a, b).Single(c => c.Key == key);
            Assert.Equal(automatic, change.Automatic);
        }
    }
}
