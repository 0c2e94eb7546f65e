using System;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>The rows of the database's schema_migration_log, oldest first.</summary>
    [Cmdlet(VerbsCommon.Get, "DfMigrationLog")]
    [OutputType(typeof(DfMigrationLogEntry))]
    public sealed class GetDfMigrationLog : DfDatabaseCmdlet
    {
        protected override void ProcessRecord()
        {
            using (var store = OpenStore())
            {
                try
                {
                    foreach (var row in MigrationLog.Read(store)) WriteObject(new DfMigrationLogEntry(row, Database));
                }
                catch (Exception e) when (IsReported(e)) { ThrowTerminatingError(ErrorFor(e, Database)); }
            }
        }
    }
}
