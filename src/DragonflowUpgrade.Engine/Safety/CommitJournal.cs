using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>
    /// The crash-safe commit of a migration run. The full list of puts and deletes is first
    /// stored durably, in a file beside the run's backup and, where the store keeps one
    /// (<see cref="NbStoreParts.KeepsJournal"/>: Redis, etcd), in the database's table
    /// <c>df_upgrade_journal</c>; then the marker <c>{df_upgrade_commit.}.in-progress</c> is
    /// written; then the changes are applied in batches, the data first and the migration log
    /// rows last; then the record of the run replaces the marker and the journal is removed.
    /// Every step can be repeated, so an interrupted commit is rolled forward by
    /// <see cref="Resume"/> or taken back to the backup by <see cref="Undo"/>.
    /// </summary>
    public static partial class CommitJournal
    {
        public const string Table = "df_upgrade_journal";
        public const string RecordTable = ModuleTables.CommitRecords;
        public const string JournalFormat = "dragonflow-upgrade-journal";
        static readonly NbKey MarkerKey = new NbKey(RecordTable, null, ModuleTables.CommitRecordIds[0]);
        // How many journal entries are made and written at a time.
        const int JournalChunk = 10000;
        static readonly NbKey LastRunKey = new NbKey(RecordTable, null, ModuleTables.CommitRecordIds[1]);

        /// <summary>The marker of an interrupted commit or undo; null when there is none.</summary>
        public static CommitRecord? ReadInProgress(INbStore store) => ReadRecords(store).Marker;

        /// <summary>The record of the last finished run that can be undone; null when there is none.</summary>
        public static CommitRecord? ReadLastRun(INbStore store) => ReadRecords(store).LastRun;

        /// <summary>Refuses with <see cref="CommitInProgressException"/> when an interrupted commit or undo waits.</summary>
        public static void RequireNoneInProgress(INbStore store)
        {
            var marker = ReadInProgress(store);
            if (marker != null) throw new CommitInProgressException(store.Location, marker);
        }

        static (CommitRecord? Marker, CommitRecord? LastRun) ReadRecords(INbStore store)
        {
            CommitRecord? marker = null, last = null;
            foreach (var e in store.Read(RecordTable))
            {
                if (e.Key.Equals(MarkerKey)) marker = CommitRecord.Parse(e);
                else if (e.Key.Equals(LastRunKey)) last = CommitRecord.Parse(e);
            }
            return (marker, last);
        }

        /// <summary>
        /// Commits <paramref name="writes"/> (a run's difference and log rows) through the
        /// journal. <paramref name="backup"/> is the backup the run made of the database first;
        /// <paramref name="expected"/>, what the run read: each batch is written only if its keys still hold it.
        /// </summary>
        public static CommitReport Commit(INbStore store, IReadOnlyList<NbEntry> writes, BackupInfo backup, IReadOnlyList<string> migrations,
            Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<ProgressReport>? progress = null, ILogger? logger = null, string? keyLayoutOf = null)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (record, changes) = Prepare(store, writes, backup, migrations, progress, keyLayoutOf);
            logger?.LogDebug("Stored the commit journal of {Count} changes and its marker in {Ms} ms.", changes.Count, clock.ElapsedMilliseconds);
            clock.Restart();
            Apply(store, record, changes, expected, progress);
            logger?.LogDebug("Wrote the {Count} changes, each batch if its keys still held what the run read, in {Ms} ms.", changes.Count, clock.ElapsedMilliseconds);
            Finish(store, record, logger);
            return new CommitReport(record);
        }

        /// <summary>Stores the journal (file, then database) and then the marker. Returns the changes in the order they are applied.</summary>
        internal static (CommitRecord Record, IReadOnlyList<NbEntry> Changes) Prepare(INbStore store, IReadOnlyList<NbEntry> writes,
            BackupInfo backup, IReadOnlyList<string> migrations, IProgress<ProgressReport>? progress, string? keyLayoutOf = null)
        {
            if (writes.Any(w => ModuleTables.IsModuleTable(w.Key.Table)))
                throw new ArgumentException("A migration run cannot write the module's own tables.");
            // The data first, the migration log rows last: a log row says its migration is in the data.
            var changes = writes.Where(w => w.Key.Table != MigrationLog.Table).Concat(writes.Where(w => w.Key.Table == MigrationLog.Table)).ToList();
            string journalPath = JournalPathFor(backup.Path);
            string run = CommitRecord.NewRunId();
            // The journal's entries are made as they are used, each time: held all at once they
            // would be one more copy of every changed value.
            IEnumerable<NbEntry> Journal()
            {
                for (int i = 0; i < changes.Count; i++) yield return ToJournalEntry(run, i, changes[i]);
            }
            var record = CommitRecord.Begin(run, store.Location, backup, journalPath, NbBackup.Checksum(Journal()), changes, migrations, keyLayoutOf);

            progress?.Report(new ProgressReport("Storing the commit journal", journalPath, -1));
            if (FileNbStore.WriteFile(journalPath, record.ToHeader(JournalFormat), Journal(), ownerOnly: true) != record.JournalChecksum)
                throw new IOException($"{journalPath}: the commit journal's content changed while it was written. Nothing of the migration was written; the database is as it was.");
            if (store.Parts.KeepsJournal)
            {
                try
                {
                    var stale = store.ReadKeys(Table).Select(NbEntry.Delete).ToList();
                    if (stale.Count > 0) store.Write(stale);
                    foreach (var chunk in Batches.Chunk(Journal(), JournalChunk)) store.Write(chunk);
                }
                catch (NbStoreException e)
                {
                    throw new NbStoreException($"Could not store the commit journal in {store.Location}: {e.Message} Nothing of the migration was written; the database is as it was.", e);
                }
            }
            try
            {
                store.Write(new[] { new NbEntry(MarkerKey, record.ToJson()) });
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, 0, e, store.Parts.KeepsJournal);
            }
            return (record, changes);
        }

        /// <summary>
        /// Applies the journal's changes in batches of the store's size, each only if its keys
        /// still hold what <paramref name="expected"/> gives.
        /// </summary>
        internal static void Apply(INbStore store, CommitRecord record, IReadOnlyList<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected,
            IProgress<ProgressReport>? progress)
        {
            int written = 0;
            // A commit to a release of another key layout writes in that one (and so moves every object there).
            var layout = record.KeyLayoutOf == null ? null : store.Parts.KeyLayoutAt(record.KeyLayoutOf);
            if (layout != null) store.Parts.UseKeyLayout(layout);
            var data = changes.Where(c => c.Key.Table != MigrationLog.Table).ToList();
            var log = changes.Where(c => c.Key.Table == MigrationLog.Table).ToList();
            int size = store.Parts.CommitBatchSize(changes.Count);
            try
            {
                foreach (var chunk in Batches.Chunk(data, size).Concat(Batches.Chunk(log, size)))
                {
                    store.WriteIf(chunk, expected);
                    written += chunk.Count;
                    progress?.Report(new ProgressReport("Writing the NB database", $"{written} of {changes.Count} changes written", 100 * written / Math.Max(1, changes.Count)));
                }
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, written, e, store.Parts.KeepsJournal);
            }
            catch (NbConflictException e)
            {
                written += e.Written;
                throw new NbConflictException(store.Location, e.Keys, written,
                    $"The commit of migration run {record.RunId} stopped after {written} of {record.Changes} changes; its journal is {(store.Parts.KeepsJournal ? "in the database and " : "")}beside the backup.",
                    $"Find what wrote those objects and stop it. Then Resume-DfMigration -Database {store.Location} checks them again and finishes the commit (-Force writes over them), " +
                    $"or Undo-DfMigration -Database {store.Location} restores the backup {record.BackupPath}.", e);
            }
        }

        /// <summary>Replaces the marker with the record of the finished run, then removes the journal from the database.</summary>
        internal static void Finish(INbStore store, CommitRecord record, ILogger? logger)
        {
            try
            {
                store.Write(new[] { new NbEntry(LastRunKey, record.With(CommitState.Committed, DateTimeOffset.UtcNow).ToJson()), NbEntry.Delete(MarkerKey) });
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, record.Changes, e, store.Parts.KeepsJournal);
            }
            RemoveJournal(store, record, logger);
        }

        /// <summary>Removes the run's journal entries (all of them when <paramref name="run"/> is null).</summary>
        static void RemoveJournal(INbStore store, CommitRecord? run, ILogger? logger)
        {
            if (!store.Parts.KeepsJournal) return;
            try
            {
                var keys = run == null
                    ? store.ReadKeys(Table).ToList()
                    : Enumerable.Range(0, run.Changes).Select(i => JournalKey(run.RunId, i)).ToList();
                store.Write(keys.Select(NbEntry.Delete).ToList());
            }
            catch (NbStoreException e)
            {
                (logger ?? NullLogger.Instance).LogWarning("The commit finished, but its journal could not be removed from the database ({Error}); the next run removes it.", e.Message);
            }
        }

        /// <summary>Removes an interrupted commit's marker and journal without applying them (after a forced restore).</summary>
        public static void Discard(INbStore store, ILogger? logger = null)
        {
            store.Write(new[] { NbEntry.Delete(MarkerKey) });
            RemoveJournal(store, null, logger);
        }
    }
}
