using System;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// Declares the database to be at a release: every migration of that release and the ones
    /// before is marked applied without running (Flyway's baseline, Alembic's stamp).
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "DfMigrationBaseline", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(DfMigrationLogEntry))]
    public sealed class SetDfMigrationBaseline : DfDatabaseCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Release { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string[] MigrationPath { get; set; }

        protected override void ProcessRecord()
        {
            using (var store = OpenStore())
            {
                try
                {
                    var migrator = MigrationSources.Migrator(this, store, MigrationPath, Logger);
                    migrator.Catalog.RequireRelease(Release);
                    var pending = migrator.Plan().Pending.Where(m => migrator.Catalog.ReleaseIndex(m.Release) <= migrator.Catalog.ReleaseIndex(Release)).ToList();
                    if (!ShouldProcess(store.Location, $"mark {pending.Count} migration(s) up to release {Release} as applied without running them"))
                        return;
                    foreach (var row in migrator.Baseline(Release)) WriteObject(new DfMigrationLogEntry(row, Database));
                }
                catch (ArgumentException e) { ThrowTerminatingError(Error(e, "ReleaseUnknown", Release)); }
                catch (MigrationDefinitionException e) { ThrowTerminatingError(Error(e, "MigrationMalformed", e.MigrationSource)); }
                catch (NbStoreException e) { ThrowTerminatingError(Error(e, "NbDatabaseUnavailable", Database)); }
            }
        }
    }
}
