using System;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Engine.Run
{
    /// <summary>
    /// Every operation that writes an NB database, as a plan and its execution (as EF Core's
    /// Migrator runs migrations): each plan is made behind one guard (the upgrade lock, no
    /// interrupted commit, no live control plane unless forced) from what it read under the
    /// lock, and executes exactly what it shows. With <see cref="GuardOptions.PlanOnly"/> a
    /// plan is made without the lock and writes nothing. Dispose each plan: it holds the lock.
    /// </summary>
    public static class NbRun
    {
        /// <summary>The pending migrations applied to a snapshot, validated, and their writes counted.</summary>
        public static MigrationRunPlan PlanMigration(INbStore store, Migrator migrator, MigrationRunRequest? request, GuardOptions options,
            IProgress<ProgressReport>? progress = null, ILogger? logger = null) =>
            MigrationRunPlan.Make(store, migrator, request ?? new MigrationRunRequest(), options, progress, logger);

        /// <summary>Marking <paramref name="release"/>'s migrations and those before it applied, without running them.</summary>
        public static BaselinePlan PlanBaseline(INbStore store, Migrator migrator, string release, GuardOptions options, ILogger? logger = null) =>
            BaselinePlan.Make(store, migrator, release, options, logger);

        /// <summary>Making the database hold exactly the backup <paramref name="backupPath"/>; one whose checksum is not <paramref name="checksum"/> (when given) is refused.</summary>
        /// <param name="discardInterruptedCommit">Discard the journal of an interrupted commit, as <see cref="GuardOptions.Force"/> does,
        /// while still refusing a backup of another database (a whole upgrade's rollback, restoring its own backup).</param>
        public static RestoreRunPlan PlanRestore(INbStore store, string backupPath, GuardOptions options, ILogger? logger = null, string? checksum = null,
            bool discardInterruptedCommit = false) =>
            RestoreRunPlan.Make(store, backupPath, checksum, options, logger, discardInterruptedCommit);

        /// <summary>Finishing an interrupted commit.</summary>
        public static ResumePlan PlanResume(INbStore store, GuardOptions options, ILogger? logger = null) =>
            ResumePlan.Make(store, options, logger);

        /// <summary>Taking back an interrupted run, or else the last finished one.</summary>
        public static UndoRunPlan PlanUndo(INbStore store, GuardOptions options, ILogger? logger = null) =>
            UndoRunPlan.Make(store, options, logger);
    }
}
