using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Engine.Run
{
    /// <summary>Which migrations a run applies, and where its backup goes.</summary>
    public sealed class MigrationRunRequest
    {
        /// <summary>Apply the pending migrations up to and including this release; all releases when null.</summary>
        public string? TargetRelease { get; set; }

        /// <summary>Apply exactly these pending migrations (the first pending ones, in order); null for all.</summary>
        public IReadOnlyCollection<string>? Ids { get; set; }

        /// <summary>The backup file, or a folder for a timestamped one (a full path); null for the default place.</summary>
        public string? BackupPath { get; set; }
    }

    /// <summary>What a migration run did: the log rows written, the backup taken before, the commit.</summary>
    public sealed class MigrationRunOutcome
    {
        internal MigrationRunOutcome(IReadOnlyList<MigrationLogEntry> applied, BackupInfo? backup, CommitReport? commit)
        {
            Applied = applied;
            Backup = backup;
            Commit = commit;
        }

        public IReadOnlyList<MigrationLogEntry> Applied { get; }
        /// <summary>The backup taken before the commit; null when nothing was pending (as <see cref="Commit"/>).</summary>
        public BackupInfo? Backup { get; }
        public CommitReport? Commit { get; }
    }

    /// <summary>
    /// A migration run planned: the migrations selected, the schema upgrade, and (applied to an
    /// in-memory snapshot and validated) the writes per table. Executing it backs up what was
    /// read and commits the difference through the journal.
    /// </summary>
    public sealed class MigrationRunPlan : WritePlan
    {
        readonly Migrator _migrator;
        readonly ILogger _logger;

        MigrationRunPlan(INbStore store, UpgradeGuard guard, GuardOptions options, Migrator migrator, string backupPath, ILogger? logger)
            : base(store, guard, options, "migrating")
        {
            _migrator = migrator;
            BackupPath = backupPath;
            _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        }

        /// <summary>The migrations the run applies, in order.</summary>
        public IReadOnlyList<Migration> Migrations { get; private set; } = Array.Empty<Migration>();

        public SchemaUpgrade Schema { get; private set; } = SchemaUpgrade.None;

        /// <summary>The snapshot's writes; null when nothing is pending.</summary>
        public MigrationRunResult? Result { get; private set; }

        /// <summary>Creates, updates and deletes per table, the log's rows included.</summary>
        public IReadOnlyList<TableChanges> Changes => Result?.Changes ?? Array.Empty<TableChanges>();

        /// <summary>Where the backup taken before the first write goes.</summary>
        public string BackupPath { get; }

        /// <summary>No migration pending and no schema upgrade: executing writes nothing.</summary>
        public bool IsEmpty => Result == null;

        public override string Summary =>
            $"apply {Migrations.Count} migration(s) ({string.Join(", ", Migrations.Select(m => m.Id))})" +
            (Schema.ChangesRelease ? $" and upgrade the schema from {Schema.From} to {Schema.To}: " : ": ") +
            string.Join("; ", Changes.Select(c => $"{c.Table} +{c.Creates} ~{c.Updates} -{c.Deletes}")) +
            (Result?.KeyLayout == null ? "" : $"; and write the {Result.Rekeyed} other object(s) again, unchanged, under {Schema.To}'s keys ({Result.KeyLayout.Name})");

        internal static MigrationRunPlan Make(INbStore store, Migrator migrator, MigrationRunRequest request, GuardOptions options,
            IProgress<ProgressReport>? progress, ILogger? logger)
        {
            // A backup path the run would refuse is refused before anything is read.
            string backupPath = NbBackup.ResolvePath(request.BackupPath, store);
            // The log first (the module's own records): with nothing pending, nothing is written,
            // so there is nothing to guard: no lock is taken and no heartbeat read. Unless a commit's
            // marker is there: it may have written the log and not yet the rest. Then the guard, under
            // the lock, names the run still committing, or refuses the commit left interrupted.
            var unguarded = new MigrationRunPlan(store, UpgradeGuard.None, options, migrator, backupPath, logger);
            unguarded.Select(request);
            if (unguarded.IsNothingToDo && CommitJournal.ReadInProgress(store) == null) return unguarded;

            var clock = System.Diagnostics.Stopwatch.StartNew();
            // The control plane is checked on the heartbeat rows of the snapshot, read under the lock
            // before anything is written: one read of the database serves both.
            var guard = Enter(store, options, allowInterruptedCommit: false, logger, controlPlaneLater: true);
            logger?.LogDebug("Took the upgrade lock and checked for an interrupted commit in {Ms} ms.", clock.ElapsedMilliseconds);
            var plan = new MigrationRunPlan(store, guard, options, migrator, backupPath, logger);
            try
            {
                // Read again under the lock: another run may have applied them meanwhile.
                plan.Select(request);
                if (plan.IsNothingToDo) return plan;
                plan.Result = migrator.Run(plan.Migrations, plan.Schema, progress, snapshot =>
                {
                    plan.CheckControlPlane(snapshot.Entries);
                    if (!options.PlanOnly) plan.StartBackup(snapshot);
                });
                foreach (var w in plan.Result.Warnings) plan.Warn(w);
                return plan;
            }
            catch
            {
                plan.Dispose();
                throw;
            }
        }

        bool IsNothingToDo => Migrations.Count == 0 && !Schema.ChangesRelease;

        // The backup of what the run read, written from the snapshot on another thread while the
        // migrations and the validation run; Execute waits for it (written and read back) before
        // the first write. A plan never executed removes the backup it wrote.
        Task<BackupInfo>? _backup;
        bool _backupKept;

        void StartBackup(NbSnapshot snapshot)
        {
            var objects = snapshot.Originals();
            string source = Store.Location, path = BackupPath;
            _backup = Task.Run(() => NbBackup.WriteRunBackup(objects, source, path));
        }

        private protected override void OnDispose()
        {
            if (_backup == null || _backupKept) return;
            try
            {
                var info = _backup.GetAwaiter().GetResult();
                File.Delete(info.Path);
            }
            catch (Exception e)
            {
                // The backup failed (a failed backup leaves no file) or cannot be removed: a run that
                // wrote nothing has nothing more to do, and its own error, if any, is the one to report.
                _logger.LogDebug("The backup of a run that was not executed: {Error}", e.Message);
            }
        }

        void Select(MigrationRunRequest request)
        {
            var log = _migrator.Plan();
            foreach (var s in log.Migrations.Where(s => s.ChecksumChanged))
                Warn($"Migration '{s.Migration.Id}' changed after it was applied ({s.Migration.Source}); it does not run again.");
            Migrations = _migrator.Select(log, request.TargetRelease, request.Ids);
            Schema = _migrator.PlanSchema(log, request.TargetRelease, Migrations);
        }

        /// <summary>Backs up what the plan read, verified, then commits its writes through the journal. Writes nothing for an empty plan.</summary>
        /// <param name="progress">Told how far the commit is; null for no reports.</param>
        /// <param name="beforeFirstWrite">Given the backup, verified, just before the first write: for a caller that records
        /// elsewhere that the database is about to change (a whole upgrade's state file).</param>
        public MigrationRunOutcome Execute(IProgress<ProgressReport>? progress = null, Action<BackupInfo>? beforeFirstWrite = null)
        {
            BeginExecute();
            var result = Result;
            if (result == null) return new MigrationRunOutcome(Array.Empty<MigrationLogEntry>(), null, null);
            RequireControlPlaneChecked();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // Kept from here on, even when the wait throws: a backup that a commit could refer to is never removed.
            _backupKept = true;
            // Started once the snapshot was read, as it is for every plan with a result not made PlanOnly (which BeginExecute refuses).
            var backup = (_backup ?? throw new InvalidOperationException("A run plan with migrations to apply has no backup under way: its snapshot was read without starting one."))
                .GetAwaiter().GetResult();
            _logger.LogDebug("Wrote and read back the backup of {Count} objects (waited {Ms} ms for it).", backup.Objects, clock.ElapsedMilliseconds);
            RequireLockHeld();   // the wait for the backup can be long
            NbBackup.RequireStillThere(backup);   // before a caller records that the database is about to change
            beforeFirstWrite?.Invoke(backup);
            clock.Restart();
            var commit = _migrator.Commit(result, backup, progress);
            _logger.LogDebug("Committed {Count} changes through the journal in {Ms} ms.", result.Writes.Count, clock.ElapsedMilliseconds);
            return new MigrationRunOutcome(result.Applied, backup, commit);
        }
    }
}
