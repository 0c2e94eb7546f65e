using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    // A restore or an undo reads its backup (and an undo its journal) while another thread reads
    // the database: what either file turns out to be is still reported as the file's problem.
    [Collection(SafetyCollection.Name)]
    public class LoadWhileReadingHostileTests
    {
        // A finished run on a database of the kind: its backup, and the journal file beside it.
        static (string Uri, BackupInfo Backup) Committed(string kind)
        {
            string uri = Safe.NewDatabase(kind, Safe.Ports(30));
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.Bump }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(store, Safe.TempFile("backup.jsonl.gz"));
                CommitJournal.Commit(store, result.Writes, backup, new[] { "bump" }, result.Expected);
                return (uri, backup);
            }
        }

        // The journal file is what tells the run's writes from someone else's: one that is a pipe
        // leaves the undo unable to tell, and only -Force restores the backup (as a damaged
        // or missing journal file does).
        [Theory]
        [InlineData("file")]
        [InlineData("redis")]
        public void An_undo_whose_journal_file_is_a_pipe_says_it_cannot_tell_and_names_Force(string kind)
        {
            var (uri, backup) = Committed(kind);
            string journal = CommitJournal.JournalPathFor(backup.Path);
            Assert.True(File.Exists(journal));
            File.Delete(journal);
            Process.Start("mkfifo", journal).WaitForExit();
            var dump = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Record.Exception(() => CommitJournal.PlanUndo(store, force: false));
                Assert.True(e is DatabaseChangedException, $"{e?.GetType().Name}: {e?.Message}");
                var refused = (DatabaseChangedException)e!;
                Assert.Contains($"Cannot tell whether {store.Location} changed since migration run", refused.Message);
                Assert.Contains(journal, refused.Message);
                Assert.Contains($"-Force restores the run's backup {backup.Path}", refused.RecommendedAction);
                // The store is free: a forced undo goes through.
                CommitJournal.Undo(store, CommitJournal.PlanUndo(store, force: true));
            }
            Assert.NotEqual(dump, Safe.Dump(uri));
        }

        // An interrupted commit on a file database keeps its journal only in the file beside the backup:
        // one that cannot be read leaves -Force undo as the way out, and the refusal says so.
        [Fact]
        public void A_resume_whose_journal_file_is_a_pipe_is_refused_naming_the_forced_undo()
        {
            string uri = Safe.NewDatabase("file", Safe.Ports(30));
            BackupInfo backup;
            var real = NbStoreFactory.Open(uri);
            var migrator = new Migrator(real, new MigrationCatalog(new[] { Safe.Bump }));
            var result = migrator.Run(migrator.Plan().Pending);
            backup = NbBackup.Write(real, Safe.TempFile("backup.jsonl.gz"));
            // The marker and one batch written, then the store fails, as a killed process stops.
            using (var stepped = new SteppedStore(real, writesBeforeFailure: 2))
                Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(stepped, result.Writes, backup, new[] { "bump" }, result.Expected));
            string journal = CommitJournal.JournalPathFor(backup.Path);
            File.Delete(journal);
            Process.Start("mkfifo", journal).WaitForExit();
            var dump = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Record.Exception(() => CommitJournal.Resume(store));
                Assert.True(e is BackupInvalidException, $"{e?.GetType().Name}: {e?.Message}");
                var refused = (BackupInvalidException)e!;
                Assert.Contains(journal, refused.Message);
                Assert.Contains($"-Force restores the run's backup {backup.Path}", refused.RecommendedAction);
            }
            Assert.Equal(dump, Safe.Dump(uri));
        }

        // A backup deleted or replaced by a pipe after its header was read, before its lines are:
        // the backup is refused as such, as a backup that is damaged is.
        [Theory]
        [InlineData("deleted")]
        [InlineData("replaced by a pipe")]
        public void A_backup_gone_between_its_header_and_its_lines_is_refused_as_a_backup(string change)
        {
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(Safe.NewRedis(Safe.Ports(5)))) NbBackup.Write(store, path);
            var info = NbBackup.ReadCheckableHeader(path, null);
            File.Delete(path);
            if (change == "replaced by a pipe") Process.Start("mkfifo", path).WaitForExit();
            var e = Record.Exception(() => NbBackup.ReadObjects(info));
            Assert.True(e is BackupInvalidException, $"{e?.GetType().Name}: {e?.Message}");
            var refused = (BackupInvalidException)e!;
            Assert.Contains(path, refused.Message);
        }
    }
}
