using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Scripting;

namespace DragonflowUpgrade.PowerShell
{
    /// <summary>The migrations a cmdlet knows: the shipped Dragonflow ones and those of every -MigrationPath folder.</summary>
    static class MigrationSources
    {
        /// <summary>A migrator over the store with every known migration and Dragonflow's release schemas.</summary>
        public static Migrator Migrator(PSCmdlet cmdlet, INbStore store, IEnumerable<string>? migrationPath, Microsoft.Extensions.Logging.ILogger logger) =>
            new Migrator(store, Catalog(cmdlet, migrationPath), logger, DragonflowReleases.Schema);

        public static MigrationCatalog Catalog(PSCmdlet cmdlet, IEnumerable<string>? migrationPath) =>
            new MigrationCatalog(DragonflowReleases.Migrations.Concat(ScriptMigrations.LoadFolders(cmdlet, migrationPath)).ToList(),
                DragonflowReleases.All, DragonflowReleases.DefaultTarget);
    }
}
