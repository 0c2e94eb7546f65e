using DragonflowUpgrade.Engine;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;
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
        public string[] MigrationPath { get; set; }

        /// <summary>Apply pending migrations up to and including this release; all releases by default.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string TargetRelease { get; set; }

        /// <summary>Apply exactly these pending migrations; they must be the first pending ones, in order.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(MigrationIdCompleter))]
        public string[] Id { get; set; }

        /// <summary>Where the backup taken before the first write goes (a .jsonl.gz file, or a folder for a timestamped one; never the database itself); by default a timestamped file in a df-backups folder (see Backup-DfNbDatabase).</summary>
        [Parameter]
        public string BackupPath { get; set; }

        /// <summary>Migrate even though Dragonflow services, Neutron servers or publishers still report in (with a warning).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds after which a Dragonflow service or Neutron server that has not reported in counts as down: Dragonflow's service_down_time, 80 by default.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ServiceDownTime { get; set; } = 80;

        readonly List<string> _ids = new List<string>();
        string _database;
        string[] _migrationPath;

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
                catch (Exception e) when (Safety.SafetyErrors.Handles(e)) { ThrowTerminatingError(Safety.SafetyErrors.Record(e, store.Location)); }
                catch (MigrationFailedException e) { ThrowTerminatingError(Error(e, "MigrationFailed", e.Migration.Id)); }
                catch (MigrationDefinitionException e) { ThrowTerminatingError(Error(e, "MigrationMalformed", e.MigrationSource)); }
                catch (ArgumentException e) { ThrowTerminatingError(Error(e, "MigrationSelectionInvalid", store.Location)); }
                catch (NbStoreException e) { ThrowTerminatingError(Error(e, "NbDatabaseUnavailable", store.Location)); }
                catch (FormatException e) { ThrowTerminatingError(Error(e, "NbObjectMalformed", store.Location)); }
                catch (SchemaChangeUnhandledException e) { ThrowTerminatingError(Error(e, "SchemaChangeUnhandled", store.Location)); }
                catch (SchemaValidationException e) { ThrowTerminatingError(Error(e, "SchemaValidationFailed", store.Location)); }
                catch (SchemaException e) { ThrowTerminatingError(Error(e, "SchemaMalformed", store.Location)); }
                finally { CompleteProgress(1, "Migrating the NB database"); }
            }
        }

        void Migrate(INbStore store)
        {
            // Where the backup goes, refused before anything is read when the run would overwrite it.
            string backupPath = Engine.Safety.NbBackup.ResolvePath(BackupPath == null ? null : Safety.SafetyErrors.ResolvePath(this, BackupPath), store);
            // Step 1: the lock (not under -WhatIf, which writes nothing), no interrupted commit, no live control plane.
            bool whatIf = Safety.SafetyErrors.IsWhatIf(this);
            using var guard = Engine.Safety.UpgradeGuard.Enter(store, "Invoke-DfMigration", !whatIf, TimeSpan.FromSeconds(ServiceDownTime), Force, Logger);
            var guardWarnings = guard.Live.Select(live => whatIf ? $"The control plane still runs: {live}." : $"-Force: migrating while the control plane still runs: {live}.").ToList();
            if (guard.UnreadableHeartbeats is Engine.Safety.HeartbeatInvalidException unreadable)
                guardWarnings.Add(whatIf && !Force ? $"The run would be refused (HeartbeatInvalid): {unreadable.Message}" : $"-Force: migrating although {unreadable.Message}");
            foreach (var warning in guardWarnings) WriteWarning(warning);
            var migrator = MigrationSources.Migrator(this, store, MigrationPath, Logger);
            var plan = migrator.Plan();
            foreach (var s in plan.Migrations.Where(s => s.ChecksumChanged))
                WriteWarning($"Migration '{s.Migration.Id}' changed after it was applied ({s.Migration.Source}); it does not run again.");
            var selected = migrator.Select(plan, TargetRelease, _ids.Count > 0 ? _ids : null);
            var schema = migrator.PlanSchema(plan, TargetRelease, selected);
            if (selected.Count == 0 && !schema.ChangesRelease)
            {
                WriteVerbose($"{store.Location}: no migration pending{(TargetRelease == null ? "" : " up to release " + TargetRelease)}; nothing to do.");
                return;
            }

            var progress = new SyncProgress<ProgressReport>(p => Progress(1, p));
            var result = migrator.Run(selected, schema, progress);
            foreach (var warning in result.Warnings) WriteWarning(warning);
            foreach (var c in result.Changes)
                WriteVerbose($"{c.Table}: {c.Creates} created, {c.Updates} updated, {c.Deletes} deleted");

            string summary = $"apply {selected.Count} migration(s) ({string.Join(", ", selected.Select(m => m.Id))})" +
                (schema.ChangesRelease ? $" and upgrade the schema from {schema.From} to {schema.To}: " : ": ") +
                string.Join("; ", result.Changes.Select(c => $"{c.Table} +{c.Creates} ~{c.Updates} -{c.Deletes}"));
            if (!ShouldProcess($"{store.Location}: {summary}", $"{store.Location}: {summary}. Continue?", "Migrate the NB database", out ShouldProcessReason reason))
            {
                if (reason == ShouldProcessReason.WhatIf)
                    WriteObject(new DfMigrationPlan(store.Location, selected, result, guardWarnings));
                return;
            }
            // Step 7: a backup before the first write, then the journaled commit.
            var backup = Engine.Safety.NbBackup.Write(result.Before, store.Location, backupPath);
            WriteVerbose($"Backed up {backup.Objects} objects of {store.Location} to {backup.Path}.");
            migrator.Commit(result, backup, progress);
            foreach (var row in result.Applied) WriteObject(new DfMigrationLogEntry(row, Database) { BackupPath = backup.Path });
        }
    }
}
