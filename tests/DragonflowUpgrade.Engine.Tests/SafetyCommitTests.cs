using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;
using Xunit.Abstractions;

namespace DragonflowUpgrade.Engine.Tests
{
    [Collection(SafetyCollection.Name)]
    public class CommitJournalTests
    {
        readonly ITestOutputHelper _output;
        public CommitJournalTests(ITestOutputHelper output) { _output = output; }

        const int Ports = 2500; // three batches of data, one of log rows

        static readonly List<NbEntry> Original = Safe.Ports(Ports);

        // Bumps every port's version, deletes every tenth port, adds a switch: puts and deletes.
        static Migration Bump => new Migration("bump", "queens", "test bump", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:bump", nb =>
        {
            foreach (var port in nb.GetAll("lport").ToList())
            {
                if (((string)port["id"]).EndsWith("0")) { nb.Delete("lport", (string)port["id"]); continue; }
                port["version"] = (long)port["version"] + 1;
                nb.Update("lport", port);
            }
            nb.Create("lswitch", new NbObject { ["id"] = "s-new", ["topic"] = "t0", ["version"] = 1 });
        });

        /// <summary>A seeded database, the run worked out on it, its backup, and the content a whole commit gives.</summary>
        sealed class Scenario
        {
            public string Uri;
            public MigrationRunResult Result;
            public BackupInfo Backup;
            public SortedDictionary<string, string> Before, After;
        }

