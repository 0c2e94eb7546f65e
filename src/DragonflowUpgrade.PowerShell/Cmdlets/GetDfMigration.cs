using System;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>Lists every known migration, in run order, with whether the database has it.</summary>
    [Cmdlet(VerbsCommon.Get, "DfMigration")]
    [OutputType(typeof(DfMigration))]
    public sealed class GetDfMigration : DfDatabaseCmdlet
    {
        /// <summary>Folders of .ps1 (and .dll) migrations, besides the shipped Dragonflow ones.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[]? MigrationPath { get; set; }

        /// <summary>Only the migrations the database does not have yet.</summary>
        [Parameter]
        public SwitchParameter Pending { get; set; }

        protected override void ProcessRecord()
        {
            MigrationPlan? plan = null;
            OnStore(store => plan = MigrationSources.Migrator(this, store, MigrationPath, Logger).Plan());
            if (plan == null) return;
            foreach (var s in plan.Migrations.Where(s => s.ChecksumChanged))
                WriteWarning($"Migration '{s.Migration.Id}' was applied with checksum {s.Log?.Checksum}, but {s.Migration.Source} now has {s.Migration.Checksum}: the script changed after it ran. Restore the applied version; put new changes in a new migration.");
            foreach (var row in plan.UnknownApplied)
                WriteWarning($"The database has migration '{row.Id}' ({row.Release}) applied, which no known source has: check -MigrationPath.");
            foreach (var s in plan.Migrations.Where(s => !Pending || !s.IsApplied))
                WriteObject(new DfMigration(s, Database, MigrationPath));
        }
    }
}
