using System;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// Declares the database to be at a release: every migration of that release and the ones
    /// before is marked applied without running (Flyway's baseline, Alembic's stamp). It takes
    /// the upgrade lock and refuses while a commit is interrupted or the control plane runs.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "DfMigrationBaseline", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(DfMigrationLogEntry))]
    public sealed class SetDfMigrationBaseline : DfDatabaseCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Release { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? MigrationPath { get; set; }

        /// <summary>Write the baseline even though Dragonflow services, Neutron servers or publishers still report in (with a warning). -IgnoreLiveControlPlane, as on every writing cmdlet, is the same switch.</summary>
        [Parameter]
        [Alias("IgnoreLiveControlPlane")]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds after which a component that has not reported in counts as down: Dragonflow's service_down_time, 80 by default.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ServiceDownTime { get; set; } = 80;

        protected override void ProcessRecord()
        {
            OnStore(store =>
            {
                var migrator = MigrationSources.Migrator(this, store, MigrationPath, Logger);
                using (var plan = NbRun.PlanBaseline(store, migrator, Release, WriteGuard(false, ServiceDownTime, Force), Logger))
                {
                    foreach (var warning in plan.Warnings) WriteWarning(warning);
                    if (!ShouldProcess(store.Location, plan.Summary)) return;
                    foreach (var row in plan.Execute()) WriteObject(new DfMigrationLogEntry(row, Database));
                }
            });
        }
    }
}
