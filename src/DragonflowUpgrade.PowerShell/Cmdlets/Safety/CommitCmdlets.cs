using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets.Safety
{
    /// <summary>
    /// Finishes a migration commit that was interrupted (process killed, connection lost, Redis
    /// restarted): applies its journal again, whole, then the log rows, and releases the lock.
    /// The database ends exactly as a complete run leaves it.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Resume, "DfMigration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(DfCommit))]
    public sealed class ResumeDfMigration : DfSafetyCmdlet
    {
        /// <summary>Finish the commit even over objects that something else wrote since the run read them; those writes are lost.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Process(INbStore store)
        {
            // The lock first: it also takes over the lock of a run that died after its commit finished.
            using (SafetyErrors.IsWhatIf(this) ? null : UpgradeLock.Acquire(store, "Resume-DfMigration", Logger))
            {
                var marker = CommitJournal.ReadInProgress(store);
                if (marker == null)
                {
                    WriteError(SafetyErrors.Record(new NoUpgradeRunException($"No interrupted commit on {store.Location}: there is nothing to resume."), Database));
                    return;
                }
                if (!ShouldProcess(store.Location, $"Finish the commit of migration run {marker.RunId} ({string.Join(", ", marker.Migrations)}): {marker.Puts} puts, {marker.Deletes} deletes"))
                    return;
                var report = CommitJournal.Resume(store, ProgressTo(1), Logger, Force);
                CompleteProgress(1, "Writing the NB database");
                WriteObject(new DfCommit(report));
            }
        }
    }

    /// <summary>
    /// Takes a migration run back by restoring the backup it made: an interrupted run, or else
    /// the last finished one (with its migration log rows). A finished run is not undone when
    /// the database changed since it, unless -Force. The lock is released at the end.
    /// </summary>
    [Cmdlet(VerbsCommon.Undo, "DfMigration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(DfRestore))]
    public sealed class UndoDfMigration : DfSafetyCmdlet
    {
        /// <summary>Undo a finished run even though the database changed since; those changes are lost.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Process(INbStore store)
        {
            bool whatIf = SafetyErrors.IsWhatIf(this);
            using (whatIf ? null : UpgradeLock.Acquire(store, "Undo-DfMigration", Logger))
            {
                var plan = CommitJournal.PlanUndo(store, Force);
                var r = plan.Restore;
                string summary = $"take back migration run {plan.Run.RunId} ({string.Join(", ", plan.Run.Migrations)}){(plan.Interrupted ? ", whose commit was interrupted," : "")} " +
                                 $"by restoring {r.Backup.Path}: {r.Created} created, {r.Updated} updated, {r.Deleted} deleted, {r.Unchanged} unchanged";
                if (!ShouldProcess($"{store.Location}: {summary}", $"{store.Location}: {summary}. Continue?", "Undo a migration run", out ShouldProcessReason reason))
                {
                    if (reason == ShouldProcessReason.WhatIf) WriteObject(new DfRestore(r, applied: false, plan.Run.RunId));
                    return;
                }
                CommitJournal.Undo(store, plan, ProgressTo(1), Logger);
                CompleteProgress(1, "Restoring the NB database");
                WriteObject(new DfRestore(r, applied: true, plan.Run.RunId));
            }
        }
    }
}
