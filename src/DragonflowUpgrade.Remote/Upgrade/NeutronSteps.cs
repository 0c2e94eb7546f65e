using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>Runs one of Neutron's database commands on its controller; what the command prints reaches the upgrade's log as it comes.</summary>
    static class NeutronCommands
    {
        public const string NotInInventory = "the inventory has no NeutronDatabase table: Neutron's database is left as it is";

        /// <summary>Runs <paramref name="work"/> on the controller; a failure is a Failed row of <paramref name="step"/> for the controller, then a <see cref="StepFailedException"/>.</summary>
        public static T Run<T>(UpgradeContext c, string step, Func<NeutronDatabaseClient, Action<string>, System.Threading.CancellationToken, T> work)
        {
            var db = Database(c);
            // One node through the fan-out: its logger hands the command's lines (read on other threads) to this one.
            var outcome = NodeFanOut.Run(new[] { db.Node }, 1, c.Settings.Logger,
                (node, log, cancel) => (Result: work(new NeutronDatabaseClient(c.Settings.Ssh, log), line => log.LogInformation("{Node}: {Line}", node.Name, line), cancel), Error: (Exception?)null),
                (node, e) => (Result: default(T)!, Error: e), c.Cancel).Single();   // a failure's Result is never read: it is thrown
            if (outcome.Error != null)
            {
                c.Emit(new UpgradeStepResult(c.State.Id, step, db.Node.Name, UpgradeStepStatus.Failed, TimeSpan.Zero, outcome.Error.Message));
                throw new StepFailedException(db.Node.Name, outcome.Error.Message, outcome.Error);
            }
            return outcome.Result;
        }

        /// <summary>Neutron's database; the steps that use it run only when the inventory has one.</summary>
        public static NeutronDatabase Database(UpgradeContext c) =>
            c.Settings.Neutron ?? throw new InvalidOperationException("The inventory has no NeutronDatabase table, so its steps do not run.");

        public static void Skipped(UpgradeContext c, string step) =>
            c.Emit(new UpgradeStepResult(c.State.Id, step, null, UpgradeStepStatus.Skipped, TimeSpan.Zero, NotInInventory));
    }

    /// <summary>Dumps Neutron's database beside the NB backup, once: a resumed upgrade keeps the dump it made. Undo keeps it (the rollback restores it).</summary>
    sealed class NeutronBackupStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.NeutronBackup;
        public bool RollsBack => true;
        public void RequireUndoable(UpgradeContext c) { }

        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) => c.Settings.Neutron == null
            ? new[] { ((string?)null, NeutronCommands.NotInInventory) }
            : new[] { ((string?)c.Settings.Neutron.Node.Name, $"back up Neutron's database into {c.Settings.BackupFolder}: {c.Settings.Neutron.Backup.Shown}") };

        public void Do(UpgradeContext c)
        {
            if (c.Settings.Neutron == null) { NeutronCommands.Skipped(c, Name); return; }
            var sw = Stopwatch.StartNew();
            string node = c.Settings.Neutron.Node.Name;
            if (c.State.NeutronBackupPath != null && File.Exists(c.State.NeutronBackupPath))
            {
                c.Emit(new UpgradeStepResult(c.State.Id, Name, node, UpgradeStepStatus.Skipped, sw.Elapsed, "kept the dump made before: " + c.State.NeutronBackupPath));
                return;
            }
            string path = NeutronDump.DefaultPath(c.Settings.BackupFolder, node, DateTime.UtcNow);
            var backup = NeutronCommands.Run(c, Name, (client, line, cancel) => client.Backup(c.Settings.Neutron, path, c.Settings.NeutronPassword, line, cancel));
            c.State.NeutronBackupPath = backup.Path;
            c.State.NeutronBackupChecksum = backup.Checksum;
            c.Save();
            c.Emit(new UpgradeStepResult(c.State.Id, Name, node, UpgradeStepStatus.Succeeded, sw.Elapsed, $"{backup.Bytes} bytes dumped to {backup.Path}"));
        }

        public void Undo(UpgradeContext c) { } // the dump stays: it is what the rollback restores
    }

    /// <summary>
    /// Runs Neutron's migration on the controller. A migration that was started before (the
    /// upgrade was interrupted in it) may have stopped half-way: the dump is restored first, so
    /// it never runs twice over the same data. Undo restores the dump.
    /// </summary>
    sealed class NeutronMigrationStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.NeutronMigration;
        public bool RollsBack => true;

        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) => c.Settings.Neutron == null
            ? new[] { ((string?)null, NeutronCommands.NotInInventory) }
            : new[] { ((string?)c.Settings.Neutron.Node.Name, "migrate Neutron's database: " + c.Settings.Neutron.Migrate.Shown) };

        public void Do(UpgradeContext c)
        {
            if (c.Settings.Neutron == null) { NeutronCommands.Skipped(c, Name); return; }
            var sw = Stopwatch.StartNew();
            string node = c.Settings.Neutron.Node.Name;
            // The dump is what a rollback restores: checked before the migration may change the database.
            VerifyDump(c, $"records no dump of Neutron's database, which the step {UpgradeSteps.NeutronBackup} makes");
            if (c.State.NeutronMigrationStarted) Restore(c, UpgradeStepStatus.Succeeded, "restored before the migration runs again");
            c.State.NeutronMigrationStarted = true;
            c.Save();
            NeutronCommands.Run(c, Name, (client, line, cancel) => client.Migrate(c.Settings.Neutron, c.Settings.NeutronPassword, line, cancel));
            c.Emit(new UpgradeStepResult(c.State.Id, Name, node, UpgradeStepStatus.Succeeded, sw.Elapsed, "migrated: " + c.Settings.Neutron.Migrate.Shown));
        }

        public void RequireUndoable(UpgradeContext c)
        {
            if (c.Settings.Neutron == null || !c.State.NeutronMigrationStarted) return;
            c.Settings.Neutron.Restore.For(c.Settings.NeutronPassword); // a {password} and none given: says to give -NeutronCredential
            VerifyDump(c, "records a Neutron migration started but no dump to restore");
        }

        /// <summary>The dump matches its .sha256 file and the checksum the state file recorded when it was written.</summary>
        static void VerifyDump(UpgradeContext c, string noDump)
        {
            string path = c.State.NeutronBackupPath ?? throw UpgradeErrors.StateInvalid(c.State.Path, noDump);
            string recorded = c.State.NeutronBackupChecksum ?? throw UpgradeErrors.StateInvalid(c.State.Path, $"records the dump {path} without its checksum");
            string actual = NeutronDump.Verify(path);
            if (!string.Equals(actual, recorded, StringComparison.OrdinalIgnoreCase))
                throw new NeutronDatabaseException(NeutronDatabaseException.DumpDamagedId, DragonflowUpgrade.Engine.Errors.DfErrorCategory.InvalidData,
                    $"The dump {path} is not the one the upgrade made: its SHA-256 is {actual}, and the state file {c.State.Path} recorded {recorded}; nothing was restored.",
                    path, "Put back the dump the upgrade wrote (with its .sha256 file), then run the command again.");
        }

        public void Undo(UpgradeContext c)
        {
            if (c.Settings.Neutron == null || !c.State.NeutronMigrationStarted) return;
            Restore(c, UpgradeStepStatus.RolledBack, "restored");
            c.State.NeutronMigrationStarted = false;
            c.Save();
        }

        static void Restore(UpgradeContext c, UpgradeStepStatus status, string what)
        {
            var sw = Stopwatch.StartNew();
            var db = NeutronCommands.Database(c);
            var restore = NeutronCommands.Run(c, UpgradeSteps.NeutronMigration, (client, line, cancel) => client.Restore(db, c.State.NeutronBackupPath ?? throw UpgradeErrors.StateInvalid(c.State.Path, "records a Neutron migration started but no dump to restore"), c.Settings.NeutronPassword, line, cancel));
            c.Emit(new UpgradeStepResult(c.State.Id, UpgradeSteps.NeutronMigration, db.Node.Name, status, sw.Elapsed,
                $"Neutron's database {what} from {restore.Path} ({restore.Bytes} bytes)"));
        }
    }
}
