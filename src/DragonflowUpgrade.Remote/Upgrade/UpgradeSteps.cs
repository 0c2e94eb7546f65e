using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>The steps of the offline upgrade that exist today, in the order the spec gives them.</summary>
    public static class UpgradeSteps
    {
        public const string Stop = "Stop", Update = "Update", Configuration = "Configure", NeutronBackup = "BackupNeutron",
            NeutronMigration = "MigrateNeutron", NbMigration = "MigrateNb", Start = "Start", Verify = "Verify";

        /// <summary>
        /// Stop → update the code → configuration → back up Neutron's database → Neutron's
        /// migration → the NB migration (which backs up what it reads before its first write) →
        /// start → verify.
        /// </summary>
        public static List<IUpgradeStep> Default() => new List<IUpgradeStep>
        {
            new StopStep(), new UpdateStep(), new ConfigurationStep(), new NeutronBackupStep(),
            new NeutronMigrationStep(), new NbMigrationStep(), new StartStep(), new VerifyStep(),
        };

        internal static void Report(UpgradeContext c, string step, ControlPlaneOutcome outcome)
        {
            foreach (var n in outcome.Nodes)
                c.Emit(new UpgradeStepResult(c.State.Id, step, n.Node.Name, n.Succeeded ? UpgradeStepStatus.Succeeded : UpgradeStepStatus.Failed, n.Duration,
                    n.Error ?? string.Join(", ", n.Services.Select(s => s.Service.Name))));   // Error is null when it succeeded
            var failed = outcome.FailedNodes.FirstOrDefault();
            if (failed != null)
                throw new StepFailedException(failed.Node.Name, $"{outcome.FailedNodes.Count} node(s) failed: " + string.Join("; ", outcome.FailedNodes.Select(n => n.Node.Name + ": " + n.Error)));
            if (outcome.HeartbeatFailure != null) throw new StepFailedException(null, outcome.HeartbeatFailure);
        }

        /// <summary>Each node's services, in the order <paramref name="action"/> takes them, as "stop"/"start" and a list.</summary>
        internal static IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c, ControlPlaneAction action) =>
            c.Settings.Nodes.Select(n => ((string?)n.Name, $"{(action == ControlPlaneAction.Stop ? "stop" : "start")} {string.Join(", ", ControlPlane.InOrder(n, action).Select(s => s.Name))}"));
    }

    /// <summary>Stops Neutron servers, then every Dragonflow service, and waits for the heartbeats to stop. Undo starts the old control plane and waits for its heartbeats.</summary>
    sealed class StopStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.Stop;
        public bool RollsBack => true;
        public void RequireUndoable(UpgradeContext c) { }
        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) => UpgradeSteps.Describe(c, ControlPlaneAction.Stop);
        public void Do(UpgradeContext c) =>
            UpgradeSteps.Report(c, Name, c.Plane.Stop(c.Settings.Nodes, c.HeartbeatCheck(), c.Progress, c.Cancel));
        public void Undo(UpgradeContext c) =>
            UpgradeSteps.Report(c, Name, c.Plane.Start(c.Settings.Nodes, c.HeartbeatCheck(), c.Progress, c.Cancel));
    }

    /// <summary>
    /// Runs -UpdateCommand on every node not updated yet (a node is recorded before its command
    /// starts, so an interrupted update is reverted there too). Undo runs -RevertCommand on each and forgets each node as its revert succeeds.
    /// </summary>
    sealed class UpdateStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.Update;
        public bool RollsBack => true;

        /// <summary>An update attempted and no command to revert it: undoing the rest would start the new code on the old databases.</summary>
        public void RequireUndoable(UpgradeContext c)
        {
            if (c.State.UpdateAttempted.Count > 0 && c.Settings.RevertCommand == null)
                throw UpgradeErrors.RevertCommandNeeded(c.State.UpdateAttempted);
        }

        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) =>
            c.Settings.UpdateCommand == null
                ? new[] { ((string?)null, "no -UpdateCommand: the code is left as it is") }
                : c.Settings.Nodes.Select(n => ((string?)n.Name, "run " + Fill(c.Settings.UpdateCommand, "-UpdateCommand", n)));

        public void Do(UpgradeContext c)
        {
            if (c.Settings.UpdateCommand == null)
            {
                c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.Skipped, TimeSpan.Zero, "no -UpdateCommand: the code is left as it is"));
                return;
            }
            var left = c.Settings.Nodes.Where(n => !c.State.Updated.Contains(n.Name)).ToList();
            foreach (var n in left) if (!c.State.UpdateAttempted.Contains(n.Name)) c.State.UpdateAttempted.Add(n.Name);
            c.Save();
            var failed = new List<string>();
            foreach (var r in RunOn(c, left, c.Settings.UpdateCommand, "-UpdateCommand"))
            {
                if (r.Succeeded) c.State.Updated.Add(r.Node.Name);
                else failed.Add($"{r.Node.Name}: {r.Failure}");
                c.Save();
                c.Emit(new UpgradeStepResult(c.State.Id, Name, r.Node.Name, r.Succeeded ? UpgradeStepStatus.Succeeded : UpgradeStepStatus.Failed, r.Duration,
                    r.Succeeded ? "updated" : r.Failure));
            }
            if (failed.Count > 0)
                throw new StepFailedException(failed[0].Split(':')[0], $"the update command failed on {failed.Count} node(s): {string.Join("; ", failed)}");
        }

        public void Undo(UpgradeContext c)
        {
            if (c.State.UpdateAttempted.Count == 0) return;
            RequireUndoable(c);
            var nodes = c.Settings.Nodes.Where(n => c.State.UpdateAttempted.Contains(n.Name)).ToList();
            var failed = new List<string>();
            foreach (var r in RunOn(c, nodes, c.Settings.RevertCommand ?? throw UpgradeErrors.RevertCommandNeeded(c.State.UpdateAttempted), "-RevertCommand"))
            {
                // A node reverted is forgotten at once: after a revert that failed elsewhere, the rollback
                // that goes on does not revert it twice.
                if (r.Succeeded)
                {
                    c.State.Updated.Remove(r.Node.Name);
                    c.State.UpdateAttempted.Remove(r.Node.Name);
                    c.Save();
                }
                else
                {
                    // A failed revert may have half run: the node stays attempted (the rollback that goes on
                    // reverts it again) but is no longer counted as updated.
                    c.State.Updated.Remove(r.Node.Name);
                    c.Save();
                    failed.Add($"{r.Node.Name}: {r.Failure}");
                }
                c.Emit(new UpgradeStepResult(c.State.Id, Name, r.Node.Name, r.Succeeded ? UpgradeStepStatus.RolledBack : UpgradeStepStatus.RollbackFailed, r.Duration,
                    r.Succeeded ? "reverted" : r.Failure));
            }
            if (failed.Count > 0) throw new StepFailedException(failed[0].Split(':')[0], $"the revert command failed on {string.Join("; ", failed)}");
        }

        static IEnumerable<NodeCommandResult> RunOn(UpgradeContext c, IReadOnlyList<DfNode> nodes, string template, string parameter) =>
            NodeFanOut.Run(nodes, c.Settings.ThrottleLimit, c.Settings.Logger,
                (node, log, cancel) =>
                {
                    using (var connection = c.Settings.Ssh.Connect(node, log, cancel))
                        return connection.Run(Fill(template, parameter, node), log, cancel);
                },
                (node, e) => NodeCommandResult.Unreachable(node, template, e, TimeSpan.Zero), c.Cancel);

        static readonly string[] Placeholders = { "node", "chassis" };

        /// <summary>The command for one node: {node} and {chassis} replaced by its names ({service} is no placeholder here).</summary>
        public static string Fill(string template, string parameter, DfNode node)
        {
            var t = new CommandTemplate(template, parameter, 0, Placeholders);
            if (t.Problem != null) throw UpgradeErrors.CommandInvalid(parameter, t.Problem);
            return t.Fill(new Dictionary<string, string> { ["node"] = node.Name, ["chassis"] = node.Chassis });
        }
    }

    /// <summary>
    /// Migrates the NB database to the target release through the engine's guarded, journaled run,
    /// under the upgrade's lock, over the backup the run makes of what it read; a commit the upgrade
    /// was killed in is finished. Undo restores the NB backup recorded when the migration started, exactly.
    /// </summary>
    sealed class NbMigrationStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.NbMigration;
        public bool RollsBack => true;
        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) => new[] { ((string?)null, $"migrate the NB database {c.Store.Location} to {c.Settings.TargetRelease}") };

        public void Do(UpgradeContext c)
        {
            var sw = Stopwatch.StartNew();
            var store = c.Store;
            if (CommitJournal.ReadInProgress(store) != null)
            {
                using (var resume = NbRun.PlanResume(store, Guard(c), c.Settings.Logger))
                {
                    MarkStarted(c);
                    var resumed = resume.Execute(c.Progress);
                    c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.Succeeded, sw.Elapsed,
                        $"finished the interrupted commit of {string.Join(", ", resumed.Migrations)}: {resumed.Puts} put, {resumed.Deletes} deleted"));
                }
                return;
            }
            // The run backs up what it read, and that backup (recorded with the start, before the first write) is what
            // a rollback restores. There is no backup of the NB database before this step: nothing the upgrade does
            // before it writes there, and a backup made earlier would only be superseded by this one (a resume after
            // services ran may find the database changed since).
            // With no commit marker, an earlier start wrote nothing (it stopped before the marker: killed, or its journal
            // not stored), so the database holds what that start's backup holds and this run's backup replaces it.
            // After a finished commit nothing is pending: the plan is empty, and the recorded backup stays.
            var request = new MigrationRunRequest { TargetRelease = c.Settings.TargetRelease, BackupPath = c.Settings.BackupFolder };
            using (var plan = NbRun.PlanMigration(store, c.Settings.CreateMigrator(store), request, Guard(c), c.Progress, c.Settings.Logger))
            {
                if (plan.IsEmpty)
                {
                    c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.Skipped, sw.Elapsed, $"no migration pending up to {c.Settings.TargetRelease}"));
                    return;
                }
                string? superseded = c.State.NbBackupPath;
                plan.Execute(c.Progress, backup =>
                {
                    c.State.NbBackupPath = backup.Path;
                    c.State.NbBackupChecksum = backup.Checksum;
                    MarkStarted(c);
                    // The backup recorded before is no longer what a rollback restores (the state, saved, names the run's): one backup stays.
                    if (superseded != null && superseded != backup.Path)
                    {
                        try { File.Delete(superseded); }
                        catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }   // a spare copy left behind, no harm
                    }
                });
                foreach (var w in plan.Warnings) c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.Warning, TimeSpan.Zero, w));
                c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.Succeeded, sw.Elapsed,
                    $"applied {plan.Migrations.Count} migration(s) ({string.Join(", ", plan.Migrations.Select(m => m.Id))}): " +
                    string.Join("; ", plan.Changes.Select(t => $"{t.Table} +{t.Creates} ~{t.Updates} -{t.Deletes}"))));
            }
        }

        /// <summary>
        /// The guard under the lock the upgrade holds (<see cref="UpgradeRun"/> takes it before the stop):
        /// required still held, not taken again. The whole upgrade has no -IgnoreLiveControlPlane.
        /// </summary>
        static GuardOptions Guard(UpgradeContext c) =>
            new GuardOptions("Invoke-DfUpgrade", planOnly: false, serviceDownTime: c.Settings.ServiceDownTime, heldLock: c.Lock, canIgnoreLiveControlPlane: false);

        /// <summary>Recorded before the first write: a migration that wrote nothing needs no backup to be undone.</summary>
        static void MarkStarted(UpgradeContext c)
        {
            c.State.NbMigrationStarted = true;
            c.Save();
        }

        public void RequireUndoable(UpgradeContext c)
        {
            if (!c.State.NbMigrationStarted) return;
            NbBackup.Verify(RecordedBackup(c), c.State.NbBackupChecksum);
        }

        static string RecordedBackup(UpgradeContext c) =>
            c.State.NbBackupPath ?? throw UpgradeErrors.StateInvalid(c.State.Path, "records an NB migration started but no NB backup to restore");

        public void Undo(UpgradeContext c)
        {
            if (!c.State.NbMigrationStarted) return;
            var sw = Stopwatch.StartNew();
            string backup = RecordedBackup(c);
            // The journal of a commit the upgrade was killed in is discarded; a backup of another database is still refused.
            using (var plan = NbRun.PlanRestore(c.Store, backup, Guard(c), c.Settings.Logger, c.State.NbBackupChecksum, discardInterruptedCommit: true))
            {
                plan.Execute(c.Progress);
                c.State.NbMigrationStarted = false;
                c.Save();
                c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.RolledBack, sw.Elapsed,
                    $"restored {backup}: {plan.Restore.Created} created, {plan.Restore.Updated} updated, {plan.Restore.Deleted} deleted"));
            }
        }
    }

    /// <summary>Starts the Dragonflow services, waits for their heartbeats, then the Neutron servers. Undo stops them all.</summary>
    sealed class StartStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.Start;
        public bool RollsBack => true;
        public void RequireUndoable(UpgradeContext c) { }
        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) => UpgradeSteps.Describe(c, ControlPlaneAction.Start);
        public void Do(UpgradeContext c) =>
            UpgradeSteps.Report(c, Name, c.Plane.Start(c.Settings.Nodes, c.HeartbeatCheck(), c.Progress, c.Cancel));
        public void Undo(UpgradeContext c) =>
            UpgradeSteps.Report(c, Name, c.Plane.Stop(c.Settings.Nodes, c.HeartbeatCheck(), c.Progress, c.Cancel));
    }

    /// <summary>Every service's status command says it runs, and every Dragonflow service that heartbeats has a fresh row.</summary>
    sealed class VerifyStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.Verify;
        public bool RollsBack => true;
        public void RequireUndoable(UpgradeContext c) { }
        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c) => new[] { ((string?)null, "check that every service runs and heartbeats") };
        public void Do(UpgradeContext c) => UpgradeVerification.Require(c, Name);
        public void Undo(UpgradeContext c) { }
    }

    static class UpgradeVerification
    {
        /// <summary>Emits a row per node; fails naming the first node with a service not running or not heartbeating.</summary>
        public static void Require(UpgradeContext c, string step)
        {
            var sw = Stopwatch.StartNew();
            double now = Heartbeats.Now();
            var beats = Heartbeats.ReadServices(c.Store);
            var problems = new List<(string Node, string Why)>();
            foreach (var status in c.Plane.GetStatus(c.Settings.Nodes, c.Cancel).OrderBy(s => s.Node.Name, StringComparer.Ordinal))
            {
                var why = new List<string>();
                if (status.Error != null) why.Add(status.Error.Message);
                else
                {
                    why.AddRange(status.Services.Where(s => s.Status != ServiceState.Running).Select(s => $"{s.Service.Name} is {s.Status}"));
                    why.AddRange(status.Node.ServicesOf(ServiceKind.Dragonflow).Where(s => s.Heartbeat)
                        .Where(s => !beats.Any(b => b.Chassis == status.Node.Chassis && b.Binary == s.Name && b.IsAlive(now, c.Settings.ServiceDownTime)))
                        .Select(s => $"{s.Name} has no fresh heartbeat"));
                }
                c.Emit(new UpgradeStepResult(c.State.Id, step, status.Node.Name, why.Count == 0 ? UpgradeStepStatus.Succeeded : UpgradeStepStatus.Failed, sw.Elapsed,
                    why.Count == 0 ? "every service runs and heartbeats" : string.Join("; ", why)));
                if (why.Count > 0) problems.Add((status.Node.Name, string.Join("; ", why)));
            }
            if (problems.Count > 0)
                throw new StepFailedException(problems[0].Node, string.Join("; ", problems.Select(p => p.Node + ": " + p.Why)));
        }
    }
}
