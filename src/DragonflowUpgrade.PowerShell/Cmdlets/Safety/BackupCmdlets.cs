using System;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets.Safety
{
    /// <summary>
    /// Writes the whole NB database to a backup file in the embedded file format
    /// (<c>.jsonl.gz</c>), with a header line holding the time, the source, the schema release,
    /// the object count and a checksum. The file is readable by its owner only and can be opened
    /// as a database (-Database path.jsonl.gz) to rehearse an upgrade.
    /// </summary>
    [Cmdlet(VerbsData.Backup, "DfNbDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(DfBackup))]
    public sealed class BackupDfNbDatabase : DfSafetyCmdlet
    {
        /// <summary>The backup file to write, ending in .jsonl.gz (or .jsonl), or a folder to write a timestamped file in. An existing file is refused unless -Force; the database itself always is.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>Replace the file -Path names when it exists (never the database itself).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Process(INbStore store)
        {
            string path = NbBackup.ResolvePath(SafetyErrors.ResolvePath(this, Path), store, overwrite: Force);
            if (!ShouldProcess(path, $"Back up {store.Location}")) return;
            if (CommitJournal.ReadInProgress(store) != null)
                WriteWarning($"{store.Location} holds an interrupted migration commit: this backup is of a half-migrated database. Resume-DfMigration or Undo-DfMigration first.");
            var info = NbBackup.Write(store, path, new SyncProgress<int>(n =>
                WriteProgress(new ProgressRecord(1, "Backing up the NB database", $"{n} objects read"))), overwrite: Force);
            CompleteProgress(1, "Backing up the NB database");
            WriteObject(new DfBackup(info, Database));
        }
    }

    /// <summary>
    /// Makes the NB database hold exactly a backup's content: objects the backup lacks are
    /// deleted, the others written with the backup's stored bytes. The backup is checked
    /// against its checksum first; a truncated or edited backup is refused and nothing is
    /// written, and so is a backup taken from another database, unless -Force. The module's own
    /// tables (lock, journal) are neither restored nor deleted. -WhatIf shows the counts.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "DfNbDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(DfRestore))]
    public sealed class RestoreDfNbDatabase : DfSafetyCmdlet
    {
        /// <summary>The backup file, as Backup-DfNbDatabase or Invoke-DfMigration wrote it (their output binds by its Path or BackupPath).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("BackupPath")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>Restore even though a migration commit was interrupted (its journal is discarded), or the backup was taken from another database.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Go ahead while Dragonflow services, Neutron servers or publishers still report in (with a warning naming each).</summary>
        [Parameter]
        public SwitchParameter IgnoreLiveControlPlane { get; set; }

        /// <summary>Seconds after which a component that has not reported in counts as down: Dragonflow's service_down_time, 80 by default.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ServiceDownTime { get; set; } = 80;

        string? _restored;

        protected override void Process(INbStore store)
        {
            // Invoke-DfMigration writes one row per migration, all naming the same backup: restore it once.
            string path = SafetyErrors.ResolvePath(this, Path);
            if (_restored == store.Location + "\n" + path)
            {
                WriteVerbose($"{store.Location}: {path} was restored already in this pipeline.");
                return;
            }
            using (var plan = NbRun.PlanRestore(store, path, WriteGuard(Force, ServiceDownTime, IgnoreLiveControlPlane), Logger))
            {
                foreach (var warning in plan.Warnings) WriteWarning(warning);
                if (!ShouldProcess($"{store.Location}: {plan.Summary}", $"{store.Location}: {plan.Summary}. Continue?", "Restore the NB database", out ShouldProcessReason reason))
                {
                    if (reason == ShouldProcessReason.WhatIf) WriteObject(new DfRestore(plan.Restore, applied: false));
                    return;
                }
                plan.Execute(ProgressTo(1));
                _restored = store.Location + "\n" + path;
                if (plan.Interrupted != null) WriteWarning($"Discarded the journal of the interrupted migration run {plan.Interrupted.RunId}.");
                CompleteProgress(1, "Restoring the NB database");
                WriteObject(new DfRestore(plan.Restore, applied: true));
            }
        }
    }
}
