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
    // Undoing a run, interrupted or finished: planned and checked first, then the backup restored under a marker.
    public static partial class CommitJournal
    {
        /// <summary>
        /// Works out what undoing takes: the interrupted commit's run, or else the last finished
        /// run. Either is refused (unless <paramref name="force"/>) when an object the undo writes
        /// holds neither what the run read nor what its journal writes: someone else wrote it since.
        /// The backup is read and verified. Writes nothing.
        /// </summary>
        public static UndoPlan PlanUndo(INbStore store, bool force, ILogger? logger = null)
        {
            var (marker, last) = ReadRecords(store);
            var run = (marker ?? last
                ?? throw new NoUpgradeRunException($"There is no migration run to undo on {store.Location}: none was made by this module, or the last one was undone already.")).RequireRecoverable();
            bool interrupted = marker != null && (marker.State == CommitState.Committing || marker.UndoesInterrupted);
            var info = NbBackup.ReadCheckableHeader(run.BackupPath, run.BackupChecksum);
            var (backup, now) = NbRestore.LoadWhileReading(store, info);
            var restore = NbRestore.Plan(store, info, backup, now);
            if (!force)
            {
                IReadOnlyList<NbEntry> journal;
                try
                {
                    journal = marker != null && marker.State == CommitState.Committing
                        ? LoadJournal(store, marker, logger)
                        : ReadJournalFile(run);
                }
                catch (BackupInvalidException e)
                {
                    throw new DatabaseChangedException(store.Location, $"Cannot tell whether {store.Location} changed since migration run {run.RunId}: {e.Message}",
                        $"Undo-DfMigration -Database {store.Location} -Force restores the run's backup {run.BackupPath} anyway.");
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
        public static void Undo(INbStore store, UndoPlan plan, IProgress<ProgressReport>? progress = null, ILogger? logger = null)
        {
            var undoing = plan.Run.With(CommitState.Undoing, undoesInterrupted: plan.Interrupted);
            try
            {
                if (plan.Marker == null || plan.Marker.State != CommitState.Undoing)
                {
                    store.Write(new[] { new NbEntry(MarkerKey, undoing.ToJson()) });
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
    }
}
