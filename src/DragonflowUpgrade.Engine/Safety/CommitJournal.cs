using DragonflowUpgrade.Engine;
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>What a finished commit wrote.</summary>
    public sealed class CommitReport
    {
        internal CommitReport(CommitRecord r)
        {
            RunId = r.RunId;
            Database = r.Database;
            Migrations = r.Migrations;
            Puts = r.Puts;
            Deletes = r.Deletes;
            BackupPath = r.BackupPath;
            JournalPath = r.JournalPath;
        }

        public string RunId { get; }
        public string Database { get; }
        public IReadOnlyList<string> Migrations { get; }
        public int Puts { get; }
        public int Deletes { get; }
        public string BackupPath { get; }
        public string JournalPath { get; }
    }

    /// <summary>What Undo-DfMigration would restore, checked; <see cref="CommitJournal.Undo"/> carries it out.</summary>
    public sealed class UndoPlan
    {
        internal UndoPlan(CommitRecord run, bool interrupted, RestorePlan restore, CommitRecord marker, CommitRecord lastRun)
        {
            Run = run;
            Interrupted = interrupted;
            Restore = restore;
            Marker = marker;
            LastRun = lastRun;
        }

        public CommitRecord Run { get; }
        /// <summary>The run's commit did not finish (otherwise it is a finished run being taken back).</summary>
        public bool Interrupted { get; }
        public RestorePlan Restore { get; }
        internal CommitRecord Marker { get; }
        internal CommitRecord LastRun { get; }
    }

    /// <summary>
    /// The crash-safe commit of a migration run. The full list of puts and deletes is first
    /// stored durably, in a file beside the run's backup and in the database's table
    /// <c>df_upgrade_journal</c>; then the marker <c>{df_upgrade_commit.}.in-progress</c> is
    /// written; then the changes are applied in batches, the data first and the migration log
    /// rows last; then the record of the run replaces the marker and the journal is removed.
    /// Every step can be repeated, so an interrupted commit is rolled forward by
    /// <see cref="Resume"/> or taken back to the backup by <see cref="Undo"/>.
    /// </summary>
    public static class CommitJournal
    {
        public const string Table = "df_upgrade_journal";
        public const string RecordTable = "df_upgrade_commit";
        public const string JournalFormat = "dragonflow-upgrade-journal";
        internal const int BatchSize = 1000;
        static readonly NbKey MarkerKey = new NbKey(RecordTable, null, "in-progress");
        static readonly NbKey LastRunKey = new NbKey(RecordTable, null, "last-run");

        /// <summary>
        /// Test hook: when this environment variable holds a number of milliseconds, every write
        /// step of a commit, undo or restore pauses that long afterwards, so that a test can kill
        /// the process or stop the server part way. Never set it in production.
        /// </summary>
        public const string TestPauseVariable = "DF_UPGRADE_TEST_COMMIT_PAUSE_MS";

        /// <summary>The marker of an interrupted commit or undo; null when there is none.</summary>
        public static CommitRecord ReadInProgress(INbStore store) => ReadRecords(store).Marker;

        /// <summary>The record of the last finished run that can be undone; null when there is none.</summary>
        public static CommitRecord ReadLastRun(INbStore store) => ReadRecords(store).LastRun;

        /// <summary>Refuses with <see cref="CommitInProgressException"/> when an interrupted commit or undo waits.</summary>
        public static void RequireNoneInProgress(INbStore store)
        {
            var marker = ReadInProgress(store);
            if (marker != null) throw new CommitInProgressException(store.Location, marker);
        }

        static (CommitRecord Marker, CommitRecord LastRun) ReadRecords(INbStore store)
        {
            CommitRecord marker = null, last = null;
            foreach (var e in store.Read(RecordTable))
            {
                if (e.Key.Equals(MarkerKey)) marker = CommitRecord.Parse(e);
                else if (e.Key.Equals(LastRunKey)) last = CommitRecord.Parse(e);
            }
            return (marker, last);
        }

        /// <summary>The journal file of a backup: <c>x.jsonl.gz</c> → <c>x.journal.jsonl.gz</c>.</summary>
        public static string JournalPathFor(string backupPath)
        {
            foreach (var suffix in new[] { ".jsonl.gz", ".jsonl" })
                if (backupPath.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                    return backupPath.Substring(0, backupPath.Length - suffix.Length) + ".journal" + suffix;
            return backupPath + ".journal.jsonl.gz";
        }

        /// <summary>
        /// Commits <paramref name="writes"/> (a run's difference and log rows) through the
        /// journal. <paramref name="backup"/> is the backup the run made of the database first;
        /// <paramref name="expected"/>, what the run read: each batch is written only if its keys still hold it.
        /// </summary>
        public static CommitReport Commit(INbStore store, IReadOnlyList<NbEntry> writes, BackupInfo backup, IReadOnlyList<string> migrations,
            Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<ProgressReport> progress = null, ILogger logger = null)
        {
            var (record, changes) = Prepare(store, writes, backup, migrations, progress);
            Apply(store, record, changes, expected, progress);
            Finish(store, record, logger);
            return new CommitReport(record);
        }

        /// <summary>Stores the journal (file, then database) and then the marker. Returns the changes in the order they are applied.</summary>
        internal static (CommitRecord Record, IReadOnlyList<NbEntry> Changes) Prepare(INbStore store, IReadOnlyList<NbEntry> writes,
            BackupInfo backup, IReadOnlyList<string> migrations, IProgress<ProgressReport> progress)
        {
            if (writes.Any(w => ModuleTables.IsModuleTable(w.Key.Table)))
                throw new ArgumentException("A migration run cannot write the module's own tables.");
            // The data first, the migration log rows last: a log row says its migration is in the data.
            var changes = writes.Where(w => w.Key.Table != MigrationLog.Table).Concat(writes.Where(w => w.Key.Table == MigrationLog.Table)).ToList();
            string journalPath = JournalPathFor(backup.Path);
            string run = CommitRecord.NewRunId();
            var journal = new List<NbEntry>(changes.Count);
            for (int i = 0; i < changes.Count; i++) journal.Add(ToJournalEntry(run, i, changes[i]));
            var record = CommitRecord.Begin(run, store.Location, backup, journalPath, NbBackup.Checksum(journal), changes, migrations);

            progress?.Report(new ProgressReport("Storing the commit journal", journalPath, -1));
            FileNbStore.WriteFile(journalPath, record.ToHeader(JournalFormat), journal, ownerOnly: true);
            try
            {
                var stale = store.ReadKeys(Table).Select(NbEntry.Delete).ToList();
                store.Write(stale.Concat(journal).ToList());
                TestPause();
            }
            catch (NbStoreException e)
            {
                throw new NbStoreException($"Could not store the commit journal in {store.Location}: {e.Message} Nothing of the migration was written; the database is as it was.", e);
            }
            try
            {
                store.Write(new[] { new NbEntry(MarkerKey, record.ToJson()) });
                TestPause();
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, 0, e);
            }
            return (record, changes);
        }

        /// <summary>
        /// Applies the journal's changes in batches, each only if its keys still hold what
        /// <paramref name="expected"/> gives; <paramref name="stopAfterBatches"/> (tests) stops part way as a crash would.
        /// </summary>
        internal static void Apply(INbStore store, CommitRecord record, IReadOnlyList<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected,
            IProgress<ProgressReport> progress, int stopAfterBatches = -1)
        {
            int written = 0, batches = 0;
            var data = changes.Where(c => c.Key.Table != MigrationLog.Table).ToList();
            var log = changes.Where(c => c.Key.Table == MigrationLog.Table).ToList();
            int size = BatchSizeFor(store, changes.Count);
            try
            {
                foreach (var chunk in RedisNbStore.Chunk(data, size).Concat(RedisNbStore.Chunk(log, size)))
                {
                    if (batches++ == stopAfterBatches) return;
                    store.WriteIf(chunk, expected);
                    written += chunk.Count;
                    progress?.Report(new ProgressReport("Writing the NB database", $"{written} of {changes.Count} changes written", 100 * written / Math.Max(1, changes.Count)));
                    TestPause();
                }
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, written, e);
            }
            catch (NbConflictException e)
            {
                written += e.Written;
                throw new NbConflictException(store.Location, e.Keys, written,
                    $"The commit of migration run {record.RunId} stopped after {written} of {record.Changes} changes; its journal is in the database and beside the backup.",
                    $"Find what wrote those objects and stop it. Then Resume-DfMigration -Database {store.Location} checks them again and finishes the commit (-Force writes over them), " +
                    $"or Undo-DfMigration -Database {store.Location} restores the backup {record.BackupPath}.", e);
            }
        }

        internal static Func<NbKey, ReadOnlyMemory<byte>?> Lookup(IEnumerable<NbEntry> entries)
        {
            var values = new Dictionary<NbKey, ReadOnlyMemory<byte>>();
            foreach (var e in entries) values[e.Key] = e.Value;
            return key => values.TryGetValue(key, out var v) ? v : (ReadOnlyMemory<byte>?)null;
        }

        /// <summary>Replaces the marker with the record of the finished run, then removes the journal from the database.</summary>
        internal static void Finish(INbStore store, CommitRecord record, ILogger logger)
        {
            try
            {
                store.Write(new[] { new NbEntry(LastRunKey, record.With(CommitState.Committed, DateTimeOffset.UtcNow).ToJson()), NbEntry.Delete(MarkerKey) });
                TestPause();
            }
            catch (NbStoreException e)
            {
                throw new CommitInterruptedException(store.Location, record, record.Changes, e);
            }
            RemoveJournal(store, record, logger);
        }

        /// <summary>Removes the run's journal entries (all of them when <paramref name="run"/> is null).</summary>
        static void RemoveJournal(INbStore store, CommitRecord run, ILogger logger)
        {
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

        /// <summary>
        /// Rolls an interrupted commit forward: applies its journal again, whole, then finishes it.
        /// Every key the journal writes must still hold what the run read (its backup) or what the
        /// journal writes there, else the resume is refused with <see cref="DatabaseChangedException"/>
        /// unless <paramref name="force"/>. Either way the batches are conditional on the values this check read.
        /// </summary>
        public static CommitReport Resume(INbStore store, IProgress<ProgressReport> progress = null, ILogger logger = null, bool force = false)
        {
            var marker = ReadInProgress(store)
                ?? throw new NoUpgradeRunException($"No interrupted commit on {store.Location}: there is nothing to resume.");
            if (marker.State == CommitState.Undoing) throw new CommitInProgressException(store.Location, marker);
            var changes = LoadJournal(store, marker, logger);
            var tables = new HashSet<string>(changes.Select(c => c.Key.Table), StringComparer.Ordinal);
            var now = store.Read().Where(e => tables.Contains(e.Key.Table)).ToList();
            IReadOnlyList<NbEntry> backup = null;
            try { backup = NbBackup.Load(marker.BackupPath, marker.BackupChecksum).Entries; }
            catch (BackupInvalidException) when (force) { }
            if (!force)
                RequireUnchangedSince(store, marker, now, backup, changes, changes.Select(c => c.Key),
                    "Its commit was not resumed, and nothing was written.",
                    $"Find what wrote those objects and stop it. Resume-DfMigration -Database {store.Location} -Force finishes the commit over those changes, which are lost; " +
                    $"Undo-DfMigration -Database {store.Location} restores the backup {marker.BackupPath} (-Force to write over them too).");
            Apply(store, marker, changes, Lookup(now), progress);
            Finish(store, marker, logger);
            return new CommitReport(marker);
        }

        static bool Same(ReadOnlyMemory<byte>? a, ReadOnlyMemory<byte>? b) =>
            a.HasValue == b.HasValue && (!a.HasValue || a.Value.Span.SequenceEqual(b.Value.Span));

        static IReadOnlyList<NbEntry> LoadJournal(INbStore store, CommitRecord marker, ILogger logger)
        {
            string prefix = marker.RunId + ".";
            var stored = store.Read(Table).Where(e => e.Key.Id.StartsWith(prefix, StringComparison.Ordinal))
                .OrderBy(e => e.Key.Id, StringComparer.Ordinal).ToList();
            string problem;
            if (stored.Count != marker.Changes) problem = $"the database holds {stored.Count} of its {marker.Changes} entries";
            else if (!string.Equals(NbBackup.Checksum(stored), marker.JournalChecksum, StringComparison.OrdinalIgnoreCase)) problem = "its copy in the database does not match its checksum";
            else return stored.Select(FromJournalEntry).ToList();

            try
            {
                var file = NbBackup.ReadVerified(marker.JournalPath, marker.Changes, marker.JournalChecksum, "journal");
                (logger ?? NullLogger.Instance).LogWarning("The commit journal of run {Run}: {Problem}; using the file {Path}.", marker.RunId, problem, marker.JournalPath);
                return file.Select(FromJournalEntry).ToList();
            }
            catch (BackupInvalidException e)
            {
                throw new BackupInvalidException(marker.JournalPath,
                    $"the commit journal of run {marker.RunId} cannot be read: {problem}, and its file copy is unusable ({e.Message}) Undo-DfMigration -Force restores the run's backup instead.", e);
            }
        }

        /// <summary>
        /// Works out what undoing takes: the interrupted commit's run, or else the last finished
        /// run. Either is refused (unless <paramref name="force"/>) when an object the undo writes
        /// holds neither what the run read nor what its journal writes: someone else wrote it since.
        /// The backup is read and verified. Writes nothing.
        /// </summary>
        public static UndoPlan PlanUndo(INbStore store, bool force, ILogger logger = null)
        {
            var (marker, last) = ReadRecords(store);
            var run = marker ?? last
                ?? throw new NoUpgradeRunException($"There is no migration run to undo on {store.Location}: none was made by this module, or the last one was undone already.");
            bool interrupted = marker != null && (marker.State == CommitState.Committing || marker.UndoesInterrupted);
            var (info, backup) = NbBackup.Load(run.BackupPath, run.BackupChecksum);
            var now = store.Read().ToList();
            var restore = NbRestore.Plan(store, info, backup, now);
            if (!force)
            {
                IReadOnlyList<NbEntry> journal;
                try
                {
                    journal = marker != null && marker.State == CommitState.Committing
                        ? LoadJournal(store, marker, logger)
                        : NbBackup.ReadVerified(run.JournalPath, run.Changes, run.JournalChecksum, "journal").Select(FromJournalEntry).ToList();
                }
                catch (BackupInvalidException e)
                {
                    throw new DatabaseChangedException(store.Location, $"Cannot tell whether {store.Location} changed since migration run {run.RunId}: {e.Message}",
                        $"Undo-DfMigration -Database {store.Location} -Force restores the run's backup anyway.");
                }
                // Heartbeats of a control plane started after the run are not changes an undo would lose.
                RequireUnchangedSince(store, run, now, backup, journal,
                    restore.Writes.Select(w => w.Key).Where(k => !ControlPlaneCheck.IsHeartbeatTable(k.Table)),
                    "Nothing was undone.",
                    $"Find what wrote those objects. Undo-DfMigration -Database {store.Location} -Force restores the run's backup anyway and loses those changes.");
            }
            return new UndoPlan(run, interrupted, restore, marker, last);
        }

        /// <summary>Restores the run's backup under an "undoing" marker, then removes the marker, the run's record and the journal.</summary>
        public static void Undo(INbStore store, UndoPlan plan, IProgress<ProgressReport> progress = null, ILogger logger = null)
        {
            var undoing = plan.Run.With(CommitState.Undoing, undoesInterrupted: plan.Interrupted);
            try
            {
                if (plan.Marker == null || plan.Marker.State != CommitState.Undoing)
                {
                    store.Write(new[] { new NbEntry(MarkerKey, undoing.ToJson()) });
                    TestPause();
                }
                NbRestore.Apply(store, plan.Restore, progress);
                var done = new List<NbEntry>();
                if (plan.LastRun != null && plan.LastRun.RunId == plan.Run.RunId) done.Add(NbEntry.Delete(LastRunKey));
                done.Add(NbEntry.Delete(MarkerKey));
                store.Write(done);
            }
            catch (NbStoreException e)
            {
                throw new NbStoreException($"The undo of migration run {plan.Run.RunId} on {store.Location} was interrupted: {e.Message} " +
                    $"Once the database is reachable, run Undo-DfMigration -Database {store.Location} again to finish it.", e);
            }
            RemoveJournal(store, plan.Run, logger);
        }

        /// <summary>
        /// Refuses with <see cref="DatabaseChangedException"/>, naming them, when any of <paramref name="written"/>
        /// (the keys an operation is about to write) holds, in <paramref name="now"/>, neither what the
        /// run read (<paramref name="backup"/>) nor what its <paramref name="journal"/> writes there.
        /// </summary>
        static void RequireUnchangedSince(INbStore store, CommitRecord run, IReadOnlyList<NbEntry> now, IReadOnlyList<NbEntry> backup,
            IReadOnlyList<NbEntry> journal, IEnumerable<NbKey> written, string what, string action)
        {
            var current = Lookup(now);
            var read = Lookup(backup);
            var writes = new Dictionary<NbKey, ReadOnlyMemory<byte>?>();
            foreach (var c in journal) writes[c.Key] = c.IsDelete ? (ReadOnlyMemory<byte>?)null : c.Value;
            var differ = new List<string>();
            foreach (var key in written.Where(k => !ModuleTables.IsModuleTable(k.Table)).Distinct())
            {
                var value = current(key);
                if (Same(value, read(key)) || (writes.TryGetValue(key, out var w) && Same(value, w))) continue;
                differ.Add(value == null ? $"{key} deleted" : read(key) == null ? $"{key} created" : $"{key} changed");
            }
            if (differ.Count > 0)
                throw new DatabaseChangedException(store.Location,
                    $"{differ.Count} object(s) of {store.Location} hold neither what migration run {run.RunId} read nor what it writes: " +
                    $"{string.Join(", ", differ.Take(5))}{(differ.Count > 5 ? $" and {differ.Count - 5} more" : "")}. Something else wrote them since the run. {what}",
                    action);
        }

        /// <summary>Removes an interrupted commit's marker and journal without applying them (after a forced restore).</summary>
        public static void Discard(INbStore store, ILogger logger = null)
        {
            store.Write(new[] { NbEntry.Delete(MarkerKey) });
            RemoveJournal(store, null, logger);
        }

        /// <summary>Writes in batches, each conditional on <paramref name="expected"/>, pausing after each for the tests' hook.</summary>
        internal static void WriteInBatches(INbStore store, IReadOnlyList<NbEntry> writes, Func<NbKey, ReadOnlyMemory<byte>?> expected, string activity, IProgress<ProgressReport> progress)
        {
            int written = 0;
            try
            {
                foreach (var chunk in RedisNbStore.Chunk(writes, BatchSizeFor(store, writes.Count)))
                {
                    store.WriteIf(chunk, expected);
                    written += chunk.Count;
                    progress?.Report(new ProgressReport(activity, $"{written} of {writes.Count}", 100 * written / Math.Max(1, writes.Count)));
                    TestPause();
                }
            }
            catch (NbConflictException e)
            {
                written += e.Written;
                throw new NbConflictException(store.Location, e.Keys, written,
                    $"{activity} stopped after {written} of {writes.Count} writes.",
                    $"Find what wrote those objects and stop it, then run the same command again: it reads the database afresh.", e);
            }
        }

        // A file database rewrites itself whole on every write, atomically: one batch is both cheaper and safer.
        static int BatchSizeFor(INbStore store, int count) => store is FileNbStore ? Math.Max(1, count) : BatchSize;

        static void TestPause()
        {
            if (int.TryParse(Environment.GetEnvironmentVariable(TestPauseVariable), out int ms) && ms > 0) Thread.Sleep(ms);
        }

        static NbEntry ToJournalEntry(string run, int index, NbEntry change)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("op", change.IsDelete ? "delete" : "put");
                w.WriteString("table", change.Key.Table);
                if (change.Key.Topic == null) w.WriteNull("topic"); else w.WriteString("topic", change.Key.Topic);
                w.WriteString("id", change.Key.Id);
                if (!change.IsDelete)
                {
                    w.WritePropertyName("value");
                    w.WriteRawValue(change.Value.Span, skipInputValidation: true);
                }
                w.WriteEndObject();
            }
            return new NbEntry(JournalKey(run, index), buffer.ToArray());
        }

        static NbKey JournalKey(string run, int index) => new NbKey(Table, null, $"{run}.{index:D8}");

        static NbEntry FromJournalEntry(NbEntry e)
        {
            using (var doc = JsonDocument.Parse(e.Value))
            {
                var r = doc.RootElement;
                string topic = r.GetProperty("topic").ValueKind == JsonValueKind.String ? r.GetProperty("topic").GetString() : null;
                var key = new NbKey(r.GetProperty("table").GetString(), topic, r.GetProperty("id").GetString());
                return r.GetProperty("op").GetString() == "delete"
                    ? NbEntry.Delete(key)
                    : new NbEntry(key, Encoding.UTF8.GetBytes(r.GetProperty("value").GetRawText()));
            }
        }
    }
}
