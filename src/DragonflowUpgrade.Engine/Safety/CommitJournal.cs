using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
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
        // The journal's entries are stored in the database in rows of about this size (well under
        // etcd's default limit of 1.5 MiB a request), a few megabytes of rows at a time: a row per
        // change made its commit write and then delete as many keys again as the commit itself.
        const int JournalChunkBytes = 256 * 1024;
        const int JournalWriteBytes = 4 << 20;
        static readonly NbKey LastRunKey = new NbKey(RecordTable, null, ModuleTables.CommitRecordIds[1]);
        // Names the run whose journal rows the database may hold, from before the first row is
        // written until the last is removed: a journal a run left behind is found without a scan.
        static readonly NbKey JournalOfKey = new NbKey(RecordTable, null, ModuleTables.CommitRecordIds[2]);

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

        static (CommitRecord? Marker, CommitRecord? LastRun) ReadRecords(INbStore store) => Records(store.Read(RecordTable));

        static (CommitRecord? Marker, CommitRecord? LastRun) Records(IEnumerable<NbEntry> rows)
        {
            CommitRecord? marker = null, last = null;
            foreach (var e in rows)
            {
                if (e.Key.Equals(MarkerKey)) marker = CommitRecord.Parse(e);
                else if (e.Key.Equals(LastRunKey)) last = CommitRecord.Parse(e);
            }
            return (marker, last);
        }

        /// <summary>The run the journal rows in the database belong to, or "" when the record naming it does not say; null when there is no such record.</summary>
        static string? JournalRun(INbStore store) => JournalRun(store.Read(RecordTable));

        static string? JournalRun(IEnumerable<NbEntry> records)
        {
            foreach (var row in records.Where(e => e.Key.Equals(JournalOfKey)))
            {
                try
                {
                    using (var doc = JsonDocument.Parse(row.Value))
                        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("run", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : "";
                }
                catch (JsonException) { return ""; }
            }
            return null;
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

        /// <summary>Stores the journal (in the file and, as the file takes it, in the database) and then the marker. Returns the changes in the order they are applied.</summary>
        internal static (CommitRecord Record, IReadOnlyList<NbEntry> Changes) Prepare(INbStore store, IReadOnlyList<NbEntry> writes,
            BackupInfo backup, IReadOnlyList<string> migrations, IProgress<ProgressReport>? progress, string? keyLayoutOf = null)
        {
            if (writes.Any(w => ModuleTables.IsModuleTable(w.Key.Table)))
                throw new ArgumentException("A migration run cannot write the module's own tables.");
            // The data first, the migration log rows last: a log row says its migration is in the data.
            var changes = writes.Where(w => w.Key.Table != MigrationLog.Table).Concat(writes.Where(w => w.Key.Table == MigrationLog.Table)).ToList();
            string journalPath = JournalPathFor(backup.Path);
            string run = CommitRecord.NewRunId();
            var record = CommitRecord.Begin(run, store.Location, backup, journalPath, changes, migrations, keyLayoutOf);

            NbBackup.RequireStillThere(backup);
            progress?.Report(new ProgressReport("Storing the commit journal", journalPath, -1));
            bool inDatabase = store.Parts.KeepsJournal;
            if (inDatabase)
            {
                try
                {
                    // Rows left by a run that failed or was killed; or, once, rows an older version may have left (a row per change, no record naming them).
                    // The module's records are read once for both.
                    var records = store.Read(RecordTable).ToList();
                    if (JournalRun(records) != null || Records(records).LastRun is CommitRecord last && last.JournalChunks == 0) DeleteJournal(store, null);
                    store.Write(new[] { new NbEntry(JournalOfKey, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { run }))) });
                }
                catch (NbStoreException e)
                {
                    throw JournalNotStored(store, e);
                }
            }
            // Each entry is made once, as the file takes it; where the store keeps the journal too, the
            // entries go into the database as they are made, a run of them (a chunk) per row.
            int chunks = 0;
            NbStoreException? rowsError = null;  // thrown through the file's write: not the file's error
            // Each entry is yielded in the buffer of one reused writer: the file writes it before it asks for the next.
            // The rows are stored on another thread while the file takes the next entries, one write
            // at a time; the last is stored before the file is finished.
            IEnumerable<NbEntry> Journal()
            {
                var entries = new ReusedJsonWriter();
                var chunk = new MemoryStream();
                var rows = new List<NbEntry>();
                long rowBytes = 0;
                Task? storing = null;
                void CloseRow()
                {
                    chunk.WriteByte((byte)']');
                    rows.Add(new NbEntry(JournalKey(run, chunks++), chunk.ToArray()));
                    rowBytes += chunk.Length;
                    chunk.SetLength(0);
                }
                void AwaitStored()
                {
                    var write = storing;
                    storing = null;
                    try { write?.GetAwaiter().GetResult(); }
                    catch (Exception e)  // whatever the store threw: it must not pass for the file's error
                    {
                        throw rowsError = JournalNotStored(store, e);
                    }
                }
                try
                {
                    for (int i = 0; i < changes.Count; i++)
                    {
                        var value = JournalValue(entries, changes[i]);
                        if (inDatabase)
                        {
                            // A row is closed before an entry would take it past its size: only a row of one entry is larger.
                            if (chunk.Length > 0 && chunk.Length + value.Count >= JournalChunkBytes) CloseRow();
                            chunk.WriteByte(chunk.Length == 0 ? (byte)'[' : (byte)',');
                            chunk.Write(value.Array!, value.Offset, value.Count);  // a segment of the writer's buffer
                            if (i == changes.Count - 1) CloseRow();
                            if (rowBytes >= JournalWriteBytes || i == changes.Count - 1)
                            {
                                AwaitStored();
                                var full = rows;
                                // A thread of its own: a write blocks, and the store's replies may need the pool's threads.
                                storing = Task.Factory.StartNew(() => store.Write(full), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                                rows = new List<NbEntry>();
                                rowBytes = 0;
                            }
                        }
                        yield return new NbEntry(JournalKey(run, i), value.AsMemory());
                    }
                    AwaitStored();
                }
                finally
                {
                    // The file failed: its error is the one reported, and no write is left running behind it.
                    try { storing?.Wait(); }
                    catch (AggregateException) { }
                }
            }
            try
            {
                // Never over a file: one that appeared at the journal's path since the backup's was checked is someone else's.
                record = record.WithJournal(FileNbStore.WriteFile(journalPath, record.ToHeader(JournalFormat), Journal(), ownerOnly: true, replace: false), chunks);
            }
            catch (NbStoreException e) when (e != rowsError)
            {
                // Rows already stored stay, with the record naming them: the next run removes them.
                throw new NbStoreException($"Could not write the commit journal beside the backup: {e.Message} Nothing of the migration was written; the database is as it was.", e);
            }
            // The marker makes the backup the way back: it must still be there. Else the journal, of a commit that does not
            // begin, goes (it is this run's: it replaced nothing); its rows stay with the record naming them, for the next run to remove.
            try { NbBackup.RequireStillThere(backup); }
            catch (BackupInvalidException)
            {
                try { File.Delete(journalPath); } catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
                throw;
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
        /// Applies the journal's changes, the data first and then the log rows, in the store's
        /// batches, each only if its keys still hold what <paramref name="expected"/> gives.
        /// </summary>
        internal static void Apply(INbStore store, CommitRecord record, IReadOnlyList<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected,
            IProgress<ProgressReport>? progress)
        {
            int written = 0, ofPart = 0;  // the parts written, and the changes of the part under way
            // A commit to a release of another key layout writes in that one (and so moves every object there).
            var layout = record.KeyLayoutOf == null ? null : store.Parts.KeyLayoutAt(record.KeyLayoutOf);
            if (layout != null) store.Parts.UseKeyLayout(layout);
            var data = changes.Where(c => c.Key.Table != MigrationLog.Table).ToList();
            var log = changes.Where(c => c.Key.Table == MigrationLog.Table).ToList();
            try
            {
                // The log rows only once every change of the data is written.
                foreach (var part in new[] { data, log })
                {
                    ofPart = 0;
                    Batches.WriteIfInRounds(store, part, expected, n =>
                    {
                        ofPart = n;
                        progress?.Report(new ProgressReport("Writing the NB database", $"{written + n} of {changes.Count} changes written", 100 * (written + n) / Math.Max(1, changes.Count)));
                    });
                    written += part.Count;
                    ofPart = 0;
                }
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, written + ofPart, e, store.Parts.KeepsJournal);
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

        static NbStoreException JournalNotStored(INbStore store, Exception e) =>
            new NbStoreException($"Could not store the commit journal in {store.Location}: {e.Message} Nothing of the migration was written; the database is as it was.", e);

        /// <summary>Deletes the run's journal rows (all of them when <paramref name="run"/> is null), then the row that names them.</summary>
        static void DeleteJournal(INbStore store, CommitRecord? run)
        {
            // A record that does not say how many rows its journal has (an older version's, a row per change) has them found.
            var keys = run != null && run.JournalChunks > 0
                ? Enumerable.Range(0, run.JournalChunks).Select(i => JournalKey(run.RunId, i)).ToList()
                : store.ReadKeys(Table).Where(k => run == null || k.Id.StartsWith(run.RunId + ".", StringComparison.Ordinal)).ToList();
            store.Write(keys.Select(NbEntry.Delete).ToList());
            // Apart: a cluster may write the two tables on different masters, in any order. A record naming
            // another run's rows (one that failed before its marker) stays, so the next run removes them.
            if (run == null || JournalRun(store) == run.RunId) store.Write(new[] { NbEntry.Delete(JournalOfKey) });
        }

        /// <summary><see cref="DeleteJournal"/>, where the store keeps the journal; a failure is only a warning (the next run removes it).</summary>
        static void RemoveJournal(INbStore store, CommitRecord? run, ILogger? logger)
        {
            if (!store.Parts.KeepsJournal) return;
            try
            {
                DeleteJournal(store, run);
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
