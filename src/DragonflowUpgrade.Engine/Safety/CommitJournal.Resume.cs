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
    // Resuming an interrupted commit: its journal, from the database or its file, applied again whole.
    public static partial class CommitJournal
    {
        /// <summary>
        /// Rolls an interrupted commit forward: applies its journal again, whole, then finishes it.
        /// Every key the journal writes must still hold what the run read (its backup) or what the
        /// journal writes there, else the resume is refused with <see cref="DatabaseChangedException"/>
        /// unless <paramref name="force"/>. Either way the batches are conditional on the values this check read.
        /// </summary>
        public static CommitReport Resume(INbStore store, IProgress<ProgressReport>? progress = null, ILogger? logger = null, bool force = false)
        {
            var marker = (ReadInProgress(store)
                ?? throw new NoUpgradeRunException($"No interrupted commit on {store.Location}: there is nothing to resume.")).RequireRecoverable();
            if (marker.State == CommitState.Undoing) throw new CommitInProgressException(store.Location, marker);
            var changes = LoadJournal(store, marker, logger);
            var tables = new HashSet<string>(changes.Select(c => c.Key.Table), StringComparer.Ordinal);
            var now = store.Read().Where(e => tables.Contains(e.Key.Table)).ToList();
            IReadOnlyList<NbEntry>? backup = null;
            try { backup = NbBackup.Load(marker.BackupPath, marker.BackupChecksum).Entries; }
            catch (BackupInvalidException) when (force) { }
            if (!force)
                // Unforced, the backup was read: only a forced resume goes on without it.
                RequireUnchangedSince(store, marker, now, backup!, changes, changes.Select(c => c.Key),
                    "Its commit was not resumed, and nothing was written.",
                    $"Find what wrote those objects and stop it. Resume-DfMigration -Database {store.Location} -Force finishes the commit over those changes, which are lost; " +
                    $"Undo-DfMigration -Database {store.Location} restores the backup {marker.BackupPath} (-Force to write over them too).");
            Apply(store, marker, changes, Lookup(now), progress);
            Finish(store, marker, logger);
            return new CommitReport(marker);
        }

        static IReadOnlyList<NbEntry> LoadJournal(INbStore store, CommitRecord marker, ILogger? logger)
        {
            if (!store.Parts.KeepsJournal) return ReadJournalFile(marker);
            string prefix = marker.RunId + ".";
            var rows = store.Read(Table).Where(e => e.Key.Id.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(e => e.Key.Id, StringComparer.Ordinal);
            var stored = FromJournalRows(rows, marker, out string problem);
            if (stored != null) return stored.Select(FromJournalEntry).ToList();

            try
            {
                var file = ReadJournalFile(marker);
                (logger ?? NullLogger.Instance).LogWarning("The commit journal of run {Run}: {Problem}; using the file {Path}.", marker.RunId, problem, marker.JournalPath);
                return file;
            }
            catch (BackupInvalidException e)
            {
                throw new BackupInvalidException(marker.JournalPath,
                    $"the commit journal of run {marker.RunId} cannot be read: {problem}, and its file copy is unusable ({e.Message}) Undo-DfMigration -Force restores the run's backup instead.", e, UndoForced(marker));
            }
        }

        // The journal's file beside the run's backup, checked against the run's record.
        static IReadOnlyList<NbEntry> ReadJournalFile(CommitRecord run)
        {
            if (!File.Exists(run.JournalPath))
                throw new BackupInvalidException(run.JournalPath, $"the commit journal file of run {run.RunId} is missing (moved or deleted).", null, UndoForced(run));
            return NbBackup.ReadVerified(run.JournalPath, run.Changes, run.JournalChecksum, "journal", UndoForced(run)).Select(FromJournalEntry).ToList();
        }

        // What is left to do without the run's journal: restore the backup it took, unchecked.
        static string UndoForced(CommitRecord run) =>
            $"Undo-DfMigration {(run.Database == null ? "" : $"-Database {run.Database} ")}-Force restores the run's backup {run.BackupPath} instead; without its journal the run can be neither resumed nor undone unforced.";
    }
}
