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

        /// <summary>
        /// The table of the commit's records: the marker of a commit under way, the record of the last run,
        /// and which run's journal the database may hold, nothing else.
        /// </summary>
        public const string CommitRecords = Prefix + "commit";

        /// <summary>The ids <see cref="CommitRecords"/> can hold: a store may read that table by these keys, without a scan.</summary>
        public static readonly string[] CommitRecordIds = { "in-progress", "last-run", "journal" };

        /// <summary>The table of the record that a whole upgrade is under way: one row, <see cref="UpgradeRunId"/>.</summary>
        public const string UpgradeRun = Prefix + "run";
        public const string UpgradeRunId = "under-way";

        /// <summary>
        /// The ids a module table of fixed rows can hold (the commit's records, the upgrade under
        /// way); null for any other table. A store may read such a table by these keys, without a scan.
        /// </summary>
        public static string[]? FixedIds(string? table) =>
            table == CommitRecords ? CommitRecordIds : table == UpgradeRun ? new[] { UpgradeRunId } : null;

        public static bool IsModuleTable(string table) => table.StartsWith(Prefix, StringComparison.Ordinal);
    }
}
