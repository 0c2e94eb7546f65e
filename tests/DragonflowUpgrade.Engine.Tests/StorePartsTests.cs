using System;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// The lock, the key checks, the backups and the commit journal take what is particular to a
    /// store from the store itself: a store they do not know (here the real ones, wrapped) gets
    /// the same lock, checks, backup folder and journal as the store it wraps.
    /// </summary>
    [Collection(SafetyCollection.Name)]
    public class StorePartsTests
    {
        static string NewFile()
        {
            string path = Safe.TempFile("nb.jsonl");
            using (var store = new FileNbStore(path, create: true)) store.Write(Safe.Ports(300));
            return path;
        }

        [Fact]
        public void A_wrapped_Redis_store_takes_the_lock_of_the_database_it_wraps()
        {
            string uri = TestRedis.NewDatabase();
            using (var wrapped = new SteppedStore(NbStoreFactory.Open(uri)))
            using (UpgradeLock.Acquire(wrapped, "Invoke-DfMigration"))
            using (var plain = NbStoreFactory.Open(uri))
            {
                Assert.Equal("Invoke-DfMigration", UpgradeLock.Read(plain).Purpose);
                Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(plain, "Restore-DfNbDatabase"));
            }
        }

        [Fact]
        public void A_wrapped_file_store_takes_the_lock_file_beside_the_database_and_backs_up_beside_it()
        {
            string path = NewFile();
            using (var wrapped = new SteppedStore(new FileNbStore(path)))
            {
                using (UpgradeLock.Acquire(wrapped, "Invoke-DfMigration"))
                    Assert.True(File.Exists(path + ".lock"));
                Assert.False(File.Exists(path + ".lock"));
                string backup = NbBackup.DefaultPath(wrapped);
                Assert.Equal(Path.Combine(Path.GetDirectoryName(path), "df-backups"), Path.GetDirectoryName(backup));
                Assert.StartsWith("nb-", Path.GetFileName(backup));
            }
        }

        [Fact]
        public void A_wrapped_Redis_store_refuses_keys_its_layout_cannot_read_back()
        {
            using (var wrapped = new SteppedStore(NbStoreFactory.Open(TestRedis.NewDatabase())))
            {
                var e = Assert.Throws<NbKeyException>(() => StoredKeys.Require(wrapped, new[] { new NbKey("l.port", null, "p1") }));
                Assert.Contains("table 'l.port' topic none id 'p1' has '.', '{' or '}' in its table", e.Message);
            }
        }

        [Fact]
        public void A_commit_to_a_file_database_keeps_its_journal_beside_the_backup_only_and_resumes_from_it()
        {
            string path = NewFile();
            MigrationRunResult result;
            BackupInfo backup;
            using (var store = new FileNbStore(path))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.Bump }));
                result = migrator.Run(migrator.Plan().Pending);
                backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
            }
            // The marker goes through, the data does not.
            using (var stepped = new SteppedStore(new FileNbStore(path), writesBeforeFailure: 1))
            {
                Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(stepped, result.Writes, backup, new[] { "bump" }, result.Expected));
                Assert.Equal(new[] { CommitJournal.RecordTable }, stepped.TablesWritten.SelectMany(t => t));
            }
            Assert.True(File.Exists(CommitJournal.JournalPathFor(backup.Path)));
            using (var store = new FileNbStore(path))
            {
                Assert.Empty(store.ReadKeys(CommitJournal.Table));
                Assert.NotNull(CommitJournal.ReadInProgress(store));
                CommitJournal.Resume(store);
                Assert.Null(CommitJournal.ReadInProgress(store));
                Assert.All(store.Read("lport"), e => Assert.Equal(2L, ((NbObject)NbJson.Parse(e.Value.Span))["version"]));
            }
        }

        // A file is rewritten whole for each write it takes: a commit hands it all its changes at once, however many;
        // a server gets them a round at a time.
        [Fact]
        public void A_file_store_takes_all_of_a_commits_changes_in_one_write_and_a_server_a_round_at_a_time()
        {
            using (var file = new FileNbStore(Safe.TempFile("nb.jsonl"), create: true))
                Assert.Equal(1_000_000, file.Parts.WriteRound(1_000_000));
            using (var redis = NbStoreFactory.Open(TestRedis.NewDatabase()))
                Assert.InRange(redis.Parts.WriteRound(1_000_000), 1, 20_000);
        }

        [Fact]
        public void A_whole_commit_to_a_file_database_rewrites_the_file_four_times_the_marker_the_data_the_log_rows_and_the_record()
        {
            string path = NewFile();
            using (var store = new SteppedStore(new FileNbStore(path)))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.Bump }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                migrator.Commit(result, backup);
                Assert.Equal(4, store.Writes);   // with a copy of the journal in the file, 6
                Assert.Null(CommitJournal.ReadInProgress(store));
                Assert.NotNull(CommitJournal.ReadLastRun(store));
            }
        }

        [Fact]
        public void A_commit_to_Redis_stores_its_journal_in_the_database_first()
        {
            string uri = Safe.NewRedis(Safe.Ports(300));
            using (var store = new SteppedStore(NbStoreFactory.Open(uri)))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Safe.Bump }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                migrator.Commit(result, backup);
                // The row naming the run's journal, the journal, then the marker.
                Assert.Equal(new[] { CommitJournal.RecordTable }, store.TablesWritten[0]);
                Assert.Equal(new[] { CommitJournal.Table }, store.TablesWritten[1]);
                Assert.Equal(new[] { CommitJournal.RecordTable }, store.TablesWritten[2]);
            }
        }
    }
}
