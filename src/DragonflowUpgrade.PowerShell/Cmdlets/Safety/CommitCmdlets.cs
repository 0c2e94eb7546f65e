using System.Management.Automation;
using DragonflowUpgrade.Engine.Run;
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
        /// <summary>Finish the commit even over objects that something else wrote since the run read them (those writes are lost).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Go ahead while Dragonflow services, Neutron servers or publishers still report in (with a warning naming each).</summary>
        [Parameter]
        public SwitchParameter IgnoreLiveControlPlane { get; set; }

        /// <summary>Seconds after which a component that has not reported in counts as down: Dragonflow's service_down_time, 80 by default.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ServiceDownTime { get; set; } = 80;

        protected override void Process(INbStore store)
        {
            ResumePlan plan;
            try { plan = NbRun.PlanResume(store, WriteGuard(Force, ServiceDownTime, IgnoreLiveControlPlane), Logger); }
            catch (NoUpgradeRunException e)
            {
                // Nothing to resume is not a failure that should stop a runbook.
                WriteError(SafetyErrors.Record(e, Database));
                return;
            }
            using (plan)
            {
                foreach (var warning in plan.Warnings) WriteWarning(warning);
                if (!ShouldProcess(store.Location, plan.Summary)) return;
                var report = plan.Execute(ProgressTo(1));
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
        /// <summary>Undo a finished run even though the database changed since (those changes are lost).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Go ahead while Dragonflow services, Neutron servers or publishers still report in (with a warning naming each).</summary>
        [Parameter]
        public SwitchParameter IgnoreLiveControlPlane { get; set; }

        /// <summary>Seconds after which a component that has not reported in counts as down: Dragonflow's service_down_time, 80 by default.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ServiceDownTime { get; set; } = 80;

        protected override void Process(INbStore store)
        {
            using (var plan = NbRun.PlanUndo(store, WriteGuard(Force, ServiceDownTime, IgnoreLiveControlPlane), Logger))
            {
                foreach (var warning in plan.Warnings) WriteWarning(warning);
                if (!ShouldProcess($"{store.Location}: {plan.Summary}", $"{store.Location}: {plan.Summary}. Continue?", "Undo a migration run", out ShouldProcessReason reason))
                {
                    if (reason == ShouldProcessReason.WhatIf) WriteObject(new DfRestore(plan.Undo.Restore, applied: false, plan.Undo.Run.RunId));
                    return;
                }
                plan.Execute(ProgressTo(1));
                CompleteProgress(1, "Restoring the NB database");
                WriteObject(new DfRestore(plan.Undo.Restore, applied: true, plan.Undo.Run.RunId));
            }
        }
    }
}
