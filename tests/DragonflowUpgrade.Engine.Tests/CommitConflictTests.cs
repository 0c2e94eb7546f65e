using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// A write made by someone else between the run's read and its commit is never overwritten:
    /// the commit's batches are conditional on what the run read, on every store.
    /// </summary>
    public abstract class CommitConflictTests
    {
        protected abstract string NewDatabase(IReadOnlyCollection<NbEntry> content);

        /// <summary>Whether the store checks every change it is handed before it writes any (a file's one write, a cluster's check of every slot); else each batch checks its own.</summary>
        protected virtual bool ChecksEveryChangeFirst => false;

        static readonly List<NbEntry> Original = Safe.Ports(30);

        static NbKey Port(int i) => new NbKey("lport", "t" + (i % 7), $"p{i:D5}");

        // Someone else's write, through a connection of its own.
        static void WriteBehind(string uri, params NbEntry[] writes)
        {
            using (var other = NbStoreFactory.Open(uri)) other.Write(writes);
        }

        public static IEnumerable<object[]> OtherWrites() => new[]
        {
            new object[] { "an update of an object the run updates", "lport/p00003", new NbEntry(Port(3), Safe.Json("{\"id\": \"p00003\", \"topic\": \"t3\", \"version\": 9}")) },
            new object[] { "an update of an object the run deletes", "lport/p00010", new NbEntry(Port(10), Safe.Json("{\"id\": \"p00010\", \"topic\": \"t3\", \"version\": 9}")) },
            new object[] { "a delete of an object the run updates", "lport/p00004", NbEntry.Delete(Port(4)) },
            new object[] { "a create of an object the run creates", "lswitch/s-new", new NbEntry(new NbKey("lswitch", "t0", "s-new"), Safe.Json("{\"id\": \"s-new\", \"topic\": \"t0\", \"version\": 7}")) },
        };

        [Theory]
        [MemberData(nameof(OtherWrites))]
        public void A_write_made_after_the_read_fails_the_commit_naming_the_object_and_its_batch_writes_nothing(string what, string culprit, NbEntry write)
        {
            string uri = NewDatabase(Original);
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                WriteBehind(uri, write);
                var before = Safe.Dump(store);
                var e = Assert.Throws<NbConflictException>(() => migrator.Commit(result, backup));
                Assert.Equal("NbCommitConflict", e.ErrorId);
                Assert.Equal(culprit, Assert.Single(e.Keys).ToString().Split(' ')[0]);
                Assert.StartsWith($"1 object(s) of {store.Location} changed since the run read them: {culprit} ", e.Message);
                Assert.Contains($"The commit of migration run {CommitJournal.ReadInProgress(store).RunId} stopped after 0 of {result.Writes.Count} changes", e.Message);
                Assert.Equal(before, Safe.Dump(store));
                _ = what; // names the case in the test's display
            }
        }

        // The commit hands the store all of its data at once: once a batch finds a change, the
        // batches not yet sent stay unsent, for Resume-DfMigration or Undo-DfMigration to decide.
        [Fact]
        public void A_conflict_in_the_first_batch_leaves_the_batches_not_yet_sent_unwritten()
        {
            string uri = NewDatabase(Safe.Ports(12000));
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                var data = result.Writes.Where(w => w.Key.Table != MigrationLog.Table).ToList();
                var first = data.First(w => w.Key.Table == "lport" && !w.IsDelete).Key;
                var last = data.Last(w => w.Key.Table == "lport" && !w.IsDelete).Key;
                WriteBehind(uri, new NbEntry(first, Safe.Json($"{{\"id\": \"{first.Id}\", \"topic\": \"{first.Topic}\", \"version\": 99}}")));
                string lastBefore = Safe.Dump(store)[last.ToString()];

                var e = Assert.Throws<NbConflictException>(() => migrator.Commit(result, backup));
                Assert.Equal(first, Assert.Single(e.Keys));
                Assert.True(e.Written <= data.Count - 1000, $"{e.Written} of {data.Count} written");
                Assert.Equal(lastBefore, Safe.Dump(store)[last.ToString()]);
            }
        }

        // A commit hands a store its data a round at a time (NbStoreParts.WriteRound). In the store's own rounds (0), the
        // conflict is in a later batch of a server's one round, and a file store takes the whole data in one write. In
        // rounds of 1,024, standing in for a server's 16,384 in a larger commit, the conflict is in the third round.
        [Theory]
        [InlineData(0)]
        [InlineData(1024)]
        public void A_conflict_in_a_later_batch_leaves_the_earlier_batches_written_or_none_and_the_commit_resumable_or_undoable_only_with_force(int roundSize)
        {
            string uri = NewDatabase(Safe.Ports(2500));
            using (var store = roundSize == 0 ? NbStoreFactory.Open(uri) : new RoundedStore(NbStoreFactory.Open(uri), roundSize))
            {
                var original = Safe.Dump(store);
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                var data = result.Writes.Where(w => w.Key.Table != MigrationLog.Table).ToList();
                var late = data.Last(w => w.Key.Table == "lport" && !w.IsDelete).Key;
                int at = data.FindIndex(w => w.Key.Equals(late));
                Assert.True(at >= 2000); // past the second batch of a server's 1000
                var theirs = new NbEntry(late, Safe.Json($"{{\"id\": \"{late.Id}\", \"topic\": \"{late.Topic}\", \"version\": 99}}"));
                WriteBehind(uri, theirs);

                var e = Assert.Throws<NbConflictException>(() => migrator.Commit(result, backup));
                Assert.Equal(late, Assert.Single(e.Keys));
                var now = Safe.Dump(store);
                Assert.Equal(Convert.ToBase64String(theirs.Value.Span), now[late.ToString()]);
                // Every other object holds what the run read or what it writes, and exactly e.Written of them the latter.
                int written = Safe.Written(original, result.Writes, now, late.ToString());
                Assert.Equal(e.Written, written);
                // The rounds before the conflict's are written, and the batches before it (and those sent with them);
                // where the store checks all it is handed before it writes, exactly those rounds.
                int round = store.Parts.WriteRound(data.Count);
                if (ChecksEveryChangeFirst) Assert.Equal(at / round * round, written);
                else Assert.True(written >= Math.Max(at / round * round, 2000), $"{written} written");
                Assert.Contains($"stopped after {e.Written} of {result.Writes.Count} changes", e.Message);
                Assert.Null(CommitJournal.ReadLastRun(store));

                // The journal lets neither Resume nor Undo write over their object, but both with -Force.
                Assert.Contains(late.ToString(), Assert.Throws<DatabaseChangedException>(() => CommitJournal.Resume(store)).Message);
                Assert.Contains(late.ToString(), Assert.Throws<DatabaseChangedException>(() => CommitJournal.PlanUndo(store, force: false)).Message);
                Assert.Equal(now, Safe.Dump(store));
                CommitJournal.Resume(store, force: true);
                Assert.Equal(result.Writes.Count, CommitJournal.ReadLastRun(store).Changes);
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: true));
                Assert.Equal(original, Safe.Dump(store));
            }
        }

        [Fact]
        public void A_restore_does_not_write_over_an_object_changed_after_its_plan()
        {
            string uri = NewDatabase(Original);
            using (var store = NbStoreFactory.Open(uri))
            {
                var path = NbBackup.Write(store.Read().ToList(), store.Location, Safe.TempFile("backup.jsonl.gz")).Path;
                store.Write(new[] { new NbEntry(Port(3), Safe.Json("{\"id\": \"p00003\", \"topic\": \"t3\", \"version\": 5}")) });
                var plan = NbRestore.Plan(store, path);
                Assert.Equal(1, plan.Updated);
                WriteBehind(uri, new NbEntry(Port(3), Safe.Json("{\"id\": \"p00003\", \"topic\": \"t3\", \"version\": 9}")));
                var before = Safe.Dump(store);

                var e = Assert.Throws<NbConflictException>(() => NbRestore.Apply(store, plan));
                Assert.StartsWith($"1 object(s) of {store.Location} changed since the run read them: lport/p00003 ", e.Message);
                Assert.Contains("Restoring the NB database stopped after 0 of 1 writes", e.Message);
                Assert.Equal(before, Safe.Dump(store));
            }
        }

        [Fact]
        public void A_journaled_commit_that_meets_another_write_is_left_interrupted_and_resumed_or_undone_only_with_force()
        {
            string uri = NewDatabase(Original);
            using (var store = NbStoreFactory.Open(uri))
            {
                var original = Safe.Dump(store);
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                var theirs = new NbEntry(Port(3), Safe.Json("{\"id\": \"p00003\", \"topic\": \"t3\", \"version\": 9}"));
                WriteBehind(uri, theirs);
                var before = Safe.Dump(store);

                var e = Assert.Throws<NbConflictException>(() => migrator.Commit(result, backup));
                Assert.Contains("lport/p00003", e.Message);
                Assert.Contains("Resume-DfMigration", e.RecommendedAction);
                Assert.Contains("Undo-DfMigration", e.RecommendedAction);
                Assert.NotNull(CommitJournal.ReadInProgress(store));
                Assert.Equal(before, Safe.Dump(store));

                // Resuming checks again: the object still holds neither what the run read nor what it writes.
                var again = Assert.Throws<DatabaseChangedException>(() => CommitJournal.Resume(store));
                Assert.Equal("DatabaseChangedSinceRun", again.ErrorId);
                Assert.Contains("1 object(s)", again.Message);
                Assert.Contains("lport/p00003 (topic t3) changed", again.Message);
                Assert.Contains("Resume-DfMigration -Database " + store.Location + " -Force", again.RecommendedAction);
                Assert.Equal(before, Safe.Dump(store));

                // Undoing would write the backup over it too: the same check, the same refusal.
                var undo = Assert.Throws<DatabaseChangedException>(() => CommitJournal.PlanUndo(store, force: false));
                Assert.Equal("DatabaseChangedSinceRun", undo.ErrorId);
                Assert.Contains("lport/p00003 (topic t3) changed", undo.Message);
                Assert.Contains("Undo-DfMigration -Database " + store.Location + " -Force", undo.RecommendedAction);
                Assert.Equal(before, Safe.Dump(store));

                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: true));
                Assert.Equal(original, Safe.Dump(store));
                Assert.Null(CommitJournal.ReadInProgress(store));
            }
        }

        [Fact]
        public void A_forced_resume_finishes_the_commit_over_the_other_write()
        {
            string uri = NewDatabase(Original);
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.BumpAndDelete }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                WriteBehind(uri, new NbEntry(Port(3), Safe.Json("{\"id\": \"p00003\", \"topic\": \"t3\", \"version\": 9}")));
                Assert.Throws<NbConflictException>(() => migrator.Commit(result, backup));

                CommitJournal.Resume(store, force: true);
                Assert.Null(CommitJournal.ReadInProgress(store));
                var after = Safe.Dump(store);
                foreach (var w in result.Writes)
                {
                    if (w.IsDelete) Assert.False(after.ContainsKey(w.Key.ToString()));
                    else Assert.Equal(Convert.ToBase64String(w.Value.Span), after[w.Key.ToString()]);
                }
            }
        }
    }

    /// <summary>A store handed a commit's changes in rounds of the size given: what a commit of tens of thousands meets, in a few thousand.</summary>
    sealed class RoundedStore : INbStore
    {
        readonly INbStore _store;

        public RoundedStore(INbStore store, int round)
        {
            _store = store;
            Parts = new RoundParts(store.Parts, round);
        }

        public string Location => _store.Location;
        public NbStoreParts Parts { get; }
        public IEnumerable<NbEntry> Read(string table = null) => _store.Read(table);
        public IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables) => _store.ReadTables(tables);
        public IEnumerable<NbKey> ReadKeys(string table = null) => _store.ReadKeys(table);
        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null) => _store.Write(changes, progress);
        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int> progress = null) =>
            _store.WriteIf(changes, expected, progress);
        public void Dispose() => _store.Dispose();

        // The wrapped store's parts, but for the round.
        sealed class RoundParts : NbStoreParts
        {
            readonly NbStoreParts _parts;
            readonly int _round;
            public RoundParts(NbStoreParts parts, int round) { _parts = parts; _round = round; }
            public override int WriteRound(int changes) => _round;
            public override ILockSlot LockSlot(NbKey key) => _parts.LockSlot(key);
            public override bool KeepsJournal => _parts.KeepsJournal;
            public override NbKeyLayout KeyLayout => _parts.KeyLayout;
            public override NbKeyLayout KeyLayoutAt(string release) => _parts.KeyLayoutAt(release);
            public override IReadOnlyDictionary<NbKeyLayout, string> FindKeyLayouts() => _parts.FindKeyLayouts();
            public override void UseKeyLayout(NbKeyLayout layout) => _parts.UseKeyLayout(layout);
            public override string DefaultBackupFolder => _parts.DefaultBackupFolder;
            public override string BackupName => _parts.BackupName;
        }
    }

    [Collection(SafetyCollection.Name)]
    public sealed class RedisCommitConflictTests : CommitConflictTests
    {
        protected override string NewDatabase(IReadOnlyCollection<NbEntry> content) => Safe.NewRedis(content);

        // A read of many values at once (MGET) answers nothing for a key of another type, as for
        // an absent one: a check that read so would write over such a key.
        [Theory]
        [InlineData("an object the run updates")]
        [InlineData("an object the run creates")]
        public void A_value_of_another_type_written_in_place_of_an_object_is_a_conflict_and_its_batch_writes_nothing(string where)
        {
            var content = Safe.Ports(5);
            string uri = Safe.NewRedis(content);
            var created = new NbKey("lport", "t0", "p-new");
            var culprit = where.EndsWith("updates") ? content[2].Key : created;
            var writes = content.Select(e => new NbEntry(e.Key, Safe.Json("{\"id\": \"" + e.Key.Id + "\", \"version\": 2}")))
                .Append(new NbEntry(created, Safe.Json("{\"id\": \"p-new\"}"))).ToList();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                db.KeyDelete(RedisNbStore.FormatKey(culprit));
                db.HashSet(RedisNbStore.FormatKey(culprit), "id", "x");
                using (var store = NbStoreFactory.Open(uri))
                {
                    var held = content.ToDictionary(c => c.Key, c => c.Value);
                    var e = Assert.Throws<NbConflictException>(() => store.WriteIf(writes, k => held.TryGetValue(k, out var v) ? v : (ReadOnlyMemory<byte>?)null));
                    Assert.Equal(culprit, Assert.Single(e.Keys));
                }
                foreach (var c in content.Where(c => !c.Key.Equals(culprit)))
                    Assert.Equal(System.Text.Encoding.UTF8.GetString(c.Value.Span), (string)db.StringGet(RedisNbStore.FormatKey(c.Key)));
                Assert.Equal("x", (string)db.HashGet(RedisNbStore.FormatKey(culprit), "id"));
                if (!culprit.Equals(created)) Assert.False(db.KeyExists(RedisNbStore.FormatKey(created)));
            }
        }

        [Fact]
        public void A_batch_that_puts_and_deletes_one_key_in_turn_leaves_what_its_last_change_says()
        {
            var content = Safe.Ports(3);
            string uri = Safe.NewRedis(content);
            var key = content[1].Key;
            var writes = new List<NbEntry>
            {
                new NbEntry(content[0].Key, Safe.Json("{\"id\": \"p00000\", \"version\": 2}")),
                NbEntry.Delete(key),
                new NbEntry(key, Safe.Json("{\"id\": \"p00001\", \"version\": 3}")),
                NbEntry.Delete(content[2].Key),
            };
            using (var store = NbStoreFactory.Open(uri))
            {
                var expected = content.ToDictionary(c => c.Key, c => c.Value);
                store.WriteIf(writes, k => expected[k]);   // both changes of the key are checked against what it held
            }
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                Assert.Equal("{\"id\": \"p00001\", \"version\": 3}", (string)db.StringGet(RedisNbStore.FormatKey(key)));
                Assert.Equal("{\"id\": \"p00000\", \"version\": 2}", (string)db.StringGet(RedisNbStore.FormatKey(content[0].Key)));
                Assert.False(db.KeyExists(RedisNbStore.FormatKey(content[2].Key)));
            }
        }
    }

    [Collection(EtcdCollection.Name)]
    public sealed class EtcdCommitConflictTests : CommitConflictTests
    {
        protected override string NewDatabase(IReadOnlyCollection<NbEntry> content)
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri)) store.Write(content);
            return uri;
        }
    }

    public sealed class FileCommitConflictTests : CommitConflictTests
    {
        protected override bool ChecksEveryChangeFirst => true;

        protected override string NewDatabase(IReadOnlyCollection<NbEntry> content)
        {
            string path = Safe.TempFile("nb.jsonl");
            new FileNbStore(path, create: true).Write(content);
            return path;
        }
    }
}
