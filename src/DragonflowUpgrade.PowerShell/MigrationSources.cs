using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.PowerShell.Scripting;

namespace DragonflowUpgrade.PowerShell
{
    /// <summary>The migrations a cmdlet knows: the shipped Dragonflow ones and those of every -MigrationPath folder.</summary>
    static class MigrationSources
    {
        public static MigrationCatalog Catalog(PSCmdlet cmdlet, IEnumerable<string> migrationPath) =>
            new MigrationCatalog(DragonflowReleases.Migrations.Concat(ScriptMigrations.LoadFolders(cmdlet, migrationPath)).ToList(),
                DragonflowReleases.All);
    }
}
