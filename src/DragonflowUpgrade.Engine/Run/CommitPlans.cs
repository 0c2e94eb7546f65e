using System;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Engine.Run
{
    /// <summary>A restore planned: the backup, checked, against the database as read under the lock.</summary>
    public sealed class RestoreRunPlan : WritePlan
    {
        RestoreRunPlan(INbStore store, UpgradeGuard guard, GuardOptions options, RestorePlan restore, CommitRecord? interrupted)
            : base(store, guard, options, "restoring")
        {
            Restore = restore;
            Interrupted = interrupted;
        }

        public RestorePlan Restore { get; }

        /// <summary>The interrupted commit that a forced restore discards; null when there is none.</summary>
        public CommitRecord? Interrupted { get; }

        public override string Summary =>
            $"restore {Restore.Backup.Objects} objects from {Restore.Backup.Path} (taken {Restore.Backup.CreatedAt:u} from {Restore.Backup.Source}): " +
            $"{Restore.Created} created, {Restore.Updated} updated, {Restore.Deleted} deleted, {Restore.Unchanged} unchanged" + Rekeying(Restore) +
            (Interrupted == null ? "" : $"; the journal of the interrupted migration run {Interrupted.RunId} is discarded");

        internal static string Rekeying(RestorePlan r) =>
            r.KeyLayout == null ? "" : $" ({r.Rekeyed} of them written again, to move them back under {r.KeyLayout.Name} keys)";

        /// <summary>Forced (<see cref="GuardOptions.Force"/>): an interrupted commit is discarded, and a backup of another database restored;
        /// <paramref name="discardInterruptedCommit"/>: only the first.</summary>
        internal static RestoreRunPlan Make(INbStore store, string backupPath, string? checksum, GuardOptions options, ILogger? logger, bool discardInterruptedCommit)
        {
            var guard = Enter(store, options, allowInterruptedCommit: options.Force || discardInterruptedCommit, logger);
            try
            {
                var interrupted = CommitJournal.ReadInProgress(store);
                return new RestoreRunPlan(store, guard, options, NbRestore.Plan(store, backupPath, checksum, options.Force), interrupted);
            }
            catch
            {
                guard.Dispose();
                throw;
            }
        }

        /// <summary>Writes the difference in conditional batches, then discards an interrupted commit's journal.</summary>
        public void Execute(IProgress<ProgressReport>? progress = null)
        {
            BeginExecute();
            NbRestore.Apply(Store, Restore, progress);
            if (Interrupted != null) CommitJournal.Discard(Store);
        }
    }

    /// <summary>Finishing an interrupted commit, planned: its marker, read under the lock.</summary>
    public sealed class ResumePlan : WritePlan
    {
        readonly ILogger? _logger;

        ResumePlan(INbStore store, UpgradeGuard guard, GuardOptions options, ILogger? logger, CommitRecord run) : base(store, guard, options, "resuming")
        {
            _logger = logger;
            Run = run;
        }

        public CommitRecord Run { get; }

        public override string Summary =>
            $"Finish the commit of migration run {Run.RunId} ({string.Join(", ", Run.Migrations)}): {Run.Puts} puts, {Run.Deletes} deletes";

        /// <summary>Refuses with <see cref="NoUpgradeRunException"/> when no commit waits, and while an undo waits.
        /// Forced: over objects written since the run too.</summary>
        internal static ResumePlan Make(INbStore store, GuardOptions options, ILogger? logger)
        {
            // The lock first: it also takes over the lock of a run that died after its commit finished.
            var guard = Enter(store, options, allowInterruptedCommit: true, logger);
            try
            {
                var run = CommitJournal.ReadInProgress(store)
                    ?? throw new NoUpgradeRunException($"No interrupted commit on {store.Location}: there is nothing to resume.");
                if (run.State == CommitState.Undoing) throw new CommitInProgressException(store.Location, run);
                return new ResumePlan(store, guard, options, logger, run);
            }
            catch
            {
                guard.Dispose();
                throw;
            }
        }

        public CommitReport Execute(IProgress<ProgressReport>? progress = null)
        {
            BeginExecute();
            return CommitJournal.Resume(Store, progress, _logger, Options.Force);
        }
    }

    /// <summary>Taking a migration run back, planned: the run, and the restore of its backup, checked.</summary>
    public sealed class UndoRunPlan : WritePlan
    {
        readonly ILogger? _logger;

        UndoRunPlan(INbStore store, UpgradeGuard guard, GuardOptions options, ILogger? logger, UndoPlan undo) : base(store, guard, options, "undoing")
        {
            _logger = logger;
            Undo = undo;
        }

        public UndoPlan Undo { get; }

        public override string Summary
        {
            get
            {
                var r = Undo.Restore;
                return $"take back migration run {Undo.Run.RunId} ({string.Join(", ", Undo.Run.Migrations)}){(Undo.Interrupted ? ", whose commit was interrupted," : "")} " +
                       $"by restoring {r.Backup.Path}: {r.Created} created, {r.Updated} updated, {r.Deleted} deleted, {r.Unchanged} unchanged" + RestoreRunPlan.Rekeying(r);
            }
        }

        /// <summary>Forced: even though the database changed since the run (those changes are lost).</summary>
        internal static UndoRunPlan Make(INbStore store, GuardOptions options, ILogger? logger)
        {
            var guard = Enter(store, options, allowInterruptedCommit: true, logger);
            try
            {
                return new UndoRunPlan(store, guard, options, logger, CommitJournal.PlanUndo(store, options.Force, logger));
            }
            catch
            {
                guard.Dispose();
                throw;
            }
        }

        public void Execute(IProgress<ProgressReport>? progress = null)
        {
            BeginExecute();
            CommitJournal.Undo(Store, Undo, progress, _logger);
        }
    }
}
