using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;
using Xunit.Abstractions;

namespace DragonflowUpgrade.Engine.Tests
{
    [Collection(EtcdCollection.Name)]
    public class EtcdStoreTests
    {
        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        [Fact]
        public void Writes_go_in_transactions_of_128_changes_one_revision_each()
        {
            string uri = TestEtcd.NewDatabase();
            int count = EtcdNbStore.MaxTxnOps * 3 + 5;
            using (var store = NbStoreFactory.Open(uri))
            {
                var entries = Enumerable.Range(0, count)
                    .Select(i => new NbEntry(new NbKey("lport", "t" + (i % 3), "id" + i), Json($"{{\"id\": \"id{i}\", \"topic\": \"t{i % 3}\"}}")))
                    .ToList();
                long before = TestEtcd.Revision();
                store.Write(entries);
                Assert.Equal(4, TestEtcd.Revision() - before);
                Assert.Equal(count, store.ReadKeys("lport").Count());
            }
        }

        [Fact]
        public void Keys_are_dragonflows_table_slash_id_without_the_topic_and_values_the_json_text()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new[]
                {
                    new NbEntry(new NbKey("lport", "tenant1", "p1"), Json("{\"id\": \"p1\", \"topic\": \"tenant1\"}")),
                    new NbEntry(new NbKey("unique_key", null, "lport"), Json("7")),
                });
                Assert.Equal("{\"id\": \"p1\", \"topic\": \"tenant1\"}", TestEtcd.Get("/lport/p1").Value);
                Assert.Equal("7", TestEtcd.Get("/unique_key/lport").Value);
            }
        }

        [Fact]
        public void The_topic_is_the_values_top_level_topic_string_and_the_module_tables_have_none()
        {
            string uri = TestEtcd.NewDatabase();
            TestEtcd.Put("/lswitch/s1", "{\"id\": \"s1\", \"nested\": {\"topic\": \"inner\"}, \"topic\": \"t9\"}");
            TestEtcd.Put("/lswitch/s2", "{\"id\": \"s2\", \"topic\": null}");
            TestEtcd.Put("/lswitch/s3", "{\"id\": \"s3\", \"topic\": \"t\\u00e9\"}");
            TestEtcd.Put("/lswitch/s4", "{\"id\": \"s4\", \"topic\": \"\\ud800\"}");  // half of a surrogate pair, kept as the JSON reader keeps it
            TestEtcd.Put("/lswitch/s5", "{\"\\ud800\": 1, \"topic\": \"t5\"}");  // the same in a name before the topic
            TestEtcd.PutValue("/lswitch/s6", Encoding.UTF8.GetBytes("{\"id\": \"s6\", \"topic\": \"").Concat(new byte[] { 0xff, (byte)'"', (byte)'}' }).ToArray());
            TestEtcd.Put("/unique_key/lport", "12");
            TestEtcd.Put("/chassis/host-1", "not json");
            TestEtcd.Put("/df_upgrade_journal/run.00000000", "{\"op\": \"put\", \"table\": \"lport\", \"topic\": \"t1\"}");
            using (var store = NbStoreFactory.Open(uri))
            {
                var keys = store.ReadKeys().ToDictionary(k => k.Table + "/" + k.Id, k => k.Topic);
                Assert.Equal("t9", keys["lswitch/s1"]);
                Assert.Null(keys["lswitch/s2"]);
                Assert.Equal("t\u00e9", keys["lswitch/s3"]);
                Assert.Equal(new string((char)0xd800, 1), keys["lswitch/s4"]);
                var s4 = store.Read("lswitch").Single(e => e.Key.Id == "s4");
                Assert.Equal(keys["lswitch/s4"], s4.Key.Topic);
                Assert.Equal(s4.Key.Topic, ((NbObject)NbJson.Parse(s4.Value.Span)!)["topic"]);
                Assert.Equal("t5", keys["lswitch/s5"]);
                // Not UTF-8: no topic, and the value is refused by its key where values are checked.
                Assert.Null(keys["lswitch/s6"]);
                var refused = Assert.Throws<NbValueInvalidException>(() => StoredValue.Checked(store, "lswitch").ToList());
                Assert.Contains("lswitch/s6", refused.Message);
                Assert.Null(keys["unique_key/lport"]);
                Assert.Null(keys["chassis/host-1"]);
                Assert.Null(keys["df_upgrade_journal/run.00000000"]);
            }
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void An_object_that_changed_topic_is_one_key_and_its_put_wins_over_the_delete_of_its_old_topic(bool deleteFirst)
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new[] { new NbEntry(new NbKey("lport", null, "p"), Json("{\"id\": \"p\"}")) });
                var delete = NbEntry.Delete(new NbKey("lport", null, "p"));
                var put = new NbEntry(new NbKey("lport", "t1", "p"), Json("{\"id\": \"p\", \"topic\": \"t1\"}"));
                store.Write(deleteFirst ? new[] { delete, put } : new[] { put, delete });
                var e = Assert.Single(store.Read());
                Assert.Equal(new NbKey("lport", "t1", "p"), e.Key);
                // The same key put then deleted is deleted.
                store.Write(new[] { put, NbEntry.Delete(put.Key) });
                Assert.Empty(store.Read());
            }
        }

        [Fact]
        public void A_server_that_is_not_an_etcd_gateway_is_a_clear_error()
        {
            // The peer port speaks HTTP but has no /v3 gateway.
            string[] hostPort = TestEtcd.Endpoint.Split(':');
            string peer = $"etcd://{hostPort[0]}:{int.Parse(hostPort[1]) + 10}";
            var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open(peer));
            Assert.Contains(peer, e.Message);
            Assert.Contains("/v3/kv/range", e.Message);
        }

        [Fact]
        public void A_path_after_host_and_port_is_refused()
        {
            var e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open($"etcd://{TestEtcd.Endpoint}/nb"));
            Assert.Contains("no path", e.Message);
        }

        [Fact]
        public void A_gateway_error_is_an_error_naming_the_server_the_key_and_etcds_message()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                var huge = new NbEntry(new NbKey("lport", null, "huge"), Json("\"" + new string('x', 1600000) + "\""));
                var e = Assert.Throws<NbStoreException>(() => store.Write(new[] { huge }));
                Assert.Contains(uri, e.Message);
                Assert.Contains("/lport/huge", e.Message);
                Assert.Contains("etcdserver: request is too large", e.Message);
                Assert.Contains("--max-request-bytes", e.Message);
            }
        }

        [Fact]
        public void With_a_user_it_signs_in_and_again_when_its_token_expired()
        {
            string uri = "etcd://" + TestEtcd.AuthEndpoint;
            using (var store = NbStoreFactory.Open(uri))
            {
                Assert.DoesNotContain("@", store.Location);
                string table = "t" + Guid.NewGuid().ToString("N");
                store.Write(new[] { new NbEntry(new NbKey(table, null, "a"), Json("{}")) });
                Thread.Sleep(3500); // the test server's tokens live 2 idle seconds
                Assert.Single(store.Read(table));
                store.Write(new[] { NbEntry.Delete(new NbKey(table, null, "a")) });
            }
        }

        [Fact]
        public void Without_a_user_an_etcd_with_authentication_says_how_to_give_one()
        {
            string endpoint = TestEtcd.AuthEndpoint.Split('@')[1];
            var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open($"etcd://{endpoint}"));
            Assert.Contains("etcd://user:password@host:port", e.Message);
        }
    }

    /// <summary>The commit journal, backup, undo and resume, unchanged, on etcd.</summary>
    [Collection(EtcdCollection.Name)]
    public class EtcdSafetyTests
    {
        // 2,500 ports (every fifth without a topic) and their switches.
        static List<NbEntry> Original() => Safe.Ports(2500).Select(e =>
            e.Key.Table == "lport" && e.Key.Id.EndsWith("5")
                ? new NbEntry(new NbKey("lport", null, e.Key.Id), Safe.Json($"{{\"id\": \"{e.Key.Id}\", \"lswitch\": \"s0\", \"version\": 1}}"))
                : e).ToList();

        // Gives ports without a topic their switch's (as Queens' migration does), bumps the others, deletes every tenth.
        static Migration Move => new Migration("move", "queens", "test move", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:move", nb =>
        {
            foreach (var port in nb.GetAll("lport").ToList())
            {
                string id = (string)port["id"];
                if (id.EndsWith("0")) { nb.Delete("lport", id); continue; }
                if (port["topic"] == null) port["topic"] = "t0";
                else port["version"] = (long)port["version"] + 1;
                nb.Update("lport", port);
            }
        });

        static (string Uri, MigrationRunResult Result, BackupInfo Backup, SortedDictionary<string, string> Before, SortedDictionary<string, string> After) Prepare()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(Original());
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Move }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(store, Safe.TempFile("etcd-backup.jsonl.gz"));
                var before = Safe.Dump(store);
                var after = new SortedDictionary<string, string>(before, StringComparer.Ordinal);
                foreach (var w in result.Writes)
                {
                    if (w.IsDelete) after.Remove(w.Key.ToString());
                    else after[w.Key.ToString()] = Convert.ToBase64String(w.Value.Span);
                }
                return (uri, result, backup, before, after);
            }
        }

        [Fact]
        public void A_journaled_commit_that_moves_objects_to_a_topic_is_written_exactly_and_undone_exactly()
        {
            var s = Prepare();
            Assert.Contains(s.Result.Writes, w => w.IsDelete && w.Key.Topic == null && w.Key.Id == "p00005");
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "move" }, s.Result.Expected);
                Assert.Equal(s.After, Safe.Dump(store));
                Assert.Contains("\"topic\":\"t0\"", TestEtcd.Get("/lport/p00005").Value.Replace(" ", ""));
                Assert.Empty(store.ReadKeys(CommitJournal.Table));
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: false));
                Assert.Equal(s.Before, Safe.Dump(store));
                Assert.Null(CommitJournal.ReadLastRun(store));
            }
        }

        [Fact]
        public void An_interrupted_commit_is_resumed_from_the_journal_kept_in_etcd()
        {
            var s = Prepare();
            using (var stepped = new SteppedStore(NbStoreFactory.Open(s.Uri), writesBeforeFailure: 4)) // the journal (the row naming it, its rows), the marker, one batch
                Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(stepped, s.Result.Writes, s.Backup, new[] { "move" }, s.Result.Expected));
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                Assert.Throws<CommitInProgressException>(() => CommitJournal.RequireNoneInProgress(store));
                File.Delete(CommitJournal.JournalPathFor(s.Backup.Path)); // only etcd's copy is left
                CommitJournal.Resume(store);
                Assert.Null(CommitJournal.ReadInProgress(store));
                Assert.Equal(s.After, Safe.Dump(store));
            }
        }
    }

    [Collection(EtcdCollection.Name)]
    public class EtcdUpgradeLockTests
    {
        const string LockKey = "/df_upgrade_lock/lock";

        static string LockJson(string host, int pid) =>
            JsonSerializer.Serialize(new
            {
                host,
                pid,
                user = "someone",
                purpose = "Invoke-DfMigration",
                started_at = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("o"),
                expires_at = DateTimeOffset.UtcNow.AddHours(1).ToString("o"),
                token = Guid.NewGuid().ToString("N"),
            });

        static void WaitUntilGone(string key)
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (TestEtcd.Get(key).Value != null)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{key} did not expire");
                Thread.Sleep(100);
            }
        }

        [Fact]
        public void The_lock_is_the_key_df_upgrade_lock_lock_under_a_lease_of_its_time_to_live()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            using (UpgradeLock.Acquire(store, "Invoke-DfMigration"))
            {
                var (value, lease) = TestEtcd.Get(LockKey);
                using (var doc = JsonDocument.Parse(value))
                {
                    Assert.Equal(Environment.MachineName, doc.RootElement.GetProperty("host").GetString());
                    Assert.Equal(Process.GetCurrentProcess().Id, doc.RootElement.GetProperty("pid").GetInt32());
                }
                Assert.NotEqual(0, lease);
                Assert.InRange(TestEtcd.LeaseTtl(lease), 60, (long)UpgradeLock.RunTtl.TotalSeconds);
            }
        }

        [Fact]
        public void A_second_run_is_refused_and_told_who_holds_the_lock() => Safe.SecondRunIsRefused(TestEtcd.NewDatabase());

        [Fact]
        public void Releasing_the_lock_deletes_the_key_and_lets_the_next_run_take_it()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                UpgradeLock.Acquire(store, "first").Dispose();
                Assert.Null(TestEtcd.Get(LockKey).Value);
                using (UpgradeLock.Acquire(store, "second"))
                    Assert.Equal("second", UpgradeLock.Read(store).Purpose);
            }
        }

        [Fact]
        public void A_lock_whose_lease_expired_is_taken_over_and_its_old_holder_leaves_the_new_one_alone()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                var silent = UpgradeLock.Take(store, "silent", TimeSpan.FromSeconds(1), heartbeat: false);
                WaitUntilGone(LockKey);
                using (UpgradeLock.Acquire(store, "next"))
                {
                    silent.Dispose();
                    Assert.Equal("next", UpgradeLock.Read(store).Purpose);
                }
            }
        }

        [Fact]
        public void The_heartbeat_keeps_a_running_lock_alive()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            // Five seconds: a beat every 1.25 s, and room for a few late ones on a loaded machine,
            // where a request to etcd can wait seconds for a pool thread.
            using (UpgradeLock.Take(store, "beating", TimeSpan.FromSeconds(5), heartbeat: true))
            {
                // Each beat puts the lock under a new lease: seen three times, the key there at
                // every look, and still there once the lease it was taken under has run out.
                var (first, firstLease) = TestEtcd.Get(LockKey);
                DateTimeOffset firstExpiry;
                using (var doc = JsonDocument.Parse(first)) firstExpiry = doc.RootElement.GetProperty("expires_at").GetDateTimeOffset();
                var leases = new HashSet<long> { firstLease };
                Safe.WaitUntil(() =>
                {
                    var (value, lease) = TestEtcd.Get(LockKey);
                    Assert.True(value != null, "the beating lock lapsed");
                    Assert.Contains("beating", value);
                    leases.Add(lease);
                    return leases.Count >= 4 && DateTimeOffset.UtcNow > firstExpiry;
                }, "three renewals of the lock, past its first lease");
            }
        }

        [Fact]
        public void A_lock_held_on_another_host_is_refused_until_forced_and_a_broken_run_leaves_the_next_holders_lock_alone()
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                var run = UpgradeLock.Take(store, "run", TimeSpan.FromSeconds(2), heartbeat: true);
                Assert.Equal("run", UpgradeLock.Unlock(store, force: true).Purpose);
                TestEtcd.Put(LockKey, LockJson("controller-2", 4242), TestEtcd.GrantLease(60));
                var e = Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(store, "Invoke-DfMigration"));
                Assert.Contains("process 4242", e.Message);
                Assert.Contains("controller-2", e.Message);
                Safe.WaitUntil(() => run.Lost, "the run's heartbeat to find its lock gone");
                run.Dispose();
                Assert.True(run.Lost);
                Assert.Contains("controller-2", TestEtcd.Get(LockKey).Value);
                Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Unlock(store, force: false));
                Assert.Equal("controller-2", UpgradeLock.Unlock(store, force: true).Host);
                Assert.Null(TestEtcd.Get(LockKey).Value);
            }
        }
    }
}
