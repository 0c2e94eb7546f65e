using System;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// Tables the module keeps in the NB database for itself (the upgrade lock, the commit
    /// journal). Dragonflow never reads them; migrations, schema validation and diffs skip them.
    /// </summary>
    public static class ModuleTables
    {
        public const string Prefix = "df_upgrade_";

        public static bool IsModuleTable(string table) => table.StartsWith(Prefix, StringComparison.Ordinal);
    }
}
