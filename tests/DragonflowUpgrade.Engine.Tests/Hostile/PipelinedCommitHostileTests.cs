using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Hostile writers and servers against a commit or a restore handed to the store many batches at
    /// a time, its batches pipelined (8 in flight on Redis), a store stopping once a batch found a change.
    /// </summary>
    [Collection(SafetyCollection.Name)]
    public sealed class PipelinedCommitHostileTests
    {
        sealed class Hook : IProgress<ProgressReport>
        {
            readonly Func<ProgressReport, bool> _act;
            bool _done;
            public Hook(Func<ProgressReport, bool> act) { _act = act; }
            public void Report(ProgressReport value)
            {
                if (_done || value.Activity != "Writing the NB database" && !value.Activity.StartsWith("Restoring", StringComparison.Ordinal)) return;
                _done = _act(value);
            }
        }

        static int Done(ProgressReport r)
        {
            var m = Regex.Match(r.Status, @"^(\d+) of");
            return m.Success ? int.Parse(m.Groups[1].Value) : -1;
        }

        sealed class Run
        {
            public string Uri = "";
            public INbStore Store = null!;
            public SortedDictionary<string, string> Original = null!;
            public MigrationRunResult Result = null!;
            public BackupInfo Backup = null!;
            public List<NbEntry> Data = null!;
        }

        static Run Prepare(string kind, int ports, Migration? migration = null)
        {
            var r = new Run { Uri = Safe.NewDatabase(kind, Safe.Ports(ports)) };
            r.Store = NbStoreFactory.Open(r.Uri);
            r.Original = Safe.Dump(r.Store);
            var migrator = new Migrator(r.Store, new MigrationCatalog(new[] { migration ?? Safe.BumpAndDelete }));
            r.Result = migrator.Run(migrator.Plan().Pending);
            r.Backup = NbBackup.Write(r.Result.Before, r.Store.Location, Safe.TempFile("backup.jsonl.gz"));
            r.Data = r.Result.Writes.Where(w => w.Key.Table != MigrationLog.Table).ToList();
            return r;
        }

        static void WriteBehind(string uri, params NbEntry[] writes)
        {
            using (var other = NbStoreFactory.Open(uri)) other.Write(writes);
        }

        static NbEntry Theirs(NbKey key) =>
            new NbEntry(key, Safe.Json($"{{\"id\": \"{key.Id}\", \"topic\": \"{key.Topic}\", \"version\": 99}}"));

        // A write behind while batches are in flight, to a key in a batch not yet sent: the conflict's count is what the database holds.
        [Theory]
        [InlineData("redis")]
        [InlineData("etcd")]
        [InlineData("redis-cluster")]
        public void A_writer_behind_a_late_key_during_the_commit_leaves_Written_equal_to_what_the_database_holds(string kind)
        {
            var r = Prepare(kind, 15000);
            using (r.Store)
            {
                var late = r.Data.Where(w => w.Key.Table == "lport" && !w.IsDelete).ElementAt(13000).Key;
                var theirs = Theirs(late);
                var hook = new Hook(p => { if (Done(p) <= 0) return false; WriteBehind(r.Uri, theirs); return true; });
                Exception? thrown = Record.Exception(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected, hook));
                var now = Safe.Dump(r.Store);
                if (thrown == null)
                {
                    // The writer came after the commit wrote that key: it holds the writer's value, all else is migrated.
                    Assert.Equal(Convert.ToBase64String(theirs.Value.Span), now[late.ToString()]);
                    return;
                }
                var e = Assert.IsType<NbConflictException>(thrown);
                Assert.Equal(late, Assert.Single(e.Keys));
                int migrated = Safe.Written(r.Original, r.Result.Writes, now, late.ToString());
                Assert.True(e.Written == migrated, $"NbConflictException.Written {e.Written}, but the database holds {migrated} of the {r.Result.Writes.Count} writes");
                Assert.Contains($"stopped after {e.Written} of", e.Message);
                CommitJournal.Resume(r.Store, force: true);
                CommitJournal.Undo(r.Store, CommitJournal.PlanUndo(r.Store, force: true));
                Assert.Equal(r.Original, Safe.Dump(r.Store));
            }
        }

        // A conflict in the very first batch, found while 7 more are in flight: those 7 are written and counted.
        [Theory]
        [InlineData("redis")]
        [InlineData("etcd")]
        public void A_conflict_in_the_first_batch_counts_the_batches_in_flight_with_it(string kind)
        {
            var r = Prepare(kind, 15000);
            using (r.Store)
            {
                var first = r.Data.First(w => w.Key.Table == "lport" && !w.IsDelete).Key;
                WriteBehind(r.Uri, Theirs(first));
                var e = Assert.Throws<NbConflictException>(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected));
                Assert.Equal(first, Assert.Single(e.Keys));
                int migrated = Safe.Written(r.Original, r.Result.Writes, Safe.Dump(r.Store), first.ToString());
                Assert.True(e.Written == migrated, $"NbConflictException.Written {e.Written}, but the database holds {migrated} of the {r.Result.Writes.Count} writes");
                Assert.True(migrated < r.Data.Count - 1000, $"{migrated} written: the store went on sending after the conflict");
            }
        }

        // Another writer turns a later key into a Redis hash mid-commit: a conflict, and only it.
        [Fact]
        public void A_key_turned_into_a_hash_mid_commit_is_a_conflict_named_and_counted()
        {
            var r = Prepare("redis", 12000);
            using (r.Store)
            using (var mux = TestRedis.Connect())
            {
                var late = r.Data.Where(w => w.Key.Table == "lport" && !w.IsDelete).ElementAt(11000).Key;
                var db = mux.GetDatabase(TestRedis.DbOf(r.Uri));
                string redisKey = RedisNbStore.FormatKey(late);
                var hook = new Hook(p =>
                {
                    if (Done(p) <= 0) return false;
                    db.KeyDelete(redisKey);
                    db.HashSet(redisKey, "f", "v");
                    return true;
                });
                var e = Assert.Throws<NbConflictException>(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected, hook));
                Assert.Equal(late, Assert.Single(e.Keys));
                Assert.Equal(RedisType.Hash, db.KeyType(redisKey));
            }
        }

        // An object the run deletes or updates, written meanwhile by another writer in master's layout while
        // its queens key still holds what the run read: a conflict naming it, and their copy left as they wrote it.
        [Theory]
        [InlineData("deletes")]
        [InlineData("updates")]
        public void An_object_written_in_the_other_layout_is_a_conflict_not_a_resurrection_or_a_shadow(string what)
        {
            var r = Prepare("redis", 30);
            using (r.Store)
            using (var mux = TestRedis.Connect())
            {
                var target = what == "deletes" ? r.Data.Single(w => w.IsDelete).Key : r.Data.First(w => !w.IsDelete && w.Key.Table == "lport").Key;
                var db = mux.GetDatabase(TestRedis.DbOf(r.Uri));
                string masterForm = "{" + target.Table + "." + target.Topic + "}" + target.Id;
                string theirs = "{\"id\": \"" + target.Id + "\", \"topic\": \"" + target.Topic + "\", \"version\": 99}";
                db.StringSet(masterForm, theirs);
                Exception? thrown = Record.Exception(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected));
                Assert.True(thrown is NbConflictException, $"the commit {what} {target} and ended with {thrown?.GetType().Name ?? "no error"}: another writer's copy in master's layout ({masterForm}) went unseen");
                Assert.Equal(target, Assert.Single(((NbConflictException)thrown!).Keys));
                Assert.Equal(theirs, (string?)db.StringGet(masterForm));
            }
        }

        // The committing connection killed while batches are in flight: "interrupted after N" claims no more than the database holds; Resume then Undo give exactly the migrated, then the original, content.
        [Fact]
        public void A_connection_killed_mid_pipeline_reports_no_more_written_than_was_and_resume_and_undo_are_exact()
        {
            var r = Prepare("redis", 15000);
            using (r.Store)
            using (var mux = TestRedis.Connect())
            {
                int dbNo = TestRedis.DbOf(r.Uri);
                var server = mux.GetServer(TestRedis.Endpoint);
                var hook = new Hook(p =>
                {
                    if (Done(p) <= 0) return false;
                    foreach (var c in server.ClientList())
                        if (c.Database == dbNo) server.ClientKill(c.Id);
                    return true;
                });
                var e = Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected, hook));
                var m = Regex.Match(e.Message, @"interrupted after (\d+) of (\d+) changes");
                Assert.True(m.Success, e.Message);
                int claimed = int.Parse(m.Groups[1].Value);
                var now = Safe.Dump(r.Uri);
                int migrated = Safe.Written(r.Original, r.Result.Writes, now);
                Assert.True(claimed <= migrated, $"claims {claimed} written, the database holds {migrated}");
                using (var again = NbStoreFactory.Open(r.Uri))
                {
                    CommitJournal.Resume(again);
                    var after = Safe.Dump(again);
                    Assert.Equal(r.Result.Writes.Count, Safe.Written(r.Original, r.Result.Writes, after));
                    CommitJournal.Undo(again, CommitJournal.PlanUndo(again, force: false));
                    Assert.Equal(r.Original, Safe.Dump(again));
                }
            }
        }

        // Another writer creates the run's own migration-log row between the data and the log: the conflict names it; Written is the data.
        [Theory]
        [InlineData("redis")]
        [InlineData("etcd")]
        public void A_log_row_written_behind_after_the_data_is_a_conflict_counting_all_the_data(string kind)
        {
            var r = Prepare(kind, 3000);
            using (r.Store)
            {
                var logRow = r.Result.Writes.First(w => w.Key.Table == MigrationLog.Table);
                var hook = new Hook(p =>
                {
                    if (Done(p) < r.Data.Count) return false;
                    WriteBehind(r.Uri, new NbEntry(logRow.Key, Safe.Json("{\"id\": \"" + logRow.Key.Id + "\", \"hostile\": true}")));
                    return true;
                });
                var e = Assert.Throws<NbConflictException>(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected, hook));
                Assert.Equal(logRow.Key, Assert.Single(e.Keys));
                Assert.Equal(r.Data.Count, e.Written);
                Assert.Equal(r.Data.Count, Safe.Written(r.Original, r.Data, Safe.Dump(r.Store)));
            }
        }

        // A restore (undo) meeting a writer behind it while batches are in flight: Written is what the database holds restored.
        [Theory]
        [InlineData("redis")]
        [InlineData("etcd")]
        public void A_restore_meeting_a_writer_counts_exactly_what_it_restored(string kind)
        {
            string uri = Safe.NewDatabase(kind, Safe.Ports(15000));
            using (var store = NbStoreFactory.Open(uri))
            {
                var original = Safe.Dump(store);
                var path = NbBackup.Write(store.Read().ToList(), store.Location, Safe.TempFile("backup.jsonl.gz")).Path;
                var bumped = Safe.Ports(15000).Where(e => e.Key.Table == "lport").Select(e => Theirs(e.Key)).ToList();
                store.Write(bumped);
                var changed = Safe.Dump(store);
                var plan = NbRestore.Plan(store, path);
                var late = bumped[14000].Key;
                var hook = new Hook(p => { if (Done(p) <= 0) return false; WriteBehind(uri, new NbEntry(late, Safe.Json("{\"id\": \"x\"}"))); return true; });
                Exception? thrown = Record.Exception(() => NbRestore.Apply(store, plan, hook));
                if (thrown == null) return;
                var e = Assert.IsType<NbConflictException>(thrown);
                Assert.Equal(late, Assert.Single(e.Keys));
                var now = Safe.Dump(store);
                var restored = original.Count(kv => kv.Key != late.ToString() && now.TryGetValue(kv.Key, out var v) && v == kv.Value && changed[kv.Key] != kv.Value);
                Assert.True(e.Written == restored, $"Written {e.Written}, the database holds {restored} restored");
                Assert.Contains($"stopped after {e.Written} of", e.Message);
            }
        }

        // A commit whose log index set was turned into another type by a hostile writer: an error, not a half-written batch counted as whole.
        [Fact]
        public void A_log_index_of_another_type_fails_the_commit_without_overclaiming_and_undo_restores_exactly()
        {
            var r = Prepare("redis", 2500);
            using (r.Store)
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(r.Uri));
                var hook = new Hook(p =>
                {
                    if (Done(p) < r.Data.Count) return false;
                    db.KeyDelete(RedisNbStore.LogIndexKey);
                    db.ListRightPush(RedisNbStore.LogIndexKey, "x");
                    return true;
                });
                var thrown = Record.Exception(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected, hook));
                Assert.NotNull(thrown);
                var m = Regex.Match(thrown!.Message, @"(interrupted|stopped) after (\d+) of");
                Assert.True(m.Success, thrown.GetType().Name + ": " + thrown.Message);
                int claimed = int.Parse(m.Groups[2].Value);
                int migrated = Safe.Written(r.Original, r.Result.Writes, Safe.Dump(r.Uri));
                Assert.True(claimed <= migrated, $"claims {claimed}, the database holds {migrated}");
            }
        }

        // An undo whose restore loses its connection while batches are in flight: running it again restores exactly the original.
        [Fact]
        public void An_undo_whose_connection_is_killed_mid_restore_finishes_exactly_when_run_again()
        {
            var r = Prepare("redis", 15000);
            using (r.Store)
            using (var mux = TestRedis.Connect())
            {
                CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected);
                int dbNo = TestRedis.DbOf(r.Uri);
                var server = mux.GetServer(TestRedis.Endpoint);
                var plan = CommitJournal.PlanUndo(r.Store, force: false);
                var hook = new Hook(p =>
                {
                    if (Done(p) <= 0) return false;
                    foreach (var c in server.ClientList())
                        if (c.Database == dbNo) server.ClientKill(c.Id);
                    return true;
                });
                Assert.Throws<NbStoreException>(() => CommitJournal.Undo(r.Store, plan, hook));
                using (var again = NbStoreFactory.Open(r.Uri))
                {
                    CommitJournal.Undo(again, CommitJournal.PlanUndo(again, force: false));
                    Assert.Equal(r.Original, Safe.Dump(again));
                }
            }
        }

        // A password in the database's URI never shows in a conflict's or an interruption's message.
        [Fact]
        public void A_password_in_the_uri_is_in_no_conflict_or_interruption_message()
        {
            const string secret = "Hunter2-pipelined-secret";
            string plain = Safe.NewDatabase("redis", Safe.Ports(3000));
            using (var mux = TestRedis.Connect())
            {
                var server = mux.GetServer(TestRedis.Endpoint);
                server.Execute("ACL", "SETUSER", "hostilepipe", "on", ">" + secret, "~*", "&*", "+@all");
                try
                {
                    string uri = plain.Replace("redis://", "redis://hostilepipe:" + secret + "@");
                    using (var store = NbStoreFactory.Open(uri))
                    {
                        var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                        var result = migrator.Run(migrator.Plan().Pending);
                        var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                        var late = result.Writes.Where(w => w.Key.Table == "lport" && !w.IsDelete).ElementAt(2500).Key;
                        WriteBehind(plain, Theirs(late));
                        var e = Assert.Throws<NbConflictException>(() => CommitJournal.Commit(store, result.Writes, backup, new[] { "bump" }, result.Expected));
                        Assert.DoesNotContain(secret, e.ToString() + e.RecommendedAction);
                        var d = Assert.Throws<DatabaseChangedException>(() => CommitJournal.Resume(store));
                        Assert.DoesNotContain(secret, d.ToString() + d.RecommendedAction);
                        CommitJournal.Resume(store, force: true);
                    }
                    string uri2 = Safe.NewDatabase("redis", Safe.Ports(12000)).Replace("redis://", "redis://hostilepipe:" + secret + "@");
                    using (var store = NbStoreFactory.Open(uri2))
                    {
                        var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                        var result = migrator.Run(migrator.Plan().Pending);
                        var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                        var hook = new Hook(p =>
                        {
                            if (Done(p) <= 0) return false;
                            foreach (var c in server.ClientList())
                                if (c.Database == TestRedis.DbOf(uri2)) server.ClientKill(c.Id);
                            return true;
                        });
                        var e = Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(store, result.Writes, backup, new[] { "bump" }, result.Expected, hook));
                        Assert.DoesNotContain(secret, e.ToString());
                    }
                }
                finally { server.Execute("ACL", "DELUSER", "hostilepipe"); }
            }
        }

        // A writer on one master of a Redis Cluster racing the commit: whatever the moment, Written is what the database holds.
        [Fact]
        public void A_writer_racing_a_cluster_commit_leaves_Written_equal_to_what_the_database_holds()
        {
            var outcomes = new List<string>();
            foreach (int delay in new[] { 0, 20, 60, 120, 250, 400 })
            {
                var r = Prepare("redis-cluster", 12000);
                using (r.Store)
                {
                    var late = r.Data.Where(w => w.Key.Table == "lport" && !w.IsDelete).ElementAt(11000).Key;
                    var theirs = Theirs(late);
                    var writer = System.Threading.Tasks.Task.Run(() =>
                    {
                        System.Threading.Thread.Sleep(delay);
                        WriteBehind(r.Uri, theirs);
                    });
                    Exception? thrown = Record.Exception(() => CommitJournal.Commit(r.Store, r.Result.Writes, r.Backup, new[] { "bump" }, r.Result.Expected));
                    writer.Wait();
                    var now = Safe.Dump(r.Store);
                    if (thrown == null)
                    {
                        outcomes.Add($"{delay}: committed, the late key holds {(now[late.ToString()] == Convert.ToBase64String(theirs.Value.Span) ? "theirs" : "the run's")}");
                        Assert.True(now[late.ToString()] == Convert.ToBase64String(theirs.Value.Span), $"delay {delay}: the commit succeeded and {late} holds the run's value: the other writer's write was overwritten");
                        continue;
                    }
                    var e = Assert.IsType<NbConflictException>(thrown);
                    Assert.Equal(late, Assert.Single(e.Keys));
                    int migrated = Safe.Written(r.Original, r.Result.Writes, now, late.ToString());
                    Assert.True(e.Written == migrated, $"delay {delay}: NbConflictException.Written {e.Written}, the database holds {migrated}");
                    outcomes.Add($"{delay}: conflict after {e.Written}");
                    CommitJournal.Resume(r.Store, force: true);
                    CommitJournal.Undo(r.Store, CommitJournal.PlanUndo(r.Store, force: true));
                    Assert.Equal(r.Original, Safe.Dump(r.Store));
                }
            }
        }
    }
}
