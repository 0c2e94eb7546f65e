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

        static readonly List<NbEntry> Original = Safe.Ports(30);

        // Bumps every port's version, deletes p00010, creates lswitch s-new.
        static Migration Bump => new Migration("bump", "queens", "test bump", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:bump", nb =>
        {
            foreach (var port in nb.GetAll("lport").ToList())
            {
                if ((string)port["id"] == "p00010") { nb.Delete("lport", "p00010"); continue; }
                port["version"] = (long)port["version"] + 1;
                nb.Update("lport", port);
            }
            nb.Create("lswitch", new NbObject { ["id"] = "s-new", ["topic"] = "t0", ["version"] = 1 });
        });

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
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Bump }));
                var result = migrator.Run(migrator.Plan().Pending);
                WriteBehind(uri, write);
                var before = Safe.Dump(store);
                var e = Assert.Throws<NbConflictException>(() => migrator.Commit(result));
                Assert.Equal("NbCommitConflict", e.ErrorId);
                Assert.Contains(culprit, e.Message);
                Assert.Single(e.Keys);
                Assert.Equal(before, Safe.Dump(store));
                Assert.False(string.IsNullOrEmpty(what));
            }
        }

        [Fact]
        public void A_journaled_commit_that_meets_another_write_is_left_interrupted_resumed_only_with_force_and_can_be_undone()
        {
            string uri = NewDatabase(Original);
            using (var store = NbStoreFactory.Open(uri))
            {
                var original = Safe.Dump(store);
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Bump }));
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
                var again = Assert.Throws<NbConflictException>(() => CommitJournal.Resume(store));
                Assert.Contains("lport/p00003", again.Message);
                Assert.Contains("-Force", again.RecommendedAction);
                Assert.Equal(before, Safe.Dump(store));

                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: false));
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
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Bump }));
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

    [Collection(SafetyCollection.Name)]
    public sealed class RedisCommitConflictTests : CommitConflictTests
    {
        protected override string NewDatabase(IReadOnlyCollection<NbEntry> content) => Safe.NewRedis(content);
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
        protected override string NewDatabase(IReadOnlyCollection<NbEntry> content)
        {
            string path = Safe.TempFile("nb.jsonl");
            new FileNbStore(path, create: true).Write(content);
            return path;
        }
    }
}
