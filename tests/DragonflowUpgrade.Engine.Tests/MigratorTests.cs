using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    public class MigratorTests
    {
        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        static Migration M(string id, string proposedAt, Action<INbApi> apply, string release = "queens") =>
            new Migration(id, release, "test " + id, Migration.ParseUtc(proposedAt).Value, null, null, "test:" + id, apply);

        static string NewRedisWithPorts(int ports)
        {
            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
                store.Write(Enumerable.Range(0, ports)
                    .Select(i => new NbEntry(new NbKey("lport", "t" + (i % 3), $"p{i:D4}"), Json($"{{\"id\": \"p{i:D4}\", \"topic\": \"t{i % 3}\", \"device_owner\": \"{(i % 2 == 0 ? "compute:nova" : "network:dhcp")}\"}}")))
                    .Append(new NbEntry(new NbKey("lswitch", "t0", "s1"), Json("{\"id\": \"s1\", \"topic\": \"t0\"}")))
                    .ToList());
            return uri;
        }

        static Dictionary<string, string> Dump(string uri)
        {
            using (var store = NbStoreFactory.Open(uri))
                return store.Read().ToDictionary(e => e.Key.ToString(), e => Encoding.UTF8.GetString(e.Value.Span));
        }

        static Action<INbApi> FlagComputePorts => nb =>
        {
            foreach (var port in nb.GetAll("lport"))
            {
                if ((string)port["device_owner"] == "compute:nova") port["flag"] = true;
                nb.Update("lport", port);
            }
        };

        [Fact]
        public void Migrations_run_in_proposed_at_order_then_id()
        {
            var ran = new List<string>();
            var catalog = new MigrationCatalog(new[]
            {
                M("c", "2017-03-01T00:00:00Z", _ => ran.Add("c")),
                M("b", "2017-01-01T00:00:00Z", _ => ran.Add("b")),
                M("a", "2017-03-01T00:00:00Z", _ => ran.Add("a")),
            });
            using (var store = NbStoreFactory.Open(TestRedis.NewDatabase()))
            {
                var migrator = new Migrator(store, catalog);
                var result = migrator.Run(migrator.Plan().Pending);
                Assert.Equal(new[] { "b", "a", "c" }, ran);
                Assert.Equal(new[] { "b", "a", "c" }, result.Applied.Select(r => r.Id));
            }
        }

        [Fact]
        public void Only_objects_whose_data_changed_are_written()
        {
            string uri = NewRedisWithPorts(100);
            var catalog = new MigrationCatalog(new[] { M("flag", "2017-09-01T00:00:00Z", FlagComputePorts) });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                var result = migrator.Run(migrator.Plan().Pending);
                // 50 compute ports and one log row; the 50 DHCP ports were rewritten unchanged and the switch untouched.
                Assert.Equal(51, TestRedis.KeysWritten(uri, () => migrator.Commit(result)));
                var lport = result.Changes.Single(c => c.Table == "lport");
                Assert.Equal((0, 50, 0), (lport.Creates, lport.Updates, lport.Deletes));
            }
            var dump = Dump(uri);
            Assert.Contains("\"flag\": true", dump["lport/p0000 (topic t0)"]);
            Assert.DoesNotContain("flag", dump["lport/p0001 (topic t1)"]);
        }

        [Fact]
        public void A_failing_migration_writes_nothing_and_names_the_migration_and_object()
        {
            string uri = NewRedisWithPorts(30);
            var before = Dump(uri);
            var catalog = new MigrationCatalog(new[]
            {
                M("first", "2017-01-01T00:00:00Z", FlagComputePorts),
                M("second", "2017-02-01T00:00:00Z", nb =>
                {
                    foreach (var p in nb.GetAll("lport"))
                        if ((string)p["id"] == "p0007") throw new InvalidOperationException("boom");
                }),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                var e = Assert.Throws<MigrationFailedException>(() => migrator.Run(migrator.Plan().Pending));
                Assert.Equal("second", e.Migration.Id);
                Assert.Equal("lport/p0007", e.LastObject);
                Assert.Contains("boom", e.Message);
            }
            Assert.Equal(before, Dump(uri));
        }

        [Fact]
        public void An_object_changed_and_then_changed_back_is_not_written()
        {
            string uri = NewRedisWithPorts(4);
            var catalog = new MigrationCatalog(new[]
            {
                M("flag", "2017-09-01T00:00:00Z", FlagComputePorts),
                M("unflag", "2017-09-02T00:00:00Z", nb =>
                {
                    foreach (var port in nb.GetAll("lport"))
                        if (port.Remove("flag")) nb.Update("lport", port);
                }),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                var result = migrator.Run(migrator.Plan().Pending);
                Assert.Equal(new[] { MigrationLog.Table }, result.Writes.Select(w => w.Key.Table).Distinct());
                Assert.Equal(2, TestRedis.KeysWritten(uri, () => migrator.Commit(result)));
            }
        }

        [Fact]
        public void An_object_stored_in_another_format_and_rewritten_with_its_data_is_not_written()
        {
            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
                store.Write(new[]
                {
                    new NbEntry(new NbKey("lport", "t0", "p1"), Json("{\"id\":\"p1\",\"topic\":\"t0\",\"n\":1.0,\"s\":\"a\\/b\"}")),
                    new NbEntry(new NbKey("lport", "t0", "p2"), Json("{\"id\":\"p2\",\"topic\":\"t0\",\"n\":1}")),
                });
            var catalog = new MigrationCatalog(new[]
            {
                M("touch", "2017-09-01T00:00:00Z", nb =>
                {
                    foreach (var port in nb.GetAll("lport"))
                    {
                        if ((string)port["id"] == "p2") port["n"] = 2;
                        nb.Update("lport", port);
                    }
                }),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                var result = migrator.Run(migrator.Plan().Pending);
                Assert.Equal(new[] { "lport/p2 (topic t0)" }, result.Writes.Where(w => w.Key.Table == "lport").Select(w => w.Key.ToString()));
                migrator.Commit(result);
            }
            var dump = Dump(uri);
            Assert.Equal("{\"id\":\"p1\",\"topic\":\"t0\",\"n\":1.0,\"s\":\"a\\/b\"}", dump["lport/p1 (topic t0)"]);
            Assert.Equal("{\"id\": \"p2\", \"topic\": \"t0\", \"n\": 2}", dump["lport/p2 (topic t0)"]);
        }

        [Fact]
        public void A_second_run_finds_nothing_pending_and_writes_nothing()
        {
            string uri = NewRedisWithPorts(10);
            var catalog = new MigrationCatalog(new[] { M("flag", "2017-09-01T00:00:00Z", FlagComputePorts) });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                migrator.Commit(migrator.Run(migrator.Plan().Pending));
                MigrationRunResult result = null;
                Assert.Equal(0, TestRedis.KeysWritten(uri, () =>
                {
                    var plan = migrator.Plan();
                    Assert.Empty(plan.Pending);
                    result = migrator.Run(plan.Pending);
                    migrator.Commit(result);
                }));
                Assert.Equal(0, result.ObjectsRead);
            }
        }

        [Fact]
        public void The_log_records_what_ran_with_iso_times()
        {
            string uri = NewRedisWithPorts(2);
            var catalog = new MigrationCatalog(new[] { M("flag", "2017-09-01T00:00:00Z", FlagComputePorts) });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                migrator.Commit(migrator.Run(migrator.Plan().Pending));
                var row = Assert.Single(MigrationLog.Read(store));
                Assert.Equal("flag", row.Id);
                Assert.Equal(MigrationLogKind.Migration, row.Kind);
                Assert.Equal("queens", row.Release);
                Assert.Equal(Migration.ParseUtc("2017-09-01T00:00:00Z"), row.ProposedAt);
                Assert.True(row.AppliedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
                var stored = Dump(uri)["schema_migration_log/flag"];
                Assert.Contains("\"proposed_at\": \"2017-09-01T00:00:00Z\"", stored);
            }
        }

        [Fact]
        public void Creates_deletes_and_topic_moves_are_written_as_such()
        {
            string uri = NewRedisWithPorts(4);
            var catalog = new MigrationCatalog(new[]
            {
                M("reshape", "2017-09-01T00:00:00Z", nb =>
                {
                    nb.Create("lsubnet", new NbObject { ["id"] = "sn1", ["topic"] = "t0" });
                    nb.Delete("lport", "p0001");
                    var sw = nb.Get("lswitch", "s1");
                    sw["topic"] = "t9";
                    nb.Update("lswitch", sw);
                }),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, catalog);
                var result = migrator.Run(migrator.Plan().Pending);
                Assert.Equal(1, result.Changes.Single(c => c.Table == "lsubnet").Creates);
                Assert.Equal(1, result.Changes.Single(c => c.Table == "lport").Deletes);
                Assert.Equal(1, result.Changes.Single(c => c.Table == "lswitch").Updates);
                migrator.Commit(result);
            }
            var dump = Dump(uri);
            Assert.Contains("lsubnet/sn1 (topic t0)", dump.Keys);
            Assert.DoesNotContain("lport/p0001 (topic t1)", dump.Keys);
            Assert.Contains("lswitch/s1 (topic t9)", dump.Keys);
            Assert.DoesNotContain("lswitch/s1 (topic t0)", dump.Keys);
        }

        [Fact]
        public void A_target_release_stops_before_later_releases()
        {
            var catalog = new MigrationCatalog(new[]
            {
                M("p1", "2017-01-01T00:00:00Z", _ => { }, "pike"),
                M("q1", "2017-09-01T00:00:00Z", _ => { }, "queens"),
            }, new[] { "pike", "queens" });
            using (var store = NbStoreFactory.Open(TestRedis.NewDatabase()))
            {
                var migrator = new Migrator(store, catalog);
                Assert.Equal(new[] { "p1" }, migrator.Select(migrator.Plan(), "pike").Select(m => m.Id));
                var unknown = Assert.Throws<Errors.DfException>(() => migrator.Select(migrator.Plan(), "stein"));
                Assert.Equal("ReleaseUnknown", unknown.ErrorId);
            }
        }

        [Fact]
        public void A_selection_that_skips_an_earlier_pending_migration_is_refused()
        {
            var catalog = new MigrationCatalog(new[]
            {
                M("a", "2017-01-01T00:00:00Z", _ => { }),
                M("b", "2017-02-01T00:00:00Z", _ => { }),
            });
            using (var store = NbStoreFactory.Open(TestRedis.NewDatabase()))
            {
                var migrator = new Migrator(store, catalog);
                var e = Assert.Throws<Errors.DfException>(() => migrator.Select(migrator.Plan(), null, new[] { "b" }));
                Assert.Equal("MigrationSelectionInvalid", e.ErrorId);
                Assert.Contains("'a'", e.Message);
                Assert.Equal(new[] { "a" }, migrator.Select(migrator.Plan(), null, new[] { "a" }).Select(m => m.Id));
            }
        }

        [Fact]
        public void A_baseline_marks_migrations_up_to_the_release_as_applied()
        {
            var catalog = new MigrationCatalog(new[]
            {
                M("p1", "2017-01-01T00:00:00Z", _ => throw new Exception("must not run"), "pike"),
                M("q1", "2017-09-01T00:00:00Z", _ => { }, "queens"),
            }, new[] { "pike", "queens" });
            using (var store = NbStoreFactory.Open(TestRedis.NewDatabase()))
            {
                var migrator = new Migrator(store, catalog);
                migrator.Baseline("pike");
                var plan = migrator.Plan();
                Assert.Equal(new[] { "q1" }, plan.Pending.Select(m => m.Id));
                Assert.Contains(plan.Log, r => r.Kind == MigrationLogKind.Baseline && r.Release == "pike");
                Assert.Contains(plan.Log, r => r.Kind == MigrationLogKind.Baselined && r.Id == "p1");
            }
        }

        [Fact]
        public void Duplicate_ids_are_an_error_naming_both_sources()
        {
            var e = Assert.Throws<MigrationDefinitionException>(() => new MigrationCatalog(new[]
            {
                M("same", "2017-01-01T00:00:00Z", _ => { }),
                M("same", "2017-02-01T00:00:00Z", _ => { }),
            }));
            Assert.Contains("test:same", e.Message);
            Assert.Contains("already used", e.Message);
        }

        [Fact]
        public void Runs_on_the_file_store_too_leaving_the_file_untouched_on_failure()
        {
            string dir = Directory.CreateTempSubdirectory("df-migrator-").FullName;
            try
            {
                string path = Path.Combine(dir, "nb.jsonl");
                File.WriteAllText(path, "{\"table\":\"lport\",\"topic\":\"t\",\"id\":\"p1\",\"value\":{\"id\":\"p1\",\"topic\":\"t\",\"device_owner\":\"compute:nova\"}}\n");
                var before = File.ReadAllBytes(path);
                using (var store = NbStoreFactory.Open(path))
                {
                    var failing = new Migrator(store, new MigrationCatalog(new[] { M("boom", "2017-01-01T00:00:00Z", _ => throw new Exception("x")) }));
                    Assert.Throws<MigrationFailedException>(() => failing.Run(failing.Plan().Pending));
                    Assert.Equal(before, File.ReadAllBytes(path));

                    var migrator = new Migrator(store, new MigrationCatalog(new[] { M("flag", "2017-09-01T00:00:00Z", FlagComputePorts) }));
                    migrator.Commit(migrator.Run(migrator.Plan().Pending));
                }
                string text = File.ReadAllText(path);
                Assert.Contains("\"flag\": true", text);
                Assert.Contains("schema_migration_log", text);
            }
            finally { Directory.Delete(dir, true); }
        }
    }

    [Migration("attr-test", "queens", "2017-09-01T00:00:00Z", Description = "from an attribute", Handles = new[] { "lswitch.subnets:FieldRemoved" })]
    public sealed class AttributeMigration : IMigration
    {
        public void Apply(INbApi nbApi) { }
    }

    public class NbSnapshotTests
    {
        static NbEntry Entry(string topic, string id) => new NbEntry(new NbKey("lport", topic, id), Encoding.UTF8.GetBytes($"{{\"id\": \"{id}\", \"topic\": \"{topic}\"}}"));

        [Fact]
        public void A_key_read_twice_with_the_same_bytes_is_one_object()
        {
            // Redis's SCAN may return a key more than once.
            var snapshot = new NbSnapshot();
            snapshot.AddOriginal(Entry("t", "p1"));
            snapshot.AddOriginal(Entry("t", "p1"));
            Assert.Equal(1, snapshot.Count);
            Assert.Single(snapshot.GetAll("lport"));
            Assert.Empty(snapshot.Diff());
        }

        [Fact]
        public void A_key_stored_twice_with_other_bytes_is_an_error_naming_it()
        {
            // A file can hold one key on two lines that differ: neither is taken silently.
            var snapshot = new NbSnapshot();
            snapshot.AddOriginal(Entry("t", "p1"));
            var other = new NbEntry(new NbKey("lport", "t", "p1"), Encoding.UTF8.GetBytes("{\"id\": \"p1\", \"topic\": \"t\", \"name\": \"x\"}"));
            var e = Assert.Throws<NbStoreException>(() => snapshot.AddOriginal(other));
            Assert.Contains("lport/p1 is stored twice", e.Message);
            Assert.Equal(1, snapshot.Count);
        }

        [Fact]
        public void An_id_stored_under_two_topics_is_an_error_naming_both()
        {
            var snapshot = new NbSnapshot();
            snapshot.AddOriginal(Entry("t1", "p1"));
            var e = Assert.Throws<NbStoreException>(() => snapshot.AddOriginal(Entry("t2", "p1")));
            Assert.Contains("lport/p1", e.Message);
            Assert.Contains("'t1'", e.Message);
            Assert.Contains("'t2'", e.Message);
        }

        // Enough objects that a pass parses them on a second thread, in batches.
        static NbSnapshot Large(int count, Func<string, byte[]> bytes = null)
        {
            var snapshot = new NbSnapshot();
            foreach (int i in Enumerable.Range(0, count).OrderBy(i => (i * 7919) % count))
            {
                string id = $"p{i:D5}";
                snapshot.AddOriginal(bytes == null ? Entry("t", id) : new NbEntry(new NbKey("lport", "t", id), bytes(id)));
            }
            return snapshot;
        }

        [Fact]
        public void A_pass_over_a_large_table_gives_every_object_in_id_order_and_ends_cleanly_when_left_early()
        {
            var snapshot = Large(3000);
            var ids = Enumerable.Range(0, 3000).Select(i => $"p{i:D5}").ToList();
            Assert.Equal(ids, snapshot.GetAll("lport").Select(o => (string)o["id"]));
            Assert.Equal(ids.Take(700), snapshot.GetAll("lport").Take(700).Select(o => (string)o["id"]));

            // Objects updated during a pass are handed out as the pass found them.
            int n = 0;
            foreach (var port in snapshot.GetAll("lport"))
            {
                if (n % 2 == 0) snapshot.Update("lport", new NbObject { ["id"] = $"p{n + 1:D5}", ["topic"] = "t", ["next"] = true });
                Assert.Null(port["next"]);
                port["n"] = n++;
                snapshot.Update("lport", port);
            }
            Assert.Equal(3000, n);
            Assert.Equal(3000, snapshot.Diff().Count);
            Assert.Equal(Enumerable.Range(0, 3000).Select(i => (object)(long)i), snapshot.GetAll("lport").Select(o => o["n"]));
        }

        [Fact]
        public void A_pass_paused_longer_than_the_parsing_thread_waits_still_gives_every_object()
        {
            var snapshot = Large(3000);
            snapshot.ParsingPatience = TimeSpan.FromMilliseconds(20);
            var ids = new List<string>();
            foreach (var port in snapshot.GetAll("lport"))
            {
                ids.Add((string)port["id"]);
                if (ids.Count == 300) System.Threading.Thread.Sleep(500);  // the parsing thread gives up; this one parses the rest
            }
            Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"p{i:D5}"), ids);
        }

        // An object's stored text is checked once, in the first pass that reads it: what that check
        // found must hold in every later pass and read, which hand the text out unchecked.
        [Theory]
        [InlineData(10)]    // read on the migration's thread
        [InlineData(3000)]  // checked a few batches ahead, on another thread
        public void A_value_that_is_not_an_object_is_refused_in_every_pass_and_read_not_only_the_first(int count)
        {
            var snapshot = Large(count, id => Encoding.UTF8.GetBytes(id == "p00005" ? "[1, 2]" : $"{{\"id\": \"{id}\", \"topic\": \"t\"}}"));
            for (int pass = 1; pass <= 2; pass++)
            {
                int seen = 0;
                var e = Assert.Throws<InvalidOperationException>(() => { foreach (var port in snapshot.GetAll("lport")) seen++; });
                Assert.Equal(5, seen);
                Assert.Equal("lport/p00005 (topic t) holds array, not an object; table 'lport' cannot be read as objects.", e.Message);
            }
            Assert.Throws<InvalidOperationException>(() => snapshot.Get("lport", "p00005"));
        }

        [Theory]
        [InlineData(10)]
        [InlineData(3000)]
        public void An_object_read_again_in_a_later_pass_is_compared_as_its_first_check_found_it_stored(int count)
        {
            // p00000 stored in another format than NbJson writes: rewritten with its data, it is no change.
            // p00001 stored as NbJson writes it: 1 rewritten as 1.0 is a change (to Dragonflow, a float).
            var snapshot = Large(count, id => Encoding.UTF8.GetBytes(
                id == "p00000" ? "{\"id\":\"p00000\",\"topic\":\"t\",\"n\":1.0}" : $"{{\"id\": \"{id}\", \"topic\": \"t\", \"n\": 1}}"));
            Assert.Equal(count, snapshot.GetAll("lport").Count());  // the first pass checks every object
            foreach (var port in snapshot.GetAll("lport"))
            {
                if ((string)port["id"] == "p00001") port["n"] = 1.0;
                snapshot.Update("lport", port);
            }
            var p0 = snapshot.Get("lport", "p00000");
            snapshot.Update("lport", p0);
            Assert.Equal(new[] { "lport/p00001 (topic t)" }, snapshot.Diff().Select(w => w.Key.ToString()));
            Assert.Equal("{\"id\": \"p00001\", \"topic\": \"t\", \"n\": 1.0}", Encoding.UTF8.GetString(snapshot.Diff()[0].Value.Span));
        }

        [Fact]
        public void An_object_that_is_not_json_stops_a_pass_over_a_large_table_at_that_object_naming_it()
        {
            var snapshot = Large(3000, id => Encoding.UTF8.GetBytes(id == "p01500" ? "{\"id\": \"p01500\", " : $"{{\"id\": \"{id}\"}}"));
            int seen = 0;
            var e = Assert.Throws<FormatException>(() => { foreach (var port in snapshot.GetAll("lport")) seen++; });
            Assert.Equal(1500, seen);
            Assert.Contains("lport/p01500", e.Message);
            Assert.Equal("lport/p01500", snapshot.LastObject);
        }
    }

    // Objects are handed out unread: a field is read from the stored text when asked for, and the
    // whole object when it is changed or a list or object member is asked for.
    public class UnreadObjectTests
    {
        static NbSnapshot Holding(string json)
        {
            var snapshot = new NbSnapshot();
            snapshot.AddOriginal(new NbEntry(new NbKey("lport", "t", "p1"), Encoding.UTF8.GetBytes(json)));
            return snapshot;
        }

        const string Port = "{\"id\": \"p1\", \"topic\": \"t\", \"name\": \"caf\\u00e9\", \"n\": 12345678901234567890, \"up\": true, \"none\": null, " +
                            "\"ips\": [\"10.0.0.1\"], \"binding\": {\"chassis\": \"c1\"}}";

        [Fact]
        public void Fields_read_one_by_one_are_those_of_the_whole_object()
        {
            var port = Holding(Port).Get("lport", "p1")!;
            var whole = (NbObject)NbJson.Parse(Encoding.UTF8.GetBytes(Port))!;
            foreach (var name in whole.Keys.Where(k => k != "ips" && k != "binding"))
            {
                Assert.Equal(whole[name], Holding(Port).Get("lport", "p1")![name]);
                Assert.True(Holding(Port).Get("lport", "p1")!.ContainsKey(name));
            }
            Assert.False(port.ContainsKey("missing"));
            Assert.Null(port["missing"]);
            Assert.Equal(whole.Keys, port.Keys);
            Assert.Equal(whole.Count, port.Count);
            Assert.Equal(Port, port.ToString());
        }

        // Members passed over on the way to the one asked for: quotes, brackets and escapes inside strings, numbers before a bracket, spacing.
        [Theory]
        [InlineData("{\"a\": \"x\\\"}]\", \"b\": {\"c\": \"}\", \"d\": [1, [2, \"]\\\\\"]]}, \"n\": -1.5e3, \"t\": true, \"z\": null, \"last\": \"found\"}")]
        [InlineData("{ \"a\" : [ ] , \"b\" : { } ,\n\t\"n\" : 12 , \"last\" : 7 }")]
        [InlineData("{\"n\": 12, \"e\": {}, \"last\": false}")]
        public void A_field_after_others_of_every_kind_is_read_as_the_whole_object_reads_it(string json)
        {
            var whole = (NbObject)NbJson.Parse(Encoding.UTF8.GetBytes(json))!;
            var port = new NbSnapshot();
            port.AddOriginal(new NbEntry(new NbKey("lport", null, "p1"), Encoding.UTF8.GetBytes(json.Insert(json.IndexOf('{') + 1, "\"id\": \"p1\", "))));
            foreach (var name in whole.Keys.Append("missing"))
            {
                var o = port.Get("lport", "p1")!;
                Assert.Equal(whole.ContainsKey(name), o.ContainsKey(name));
                if (!(whole[name] is NbObject || whole[name] is List<object>)) Assert.Equal(whole[name], port.Get("lport", "p1")![name]);
            }
        }

        [Fact]
        public void A_list_or_object_member_asked_for_belongs_to_the_object()
        {
            var snapshot = Holding(Port);
            var port = snapshot.Get("lport", "p1")!;
            ((List<object>)port["ips"]!).Add("10.0.0.2");
            ((NbObject)port["binding"]!)["chassis"] = "c2";
            Assert.True(port.TryGetValue("ips", out var ips));
            Assert.Equal(2, ((List<object>)ips!).Count);
            snapshot.Update("lport", port);
            var written = Encoding.UTF8.GetString(Assert.Single(snapshot.Diff()).Value.Span);
            Assert.Contains("\"ips\": [\"10.0.0.1\", \"10.0.0.2\"]", written);
            Assert.Contains("\"binding\": {\"chassis\": \"c2\"}", written);
        }

        [Fact]
        public void An_object_changed_field_by_field_keeps_its_other_members_and_their_order()
        {
            var snapshot = Holding(Port);
            var port = snapshot.Get("lport", "p1")!;
            Assert.Equal("t", port["topic"]);
            port["name"] = "x";
            port.Remove("none");
            port["added"] = 1;
            var copy = snapshot.Get("lport", "p1")!.Clone();
            snapshot.Update("lport", port);
            Assert.Equal(new[] { "id", "topic", "name", "n", "up", "ips", "binding", "added" }, snapshot.Get("lport", "p1")!.Keys);
            Assert.Equal(Port, copy.ToString());
            // Read and written back unchanged: no change.
            var again = Holding(Port);
            again.Update("lport", again.Get("lport", "p1")!);
            Assert.Empty(again.Diff());
        }

        [Theory]
        [InlineData("{\"id\": \"p1\", \"topic\": \"t\", \"topic\": \"u\"}", "member 'topic' appears twice")]
        [InlineData("{\"id\": \"p1\", \"x\": {\"a\": 1, \"a\": 2}}", "member 'a' appears twice")]
        [InlineData("[1, 2]", "holds array, not an object")]
        public void Text_the_whole_object_could_not_be_read_from_is_refused_when_the_object_is_handed_out(string json, string message)
        {
            var snapshot = Holding(json);
            var e = Assert.ThrowsAny<Exception>(() => snapshot.GetAll("lport").ToList());
            Assert.Contains(message, e.Message);
            Assert.Contains("lport", e.Message);
        }
    }

    public class AssemblyMigrationsTests
    {
        [Fact]
        public void Compiled_migrations_are_found_with_their_attribute_metadata()
        {
            var m = Assert.Single(AssemblyMigrations.Load(typeof(AttributeMigration).Assembly));
            Assert.Equal("attr-test", m.Id);
            Assert.Equal("from an attribute", m.Description);
            Assert.Equal(new[] { new SchemaChangeKey("lswitch", "subnets", SchemaChangeKind.FieldRemoved) }, m.Handles);
            Assert.Null(m.Checksum);
        }

        [Theory]
        [InlineData("2017-09-01", "not an ISO 8601 UTC time")]
        [InlineData("yesterday", "not an ISO 8601 UTC time")]
        [InlineData("2017-09-01T00:00:00", "not an ISO 8601 UTC time")]
        public void A_bad_proposed_date_is_an_error_naming_the_source(string date, string why)
        {
            var e = Assert.Throws<MigrationDefinitionException>(() => Migration.ValidateMetadata("x.ps1", "id", "queens", date));
            Assert.Contains("x.ps1", e.Message);
            Assert.Contains(why, e.Message);
        }
    }
}
