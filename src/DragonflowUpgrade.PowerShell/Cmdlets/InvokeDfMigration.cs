using System;
using System.Collections.Generic;
using System.Management.Automation;
using DragonflowUpgrade.Engine;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// Applies the pending migrations to the NB database: all of them, those up to
    /// -TargetRelease, or those piped from Get-DfMigration -Pending. Nothing is written unless
    /// every migration succeeds.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "DfMigration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(DfMigrationLogEntry), typeof(DfMigrationPlan))]
    public sealed class InvokeDfMigration : DfDatabaseCmdlet
    {
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? MigrationPath { get; set; }

        /// <summary>Apply pending migrations up to and including this release; all releases by default.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string? TargetRelease { get; set; }

        /// <summary>Apply exactly these pending migrations; they must be the first pending ones, in order.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(MigrationIdCompleter))]
        public string[]? Id { get; set; }

        /// <summary>Where the backup taken before the first write goes (a .jsonl.gz file, or a folder for a timestamped one; never the database itself); by default a timestamped file in a df-backups folder (see Backup-DfNbDatabase).</summary>
        [Parameter]
        public string? BackupPath { get; set; }

        /// <summary>Migrate even though Dragonflow services, Neutron servers or publishers still report in (with a warning). -IgnoreLiveControlPlane, as on every writing cmdlet, is the same switch.</summary>
        [Parameter]
        [Alias("IgnoreLiveControlPlane")]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds after which a Dragonflow service or Neutron server that has not reported in counts as down: Dragonflow's service_down_time, 80 by default.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ServiceDownTime { get; set; } = 80;

        readonly List<string> _ids = new List<string>();
        string? _database;
        string[]? _migrationPath;

        protected override void ProcessRecord()
        {
            if (_database != null && !string.Equals(_database, Database, StringComparison.Ordinal))
                ThrowTerminatingError(Error(new ArgumentException($"The pipeline names two databases, '{_database}' and '{Database}'; migrate one database per run."), "MigrationSelectionInvalid", Database));
            _database = Database;
            _migrationPath = MigrationPath;
            if (Id != null) _ids.AddRange(Id);
        }

        protected override void EndProcessing()
        {
            if (_database == null) return;
            Database = _database;
            MigrationPath = _migrationPath;
            using (var store = OpenStore())
            {
                // The target is the database as the store names it: -Database may hold a password.
                try { Migrate(store); }
                catch (Exception e) when (Record(e, store.Location) is ErrorRecord record) { ThrowTerminatingError(record); }
                finally { CompleteProgress(1, "Migrating the NB database"); }
            }
        }

        void Migrate(INbStore store)
        {
            var progress = new SyncProgress<ProgressReport>(p => Progress(1, p));
            var migrator = MigrationSources.Migrator(this, store, MigrationPath, Logger);
            var request = new MigrationRunRequest
            {
                TargetRelease = TargetRelease,
                Ids = _ids.Count > 0 ? _ids : null,
                BackupPath = BackupPath == null ? null : Safety.SafetyErrors.ResolvePath(this, BackupPath),
            };
            using (var plan = NbRun.PlanMigration(store, migrator, request, WriteGuard(false, ServiceDownTime, Force), progress, Logger))
            {
                foreach (var warning in plan.Warnings) WriteWarning(warning);
                if (plan.IsEmpty)
                {
                    WriteVerbose($"{store.Location}: no migration pending{(TargetRelease == null ? "" : " up to release " + TargetRelease)}; nothing to do.");
                    return;
                }
                foreach (var c in plan.Changes)
                    WriteVerbose($"{c.Table}: {c.Creates} created, {c.Updates} updated, {c.Deletes} deleted");
                if (!ShouldProcess($"{store.Location}: {plan.Summary}", $"{store.Location}: {plan.Summary}. Continue?", "Migrate the NB database", out ShouldProcessReason reason))
                {
                    if (reason == ShouldProcessReason.WhatIf) WriteObject(new DfMigrationPlan(plan));
                    return;
                }
                var outcome = plan.Execute(progress);
                if (outcome.Backup != null) WriteVerbose($"Backed up {outcome.Backup.Objects} objects of {store.Location} to {outcome.Backup.Path}.");
                foreach (var row in outcome.Applied) WriteObject(new DfMigrationLogEntry(row, Database) { BackupPath = outcome.Backup?.Path });
            }
        }
    }
}