        static Scenario Prepare(string kind = "redis")
        {
            var s = new Scenario { Uri = Safe.NewDatabase(kind, Original) };
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Bump }));
                s.Result = migrator.Run(migrator.Plan().Pending);
                s.Backup = NbBackup.Write(store, Safe.TempFile("backup.jsonl.gz"));
                s.Before = Safe.Dump(store);
            }
            var after = s.Before.ToDictionary(p => p.Key, p => p.Value);
            foreach (var w in s.Result.Writes)
            {
                if (w.IsDelete) after.Remove(w.Key.ToString());
                else after[w.Key.ToString()] = Convert.ToBase64String(w.Value.Span);
            }
            s.After = new SortedDictionary<string, string>(after, StringComparer.Ordinal);
            return s;
        }

        /// <summary>
        /// Commits with the store failing after the journal, the marker and the first <paramref name="batches"/>
        /// batches, as a killed process stops. How many writes that is, the store says: whether it keeps the
        /// journal in the database (two writes: the row naming the run's journal, then its rows, fewer than
        /// 4 MB of them); the test store steps the changes (<see cref="SteppedStore.StepSize"/>).
        /// </summary>
        static void Interrupt(Scenario s, Point point)
        {
            var real = NbStoreFactory.Open(s.Uri);
            int journal = real.Parts.KeepsJournal ? 2 : 0;
            using (var store = new SteppedStore(real, writesBeforeFailure: journal + 1 + Batches(s, point)))
                Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected));
        }

        /// <summary>Where a commit is cut short, in the test store's steps: the data first, the migration log rows last.</summary>
        public enum Point { NoBatch, OneBatch, HalfTheData, AllTheData, Everything }

        static int Batches(Scenario s, Point point)
        {
            int size = SteppedStore.StepSize;
            int log = s.Result.Writes.Count(w => w.Key.Table == MigrationLog.Table);
            int data = (s.Result.Writes.Count - log + size - 1) / size;
            switch (point)
            {
                case Point.NoBatch: return 0;
                case Point.OneBatch: return 1;
                case Point.HalfTheData: return (data + 1) / 2;
                case Point.AllTheData: return data;
                default: return data + (log + size - 1) / size;
            }
        }

        [Fact]
        public void A_whole_commit_writes_the_difference_and_leaves_no_journal_behind()
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                var report = CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
                Assert.Equal(250, report.Deletes);
                Assert.Null(CommitJournal.ReadInProgress(store));
                Assert.Equal(report.RunId, CommitJournal.ReadLastRun(store).RunId);
            }
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
            Assert.True(File.Exists(CommitJournal.JournalPathFor(s.Backup.Path)));
        }

        // A write per batch waited for each batch's round trip; a write of many lets the store keep its batches in flight.
        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_commit_hands_the_store_its_data_many_batches_at_a_time_and_then_its_log_rows(string kind)
        {
            var s = Prepare(kind);
            using (var store = new SteppedStore(NbStoreFactory.Open(s.Uri)))
            {
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
                int log = s.Result.Writes.Count(w => w.Key.Table == MigrationLog.Table);
                Assert.True(s.Result.Writes.Count - log > SteppedStore.StepSize);
                Assert.Equal(new[] { s.Result.Writes.Count - log, log }, store.ConditionalWrites);
            }
            Assert.Equal(s.After, Safe.Dump(s.Uri));
        }

        // The store's count of the batches it wrote, not of the writes it was handed, is the count an interrupted commit reports.
        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_commit_interrupted_part_way_through_a_write_reports_the_changes_written_before(string kind)
        {
            var s = Prepare(kind);
            var real = NbStoreFactory.Open(s.Uri);
            int journal = real.Parts.KeepsJournal ? 2 : 0;
            using (var store = new SteppedStore(real, writesBeforeFailure: journal + 1 + 2))
            {
                var e = Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected));
                Assert.Contains($"was interrupted after {2 * SteppedStore.StepSize} of {s.Result.Writes.Count} changes", e.Message);
            }
            var now = Safe.Dump(s.Uri);
            Assert.Equal(2 * SteppedStore.StepSize, Safe.Written(s.Before, s.Result.Writes, now));
        }

        [Fact]
        public void Storing_the_journal_reads_the_modules_records_once()
        {
            var s = Prepare();
            using (var store = new SteppedStore(NbStoreFactory.Open(s.Uri)))
            {
                CommitJournal.Prepare(store, s.Result.Writes, s.Backup, new[] { "bump" }, null);
                Assert.Equal(1, store.TablesRead.Count(t => t == CommitJournal.RecordTable));
                Assert.NotNull(CommitJournal.ReadInProgress(store));
            }
        }

        // A journal of about 15 MB is stored in four writes of rows (4 MB each, then the rest); each
        // is made while the file takes the next entries, and the last is awaited before the file is
        // finished. A write of rows that fails, wherever it is, stops the commit before its marker.
        [Theory]
        [InlineData("redis", 0, false)]  // the first write of rows
        [InlineData("redis", 2, false)]
        [InlineData("redis", 3, false)]  // the last
        [InlineData("etcd", 1, false)]
        [InlineData("redis", 2, true)]   // a store that fails with an error not its own: still the rows', not the file's
        public void A_journal_whose_rows_are_not_all_stored_stops_the_commit_before_its_marker_and_leaves_no_journal_file(string kind, int rowWrites, bool ioError)
        {
            string uri = Safe.NewDatabase(kind, Original);
            string filler = new string('x', 6000);
            var writes = Original.Where(e => e.Key.Table == "lport")
                .Select(e => new NbEntry(e.Key, Safe.Json($"{{\"id\": \"{e.Key.Id}\", \"topic\": \"{e.Key.Topic}\", \"filler\": \"{filler}\"}}"))).ToList();
            BackupInfo backup;
            SortedDictionary<string, string> before;
            using (var store = NbStoreFactory.Open(uri))
            {
                backup = NbBackup.Write(store, Safe.TempFile("backup.jsonl.gz"));
                before = Safe.Dump(store);
            }
            using (var store = new SteppedStore(NbStoreFactory.Open(uri), writesBeforeFailure: 1 + rowWrites))  // the row naming the journal, then rows
            {
                if (ioError) store.Failure = message => new IOException(message);
                var e = Assert.Throws<NbStoreException>(() => CommitJournal.Prepare(store, writes, backup, new[] { "fill" }, null));
                Assert.StartsWith($"Could not store the commit journal in {store.Location}: Could not write {store.Location}: the test stopped its writes after {1 + rowWrites}.", e.Message);
                Assert.EndsWith("Nothing of the migration was written; the database is as it was.", e.Message);
                Assert.Equal(1 + rowWrites, store.Writes);
                Assert.Null(CommitJournal.ReadInProgress(store));
            }
            // Neither the journal file nor its temporary file is left: the folder holds the backup alone.
            Assert.Equal(new[] { backup.Path }, Directory.GetFiles(Path.GetDirectoryName(backup.Path)));
            Assert.Equal(before, Safe.Dump(uri));
        }

        // The journal file cannot be put in place (here a folder took its name after the backup was
        // written; a full disk fails the same way): the commit stops before its marker, saying so.
        [Theory]
        [InlineData("redis")]
        [InlineData("file")]
        public void A_journal_file_that_cannot_be_written_stops_the_commit_before_its_marker_and_says_nothing_was_written(string kind)
        {
            var s = Prepare(kind);
            string journal = CommitJournal.JournalPathFor(s.Backup.Path);
            Directory.CreateDirectory(journal);
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                var e = Assert.Throws<NbStoreException>(() => CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected));
                Assert.StartsWith($"Could not write the commit journal beside the backup: Cannot write '{journal}': ", e.Message);
                Assert.EndsWith("Nothing of the migration was written; the database is as it was.", e.Message);
                Assert.Null(CommitJournal.ReadInProgress(store));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
            // With the folder gone, the next commit goes through and removes the rows the failed one stored.
            Directory.Delete(journal);
            using (var store = NbStoreFactory.Open(s.Uri))
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
        }

        // Someone else in the backup's folder between the backup's read-back and the commit: the
        // commit stops before its marker, writes over nothing of theirs and leaves the data as it was.
        [Theory]
        [InlineData("redis", "the backup deleted")]
        [InlineData("file", "the backup's folder deleted")]
        [InlineData("redis", "the backup deleted while the journal is stored")]
        [InlineData("redis", "the backup replaced by another backup")]
        [InlineData("file", "the backup replaced by a link to another backup")]
        [InlineData("file", "the backup replaced by an empty file")]
        [InlineData("file", "the backup deleted while the journal is stored")]
        [InlineData("redis", "the backup's folder replaced by a file")]
        [InlineData("file", "a file at the journal's path")]
        [InlineData("redis", "a link at the journal's path to another file")]
        public void A_backup_folder_changed_under_the_run_stops_the_commit_before_its_marker_and_writes_over_nothing(string kind, string change)
        {
            var s = Prepare(kind);
            string folder = Path.GetDirectoryName(s.Backup.Path), journal = CommitJournal.JournalPathFor(s.Backup.Path);
            string other = Safe.TempFile("theirs.txt");
            File.WriteAllText(other, "theirs");
            switch (change)
            {
                case "the backup deleted": File.Delete(s.Backup.Path); break;
                case "the backup's folder deleted": Directory.Delete(folder, true); break;
                case "the backup's folder replaced by a file": Directory.Delete(folder, true); File.WriteAllText(folder, "theirs"); break;
                case "a file at the journal's path": File.Copy(other, journal); break;
                case "the backup replaced by another backup": NbBackup.Write(Original.Take(3), "elsewhere", s.Backup.Path, overwrite: true); break;
                case "the backup replaced by a link to another backup":
                    File.Delete(s.Backup.Path);
                    File.CreateSymbolicLink(s.Backup.Path, NbBackup.Write(Original.Take(3), "elsewhere", Safe.TempFile("other.jsonl.gz")).Path);
                    break;
                case "the backup replaced by an empty file": File.WriteAllBytes(s.Backup.Path, Array.Empty<byte>()); break;
                case "a link at the journal's path to another file": File.CreateSymbolicLink(journal, other); break;
            }
            // Deleted once the commit has checked it and begun storing its journal.
            var storing = new OnReport(r => { if (change.EndsWith("while the journal is stored") && r.Activity == "Storing the commit journal") File.Delete(s.Backup.Path); });
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                var e = Record.Exception(() => CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected, storing));
                if (change.StartsWith("the backup", StringComparison.Ordinal))
                {
                    Assert.Equal($"{s.Backup.Path}: the run's backup was moved, deleted or replaced after it was written and read back, so its commit did not begin. " +
                                 "Nothing was written to the database.", Assert.IsType<BackupInvalidException>(e).Message);
                    Assert.Equal("Run again: the run reads the database afresh and writes a new backup.", ((BackupInvalidException)e).RecommendedAction);
                    // No journal beside it: a run that names the same backup path is not refused for one.
                    Assert.False(File.Exists(journal));
                    if (change == "the backup's folder replaced by a file") Assert.Equal("theirs", File.ReadAllText(folder));
                    else Assert.Equal(change != "the backup's folder deleted", Directory.Exists(folder));
                }
                else
                {
                    Assert.StartsWith("Could not write the commit journal beside the backup: Cannot write '", Assert.IsType<NbStoreException>(e).Message);
                    Assert.EndsWith("Nothing of the migration was written; the database is as it was.", e.Message);
                }
                Assert.Null(CommitJournal.ReadInProgress(store));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
            Assert.Equal("theirs", File.ReadAllText(other));
            if (change == "a file at the journal's path") Assert.Equal("theirs", File.ReadAllText(journal));
        }

        // A file whose folder cannot be made (a file holds its name) is the store's error, saying which file.
        [Fact]
        public void A_file_whose_folder_cannot_be_made_is_refused_naming_it()
        {
            string notAFolder = Safe.TempFile("theirs");
            File.WriteAllText(notAFolder, "theirs");
            string path = Path.Combine(notAFolder, "new.jsonl.gz");
            var e = Assert.Throws<NbStoreException>(() => FileNbStore.WriteFile(path, null, Original));
            Assert.StartsWith($"Cannot write '{path}': ", e.Message);
            Assert.Equal("theirs", File.ReadAllText(notAFolder));
        }

        sealed class OnReport : IProgress<ProgressReport>
        {
            readonly Action<ProgressReport> _report;
            public OnReport(Action<ProgressReport> report) { _report = report; }
            public void Report(ProgressReport value) => _report(value);
        }

        [Fact]
        public void A_journal_of_several_writes_of_rows_is_stored_whole_before_its_marker()
        {
            string uri = Safe.NewDatabase("redis", Original);
            string filler = new string('x', 6000);
            var writes = Original.Where(e => e.Key.Table == "lport")
                .Select(e => new NbEntry(e.Key, Safe.Json($"{{\"id\": \"{e.Key.Id}\", \"topic\": \"{e.Key.Topic}\", \"filler\": \"{filler}\"}}"))).ToList();
            using (var store = new SteppedStore(NbStoreFactory.Open(uri)))
            {
                var backup = NbBackup.Write(store, Safe.TempFile("backup.jsonl.gz"));
                var (record, changes) = CommitJournal.Prepare(store, writes, backup, new[] { "fill" }, null);
                // The row naming the journal, four writes of rows, the marker: in that order.
                Assert.Equal(6, store.Writes);
                Assert.Equal(new[] { CommitJournal.RecordTable, CommitJournal.Table, CommitJournal.Table, CommitJournal.Table, CommitJournal.Table, CommitJournal.RecordTable },
                             store.TablesWritten.Select(t => t.Single()));
                Assert.Equal(record.JournalChunks, Safe.ModuleKeys(uri, CommitJournal.Table).Count);
                File.Delete(CommitJournal.JournalPathFor(backup.Path));
                CommitJournal.Resume(store);  // from the database's copy alone: its rows hold every change
            }
            Assert.Equal(writes.ToDictionary(w => w.Key.ToString(), w => Convert.ToBase64String(w.Value.Span)),
                         Safe.Dump(uri).Where(p => p.Key.StartsWith("lport/")).ToDictionary(p => p.Key, p => p.Value));
        }

        // Cut after no batch, one, the data but none of the log rows, everything but the finish (0, 1, 3, 4 of the test store's steps of 1,000).
        public static TheoryData<string, Point> ResumeCases => Cases(Point.NoBatch, Point.OneBatch, Point.AllTheData, Point.Everything);
        public static TheoryData<string, Point> UndoCases => Cases(Point.NoBatch, Point.HalfTheData, Point.Everything);

        static TheoryData<string, Point> Cases(params Point[] points)
        {
            var cases = new TheoryData<string, Point>();
            foreach (string store in Safe.Stores)
                foreach (var point in points) cases.Add(store, point);
            return cases;
        }

        [Theory]
        [MemberData(nameof(ResumeCases))]
        public void A_commit_interrupted_after_any_batch_is_resumed_to_exactly_the_migrated_content(string kind, Point point)
        {
            var s = Prepare(kind);
            Interrupt(s, point);
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                var e = Assert.Throws<CommitInProgressException>(() => CommitJournal.RequireNoneInProgress(store));
                Assert.Contains("Resume-DfMigration", e.Message);
                Assert.Contains("Undo-DfMigration", e.Message);
                Assert.Contains(s.Backup.Path, e.Message);
                CommitJournal.Resume(store);
                Assert.Null(CommitJournal.ReadInProgress(store));
            }
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
        }

        [Theory]
        [MemberData(nameof(UndoCases))]
        public void A_commit_interrupted_after_any_batch_is_undone_to_exactly_the_original_content(string kind, Point point)
        {
            var s = Prepare(kind);
            Interrupt(s, point);
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                var plan = CommitJournal.PlanUndo(store, force: false);
                Assert.True(plan.Interrupted);
                CommitJournal.Undo(store, plan);
                Assert.Null(CommitJournal.ReadInProgress(store));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
        }

        [Fact]
        public void The_log_rows_are_written_after_all_the_data()
        {
            var s = Prepare();
            Interrupt(s, Point.AllTheData);
            var dump = Safe.Dump(s.Uri);
            Assert.DoesNotContain(dump.Keys, k => k.StartsWith(MigrationLog.Table + "/"));
            Assert.Equal(s.After.Where(p => !p.Key.StartsWith(MigrationLog.Table + "/")), dump);
        }

        [Fact]
        public void Resume_falls_back_on_the_journal_file_when_the_databases_copy_is_damaged()
        {
            var s = Prepare();
            Interrupt(s, Point.OneBatch);
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                store.Write(store.ReadKeys(CommitJournal.Table).Take(10).Select(NbEntry.Delete).ToList());
                CommitJournal.Resume(store);
            }
            Assert.Equal(s.After, Safe.Dump(s.Uri));
        }

        [Fact]
        public void Resume_refuses_when_both_copies_of_the_journal_are_damaged_and_Undo_still_works()
        {
            var s = Prepare();
            Interrupt(s, Point.OneBatch);
            File.WriteAllText(CommitJournal.JournalPathFor(s.Backup.Path), "");
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                store.Write(store.ReadKeys(CommitJournal.Table).Take(1).Select(NbEntry.Delete).ToList());
                var e = Assert.Throws<BackupInvalidException>(() => CommitJournal.Resume(store));
                Assert.Contains("Undo-DfMigration -Force restores the run's backup instead", e.Message);
                // Without a journal, an undo cannot tell the run's writes from someone else's: only forced.
                var refused = Assert.Throws<DatabaseChangedException>(() => CommitJournal.PlanUndo(store, force: false));
                Assert.Contains($"Cannot tell whether {store.Location} changed since migration run", refused.Message);
                Assert.Contains("-Force", refused.RecommendedAction);
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: true));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_journal_file_damaged_or_missing_names_the_backup_a_forced_undo_restores(bool missing)
        {
            var s = Prepare();
            Interrupt(s, Point.OneBatch);
            string journal = CommitJournal.JournalPathFor(s.Backup.Path);
            if (missing) File.Delete(journal);
            else File.WriteAllText(journal, "");
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                store.Write(store.ReadKeys(CommitJournal.Table).Take(1).Select(NbEntry.Delete).ToList());
                var e = Assert.Throws<BackupInvalidException>(() => CommitJournal.Resume(store));
                Assert.Contains($"Undo-DfMigration -Database {store.Location} -Force restores the run's backup {s.Backup.Path}", e.RecommendedAction);
                var refused = Assert.Throws<DatabaseChangedException>(() => CommitJournal.PlanUndo(store, force: false));
                Assert.Contains($"-Force restores the run's backup {s.Backup.Path}", refused.RecommendedAction);
                foreach (string message in new[] { e.Message, refused.Message })
                {
                    if (missing)
                    {
                        Assert.Contains($"{journal}: the commit journal file of run", message);
                        Assert.Contains("is missing", message);
                        Assert.DoesNotContain("is damaged (", message);
                    }
                    else Assert.Contains("is damaged (", message);
                }
            }
        }

        [Fact]
        public void Undo_takes_back_a_finished_run_and_its_log_rows()
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
                var plan = CommitJournal.PlanUndo(store, force: false);
                Assert.False(plan.Interrupted);
                CommitJournal.Undo(store, plan);
                Assert.Null(CommitJournal.ReadLastRun(store));
                Assert.Throws<NoUpgradeRunException>(() => CommitJournal.PlanUndo(store, force: false));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
        }

        [Fact]
        public void Undo_of_a_finished_run_is_refused_when_the_database_changed_since_unless_forced()
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
                store.Write(new[]
                {
                    new NbEntry(new NbKey("lport", "t1", "p00001"), Safe.Json("{\"id\": \"p00001\", \"version\": 9}")),
                    NbEntry.Delete(new NbKey("lport", "t2", "p00002")),
                });
                var e = Assert.Throws<DatabaseChangedException>(() => CommitJournal.PlanUndo(store, force: false));
                Assert.Equal("DatabaseChangedSinceRun", e.ErrorId);
                Assert.Contains("2 object(s)", e.Message);
                Assert.Contains("lport/p00001 (topic t1) changed", e.Message);
                Assert.Contains("lport/p00002 (topic t2) deleted", e.Message);
                Assert.Contains("Undo-DfMigration -Database " + store.Location + " -Force", e.RecommendedAction);
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: true));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
        }

        [Fact]
        public void Heartbeats_written_since_a_finished_run_do_not_block_its_undo()
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
                // The upgraded control plane ran for a while before the operator decided to go back.
                store.Write(new[]
                {
                    new NbEntry(new NbKey("service", null, "svc-1"), Safe.Json("{\"id\": \"svc-1\", \"chassis\": \"c1\", \"binary\": \"df-local-controller\", \"last_seen_up\": 1700000000.5}")),
                    new NbEntry(new NbKey("listener", "listener_ctl-1", "ctl-1"), Safe.Json("{\"id\": \"ctl-1\", \"timestamp\": 1700000000.5}")),
                    new NbEntry(new NbKey("publisher", null, "pub-1"), Safe.Json("{\"id\": \"pub-1\", \"last_activity_timestamp\": 1700000000.5}")),
                });
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: false));
            }
            Assert.Equal(s.Before, Safe.Dump(s.Uri));
        }

        [Fact]
        public void A_journal_left_by_a_run_killed_before_its_marker_changes_nothing_and_the_next_run_removes_it()
        {
            var s = Prepare();
            KilledBeforeItsMarker(s, s.Backup);
            Assert.NotEmpty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                Assert.Null(CommitJournal.ReadInProgress(store));
                Assert.Throws<NoUpgradeRunException>(() => CommitJournal.Resume(store));
                Assert.Equal(s.Before, Safe.Dump(store));
                CommitJournal.Commit(store, s.Result.Writes, NextBackup(store), new[] { "bump" }, s.Result.Expected);
            }
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
        }

        // The backup a next run makes: the journal of the last stays beside its own, and a journal never replaces a file.
        static BackupInfo NextBackup(INbStore store) => NbBackup.Write(store, Safe.TempFile("next.jsonl.gz"));

        // A run's commit stopped as a kill stops it after the record naming its journal and the journal's rows, before its marker.
        static void KilledBeforeItsMarker(Scenario s, BackupInfo backup)
        {
            using (var stepped = new SteppedStore(NbStoreFactory.Open(s.Uri), writesBeforeFailure: 2))
                Assert.Throws<CommitInterruptedException>(() => CommitJournal.Prepare(stepped, s.Result.Writes, backup, new[] { "bump" }, null));
        }

        [Fact]
        public void Undoing_the_last_run_keeps_the_record_of_rows_a_later_run_left_so_that_the_next_run_removes_them()
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri)) CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
            BackupInfo second;
            using (var store = NbStoreFactory.Open(s.Uri)) second = NbBackup.Write(store, Safe.TempFile("second.jsonl.gz"));
            KilledBeforeItsMarker(s, second);
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: false));
                Assert.Equal(s.Before, Safe.Dump(store));
                Assert.NotEmpty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
                CommitJournal.Commit(store, s.Result.Writes, NextBackup(store), new[] { "bump" }, s.Result.Expected);
            }
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
        }

        [Fact]
        public void Resume_reads_a_journal_of_several_rows_from_the_database_alone()
        {
            var s = Prepare();
            Interrupt(s, Point.OneBatch);
            Assert.True(Safe.ModuleKeys(s.Uri, CommitJournal.Table).Count > 1, "the journal should fill more than one row");
            File.Delete(CommitJournal.JournalPathFor(s.Backup.Path));
            using (var store = NbStoreFactory.Open(s.Uri)) CommitJournal.Resume(store);
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
        }

        // As the older version left a journal: a row per change, keyed and valued as the file's entries, no
        // record naming the rows, and a record of the run that does not say how many rows.
        static void AsAnOlderVersionLeftIt(INbStore store, string recordId, IEnumerable<NbEntry> rows)
        {
            var record = store.Read(CommitJournal.RecordTable).Single(e => e.Key.Id == recordId);
            string json = Encoding.UTF8.GetString(record.Value.Span);
            string older = System.Text.RegularExpressions.Regex.Replace(json, ",\"journal_chunks\":[0-9]+", "");
            Assert.NotEqual(json, older);
            var rowList = rows.ToList();
            store.Write(store.ReadKeys(CommitJournal.Table).Select(NbEntry.Delete).ToList());
            store.Write(rowList.Concat(new[] { new NbEntry(record.Key, Encoding.UTF8.GetBytes(older)), NbEntry.Delete(new NbKey(CommitJournal.RecordTable, null, "journal")) }).ToList());
        }

        [Fact]
        public void A_commit_an_older_version_journaled_a_row_per_change_is_resumed_from_the_database_alone()
        {
            var s = Prepare();
            Interrupt(s, Point.OneBatch);
            string journal = CommitJournal.JournalPathFor(s.Backup.Path);
            using (var store = NbStoreFactory.Open(s.Uri)) AsAnOlderVersionLeftIt(store, "in-progress", new FileNbStore(journal).Read());
            File.Delete(journal);
            using (var store = NbStoreFactory.Open(s.Uri)) CommitJournal.Resume(store);
            Assert.Equal(s.After, Safe.Dump(s.Uri));
            Assert.Empty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
        }

        [Fact]
        public void Rows_an_older_version_left_beside_its_last_run_are_removed_by_the_next_run()
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Commit(store, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected);
                var left = new NbEntry(new NbKey(CommitJournal.Table, null, "20250101T000000Z-0ld00000.00000000"), Safe.Json("{}"));
                AsAnOlderVersionLeftIt(store, "last-run", new[] { left });
                var (record, _) = CommitJournal.Prepare(store, s.Result.Writes, NbBackup.Write(store, Safe.TempFile("next.jsonl.gz")), new[] { "bump" }, null);
                Assert.NotEmpty(Safe.ModuleKeys(s.Uri, CommitJournal.Table));
                Assert.All(Safe.ModuleKeys(s.Uri, CommitJournal.Table), k => Assert.StartsWith(record.RunId + ".", k.Id));
            }
        }

        [Theory]
        [InlineData("\"changes\": \"7\"", "'changes' is \"7\"")]
        [InlineData("\"changes\": 1.5", "'changes' is 1.5")]
        [InlineData("\"pid\": \"12\"", "'pid' is \"12\"")]
        public void A_commit_record_with_a_number_field_that_is_not_a_number_is_refused_as_damaged_naming_the_field(string field, string named)
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Prepare(store, s.Result.Writes, s.Backup, new[] { "bump" }, null);
                var marker = store.Read(CommitJournal.RecordTable).Single(e => e.Key.Id == "in-progress");
                string name = field.Substring(1, field.IndexOf('"', 1) - 1);
                string json = System.Text.RegularExpressions.Regex.Replace(Encoding.UTF8.GetString(marker.Value.Span), $"\"{name}\":[0-9]+", field);
                Assert.Contains(field, json);
                store.Write(new[] { new NbEntry(marker.Key, Encoding.UTF8.GetBytes(json)) });

                var e = Assert.Throws<NbStoreException>(() => CommitJournal.ReadInProgress(store));
                Assert.Contains($"The commit record {marker.Key} is damaged", e.Message);
                Assert.Contains(named + ", not a whole number", e.Message);
            }
        }

        [Theory]
        [InlineData("backup")]
        [InlineData("backup_checksum")]
        [InlineData("journal")]
        [InlineData("journal_checksum")]
        public void A_commit_record_without_its_backup_or_journal_is_refused_as_damaged_naming_what_it_lacks(string name)
        {
            var s = Prepare();
            using (var store = NbStoreFactory.Open(s.Uri))
            {
                CommitJournal.Prepare(store, s.Result.Writes, s.Backup, new[] { "bump" }, null);
                var marker = store.Read(CommitJournal.RecordTable).Single(e => e.Key.Id == "in-progress");
                string json = System.Text.RegularExpressions.Regex.Replace(Encoding.UTF8.GetString(marker.Value.Span), $"\"{name}\":\"[^\"]*\",", "");
                Assert.DoesNotContain($"\"{name}\":", json);
                store.Write(new[] { new NbEntry(marker.Key, Encoding.UTF8.GetBytes(json)) });

                var e = Assert.Throws<NbStoreException>(() => CommitJournal.Resume(store));
                Assert.Contains($"The commit record {marker.Key} is damaged (it has no '{name}')", e.Message);
                e = Assert.Throws<NbStoreException>(() => CommitJournal.PlanUndo(store, force: true));
                Assert.Contains($"The commit record {marker.Key} is damaged (it has no '{name}')", e.Message);
                Assert.Equal(s.Before, Safe.Dump(store));

                // The way out the error names: a forced restore of the backup discards the damaged record.
                using (var restore = NbRun.PlanRestore(store, s.Backup.Path, new GuardOptions("Restore-DfNbDatabase", planOnly: false, force: true)))
                    restore.Execute();
                Assert.Null(CommitJournal.ReadInProgress(store));
                Assert.Equal(s.Before, Safe.Dump(store));
            }
        }

        [Fact]
        public void Twenty_thousand_changes_are_committed_exactly()
        {
            string uri = Safe.NewRedis(Safe.Ports(20000));
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Bump }));
                var result = migrator.Run(migrator.Plan().Pending);
                var expected = Safe.Dump(store);
                foreach (var w in result.Writes)
                {
                    if (w.IsDelete) expected.Remove(w.Key.ToString());
                    else expected[w.Key.ToString()] = Convert.ToBase64String(w.Value.Span);
                }
                var clock = Stopwatch.StartNew();
                var backup = NbBackup.Write(store, Safe.TempFile("big.jsonl.gz"));
                long backupMs = clock.ElapsedMilliseconds;
                clock.Restart();
                migrator.Commit(result, backup);
                _output.WriteLine($"backup of {backup.Objects} objects: {backupMs} ms; journaled commit of {result.Writes.Count} changes: {clock.ElapsedMilliseconds} ms");
                Assert.Equal(expected, Safe.Dump(store));
                Assert.Empty(store.ReadKeys(CommitJournal.Table));
            }
        }
    }
}
