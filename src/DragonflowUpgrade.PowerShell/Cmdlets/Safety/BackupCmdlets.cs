using System;
using System.Management.Automation;
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
        public string Path { get; set; }

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
            WriteObject(new DfBackup(info));
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
        /// <summary>The backup file, as Backup-DfNbDatabase or Invoke-DfMigration wrote it.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>Restore even though a migration commit was interrupted (its journal is discarded), or the backup was taken from another database.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Process(INbStore store)
        {
            string path = SafetyErrors.ResolvePath(this, Path);
            bool whatIf = SafetyErrors.IsWhatIf(this);
            using (whatIf ? null : UpgradeLock.Acquire(store, "Restore-DfNbDatabase", Logger))
            {
                var marker = CommitJournal.ReadInProgress(store);
                if (marker != null && !Force) throw new CommitInProgressException(store.Location, marker);
                var plan = NbRestore.Plan(store, path, force: Force);
                string summary = $"restore {plan.Backup.Objects} objects from {plan.Backup.Path} (taken {plan.Backup.CreatedAt:u} from {plan.Backup.Source}): " +
                                 $"{plan.Created} created, {plan.Updated} updated, {plan.Deleted} deleted, {plan.Unchanged} unchanged";
                if (!ShouldProcess($"{store.Location}: {summary}", $"{store.Location}: {summary}. Continue?", "Restore the NB database", out ShouldProcessReason reason))
                {
                    if (reason == ShouldProcessReason.WhatIf) WriteObject(new DfRestore(plan, applied: false));
                    return;
                }
                NbRestore.Apply(store, plan, ProgressTo(1));
                if (marker != null)
                {
                    CommitJournal.Discard(store, Logger);
                    WriteWarning($"Discarded the journal of the interrupted migration run {marker.RunId}.");
                }
                CompleteProgress(1, "Restoring the NB database");
                WriteObject(new DfRestore(plan, applied: true));
            }
        }
    }
}
