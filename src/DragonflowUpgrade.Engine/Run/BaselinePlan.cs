using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Engine.Run
{
    /// <summary>A baseline planned: the log rows that mark a release's migrations applied without running them, and the baseline row.</summary>
    public sealed class BaselinePlan : WritePlan
    {
        BaselinePlan(INbStore store, UpgradeGuard guard, GuardOptions options, string release, IReadOnlyList<MigrationLogEntry> rows)
            : base(store, guard, options, "baselining")
        {
            Release = release;
            Rows = rows;
        }

        public string Release { get; }

        /// <summary>The rows written: one per migration marked applied, then the baseline itself.</summary>
        public IReadOnlyList<MigrationLogEntry> Rows { get; }

        /// <summary>How many pending migrations are marked applied.</summary>
        public int Marked => Rows.Count(r => r.Kind == MigrationLogKind.Baselined);

        public override string Summary => $"mark {Marked} migration(s) up to release {Release} as applied without running them";

        internal static BaselinePlan Make(INbStore store, Migrator migrator, string release, GuardOptions options, ILogger? logger)
        {
            migrator.Catalog.RequireRelease(release);
            var guard = Enter(store, options, allowInterruptedCommit: false, logger);
            try
            {
                StoredKeys.RequireLayoutOf(store, release);
                return new BaselinePlan(store, guard, options, release, migrator.PlanBaseline(release));
            }
            catch
            {
                guard.Dispose();
                throw;
            }
        }

        /// <summary>Writes the rows, in one batch.</summary>
        public IReadOnlyList<MigrationLogEntry> Execute()
        {
            BeginExecute();
            Store.Write(Rows.Select(r => r.ToEntry()).ToList());
            return Rows;
        }
    }
}
