using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using DragonflowUpgrade.Engine;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>
    /// The whole offline upgrade: readiness, then each step in order, its progress in the state
    /// file after every step; a failure after the stop undoes every step begun, in reverse order
    /// (unless NoRollback). An interrupted upgrade is carried on (<see cref="Resume"/>) or rolled
    /// back (<see cref="Undo"/>) from its state file.
    /// </summary>
    public sealed class UpgradeRun
    {
        readonly UpgradeSettings _settings;
        readonly IReadOnlyList<IUpgradeStep> _steps;

        public UpgradeRun(UpgradeSettings settings, IReadOnlyList<IUpgradeStep>? steps = null)
        {
            _settings = settings;
            _steps = steps ?? UpgradeSteps.Default();
        }

        public IReadOnlyList<IUpgradeStep> Steps => _steps;

        /// <summary>Every step the upgrade would take, node by node, without doing any.</summary>
        public IReadOnlyList<UpgradeStepResult> Describe()
        {
            var state = NewState(null);
            // Steps describe themselves without reporting progress: this progress goes nowhere.
            using (var c = new UpgradeContext(_settings, state, _ => { }, new Progress<ProgressReport>(), CancellationToken.None))
                return _steps.SelectMany(s => s.Describe(c).Select(d => new UpgradeStepResult(null, s.Name, d.Node, UpgradeStepStatus.WouldRun, TimeSpan.Zero, d.Detail))).ToList();
        }

        /// <summary>An upgrade recorded in the backup folder that neither finished nor was rolled back; null if none.</summary>
        public UpgradeState? FindInterrupted()
        {
            var state = UpgradeState.Load(_settings.BackupFolder);
            return state != null && state.Interrupted ? state : null;
        }

        /// <summary>
        /// Refuses a new upgrade while the folder records one unfinished: as under way while a live
        /// process holds the NB database's lock for it (it is not to be resumed or undone), else as interrupted.
        /// </summary>
        public void RequireNoneUnfinished()
        {
            var earlier = FindInterrupted();
            if (earlier == null) return;
            UpgradeLockInfo? holder;
            using (var store = _settings.OpenDatabase()) holder = UpgradeLock.Read(store);
            if (holder != null && holder.Upgrade == earlier.Id && !holder.OwnerGone) throw UpgradeErrors.Running(earlier, holder);
            throw UpgradeErrors.Interrupted(earlier);
        }

        /// <summary>Runs a new upgrade. Refuses when another is recorded as unfinished in the folder, and when readiness fails (then nothing was changed).</summary>
        public UpgradeState Run(Action<UpgradeStepResult> emit, IProgress<ProgressReport> progress, CancellationToken cancel,
            Func<IReadOnlyList<ReadinessResult>>? readiness = null)
        {
            if (_settings.UpdateCommand != null && _settings.RevertCommand == null && !_settings.NoRollback) throw UpgradeErrors.RevertCommandMissing();
            RequireCommandsValid(update: true);
            RequireNoneUnfinished();
            // Before readiness, which would otherwise refuse the database for the leftover record.
            using (var store = _settings.OpenDatabase()) ClearNeverBegun(store);
            if (readiness != null)
            {
                var sw = Stopwatch.StartNew();
                var checks = readiness();
                foreach (var r in checks)
                    emit(new UpgradeStepResult(null, "Readiness", r.Node, r.Status == ReadinessStatus.Failed ? UpgradeStepStatus.Failed
                        : r.Status == ReadinessStatus.Warning ? UpgradeStepStatus.Warning : UpgradeStepStatus.Passed, sw.Elapsed, $"{r.Check}: {r.Message}"));
                var failed = checks.Where(r => r.Status == ReadinessStatus.Failed).ToList();
                if (failed.Count > 0)
                    throw UpgradeErrors.NotReady(failed.Count, string.Join("; ", failed.Select(f => (f.Node == null ? "" : f.Node + ": ") + f.Check + ": " + f.Message)));
            }
            var state = NewState(UpgradeState.PathIn(_settings.BackupFolder));
            using (var c = new UpgradeContext(_settings, state, emit, progress, cancel))
            {
                using (Lock(c)) // before the state file exists: a refused upgrade leaves nothing to resume
                {
                    state.Database = c.Store.Location;
                    try { state.Save(); }
                    catch (DfException)
                    {
                        // Nothing began and no state file says so: the database is not left marked as under an upgrade no one can resume.
                        UpgradeUnderWay.End(c.Store);
                        throw;
                    }
                    // From here a missing state file means an unreachable folder, not an upgrade that began nothing.
                    UpgradeUnderWay.MarkStateSaved(c.Store, state.Id);
                    return Ended(c, () => Continue(c));
                }
            }
        }

        /// <summary>A bad placeholder in -UpdateCommand (when it will run: not for an undo) or -RevertCommand is refused before anything runs or is undone.</summary>
        void RequireCommandsValid(bool update)
        {
            foreach (var node in _settings.Nodes.Take(1))
            {
                if (update && _settings.UpdateCommand != null) UpdateStep.Fill(_settings.UpdateCommand, "-UpdateCommand", node);
                if (_settings.RevertCommand != null) UpdateStep.Fill(_settings.RevertCommand, "-RevertCommand", node);
            }
        }

        /// <summary>
        /// Clears the database's record of an upgrade killed between taking its lock and first saving
        /// its state file: the record says its state was never saved, it was started on this host, no
        /// state file of it is in the folder it names, and its lock is gone or held by a process that
        /// is gone. Such an upgrade began no step (a step is saved as begun before it acts), so there
        /// is nothing to resume or undo; a warning says so. Any other record is left to refuse this
        /// run: a missing state file alone may be a folder not mounted.
        /// </summary>
        void ClearNeverBegun(INbStore store)
        {
            var record = UpgradeUnderWay.Read(store);
            if (record == null || record.StateSaved != false || record.Folder == null || record.Host != Environment.MachineName || Saved(record)) return;
            var holder = UpgradeLock.Read(store);
            if (holder != null && !(holder.Upgrade == record.Upgrade && holder.OwnerGone)) return;
            UpgradeLock.Unlock(store, force: true);   // the dead holder's lock and the record
            _settings.Logger.LogWarning("Cleared the record of {Upgrade} from {Database}: it was killed before it saved its state file, so it began no step and there is nothing to resume or undo.",
                record, store.Location);
        }

        /// <summary>
        /// Whether the upgrade's folder holds its state file (or one that cannot be read, which might be
        /// it). A state file of an earlier upgrade there is not: the recorded one would have replaced it.
        /// </summary>
        static bool Saved(UpgradeUnderWay record)
        {
            if (!File.Exists(UpgradeState.PathIn(record.Folder!))) return false;
            try { return UpgradeState.Load(record.Folder!)?.Id == record.Upgrade; }
            catch (DfException) { return true; }
        }

        /// <summary>
        /// Carries on the upgrade recorded in the backup folder from the step it reached. An upgrade
        /// whose rollback began (killed in it, or stopped by an undo that failed or lacked something)
        /// is not carried on: the resume goes on with its rollback and fails saying so (going on would
        /// start services over a half-restored database).
        /// </summary>
        public UpgradeState Resume(Action<UpgradeStepResult> emit, IProgress<ProgressReport> progress, CancellationToken cancel)
        {
            var state = Recorded(resume: true);
            using (var c = new UpgradeContext(_settings, state, emit, progress, cancel))
            using (Lock(c))
            {
                if (state.RollbackBegun)
                    return Ended(c, () =>
                    {
                        string restored = Rollback(c);
                        WriteReport(c);
                        bool rolledBack = state.Status == UpgradeStatus.RolledBack;
                        throw new UpgradeFailedException("Resume", null, "the upgrade was being rolled back when it stopped, so the resume went on with the rollback instead of the upgrade" +
                            (rolledBack ? "." : ", and the rollback did not finish."), restored, rolledBack, null);
                    });
                state.Status = UpgradeStatus.Running;
                state.Failure = null;
                c.Save();
                return Ended(c, () => Continue(c));
            }
        }

        /// <summary>Rolls back the upgrade recorded in the backup folder: every step begun, in reverse order.</summary>
        public UpgradeState Undo(Action<UpgradeStepResult> emit, IProgress<ProgressReport> progress, CancellationToken cancel)
        {
            var state = Recorded(resume: false);
            using (var c = new UpgradeContext(_settings, state, emit, progress, cancel))
            using (Lock(c))
                return Ended(c, () =>
                {
                    string restored = Rollback(c);
                    WriteReport(c);
                    if (state.Status != UpgradeStatus.RolledBack)
                        throw new UpgradeFailedException("Undo", null, "the rollback did not finish.", restored, false, null);
                    return state;
                });
        }

        /// <summary>
        /// Takes the NB database's lock for the whole upgrade, before anything is stopped, until it
        /// ends (done, rolled back, or failed): every other writer is refused meanwhile, and the NB
        /// steps write under this lock. A resume or an undo takes over the lock of the run it
        /// carries on when that run's process is gone (or its lock expired); a live holder is refused,
        /// and so is a dead upgrade's lock by any other run, a new upgrade included. The lock names
        /// the upgrade and its state file's folder, so whoever finds it knows what to resume.
        /// </summary>
        static UpgradeLock Lock(UpgradeContext c)
        {
            c.Lock = UpgradeLock.Acquire(c.Store, $"Invoke-DfUpgrade (upgrade {c.State.Id} to {c.State.TargetRelease}, its state in {c.Settings.BackupFolder})",
                c.Settings.Logger, c.State.Id);
            try { UpgradeUnderWay.Begin(c.Store, c.State.Id, c.State.TargetRelease, Path.GetFullPath(c.Settings.BackupFolder)); }
            catch { c.Lock.Dispose(); throw; }
            return c.Lock;
        }

        /// <summary>
        /// Runs <paramref name="work"/>; once the upgrade completed or was rolled back (not when it
        /// stopped part-way), removes the database's record that it is under way, which outlives the lock.
        /// </summary>
        static UpgradeState Ended(UpgradeContext c, Func<UpgradeState> work)
        {
            try { return work(); }
            finally
            {
                // A failure to remove it never hides the run's own outcome; the record then refuses writers until Unlock-DfNbDatabase -Force.
                try { if (!c.State.Interrupted) UpgradeUnderWay.End(c.Store); }
                catch (Exception e) when (e is NbStoreException || e is IOException)
                {
                    c.Settings.Logger.LogWarning("Could not remove the record of upgrade {Upgrade} from the NB database: {Error}. Unlock-DfNbDatabase -Force removes it.", c.State.Id, e.Message);
                }
            }
        }

        UpgradeState Recorded(bool resume)
        {
            var state = UpgradeState.Load(_settings.BackupFolder);
            if (state == null || !state.Interrupted) throw UpgradeErrors.NothingToResume(_settings.BackupFolder);
            using (var store = _settings.OpenDatabase())
                state.RequireSameCloud(store.Location, _settings.Nodes, _settings.Neutron);
            var known = new HashSet<string>(_steps.Select(s => s.Name));
            var unknown = state.Steps.FirstOrDefault(s => !known.Contains(s.Name));
            if (unknown != null) throw UpgradeErrors.StateInvalid(state.Path, $"names a step this module does not have ({unknown.Name})");
            // The backups a rollback restores are the upgrade's own, in its folder: a state file pointing elsewhere was not written by it.
            string folder = Path.GetFullPath(_settings.BackupFolder).TrimEnd(Path.DirectorySeparatorChar);
            foreach (var (what, path) in new[] { ("Neutron's dump", state.NeutronBackupPath), ("the NB backup", state.NbBackupPath) })
                if (path != null && Path.GetDirectoryName(Path.GetFullPath(path)) != folder)
                    throw UpgradeErrors.StateInvalid(state.Path, $"names as {what} {path}, which is not in the upgrade's backup folder {folder}");
            // A configuration restore pushes a local file to a node: only the upgrade's own backups, only to that node's configuration files.
            string changes = Path.Combine(folder, "configuration") + Path.DirectorySeparatorChar;
            foreach (var r in state.ConfigurationChanges ?? new List<ConfigurationChangeRecord>())
            {
                if (r?.Backup == null || !Path.GetFullPath(r.Backup).StartsWith(changes, StringComparison.Ordinal))
                    throw UpgradeErrors.StateInvalid(state.Path, $"names as the backup of {r?.Path} on {r?.Node} {r?.Backup ?? "nothing"}, which is not under the upgrade's {changes}");
                var node = _settings.Nodes.FirstOrDefault(n => string.Equals(n.Name, r.Node, StringComparison.OrdinalIgnoreCase));
                if (node == null || !node.ConfigFiles.Contains(r.Path, StringComparer.Ordinal))
                    throw UpgradeErrors.StateInvalid(state.Path, $"records a change to {r.Path} on {r.Node}, which is not a configuration file of that node in the inventory ({(node == null ? "no such node" : string.Join(", ", node.ConfigFiles))})");
            }
            foreach (var s in _steps.Where(s => state.Steps.All(r => r.Name != s.Name)))
                throw UpgradeErrors.StateInvalid(state.Path, $"lacks the step {s.Name}");
            if (!state.Steps.Select(s => s.Name).SequenceEqual(_steps.Select(s => s.Name)))
                throw UpgradeErrors.StateInvalid(state.Path, $"lists its steps twice or out of order ({string.Join(", ", state.Steps.Select(s => s.Name))})");
            // A run marks steps done only in order and starts them only in order: done steps lead, pending ones trail.
            int firstNotDone = state.Steps.FindIndex(s => s.State != StepState.Done);
            int lastNotPending = state.Steps.FindLastIndex(s => s.State != StepState.Pending);
            var skipped = firstNotDone < 0 ? null : state.Steps.Skip(firstNotDone + 1).FirstOrDefault(s => s.State == StepState.Done);
            if (skipped != null)
                throw UpgradeErrors.StateInvalid(state.Path, $"records the step {skipped.Name} as done but the step {state.Steps[firstNotDone].Name} before it as {state.Steps[firstNotDone].State}: no upgrade leaves that");
            int firstPending = state.Steps.FindIndex(s => s.State == StepState.Pending);
            if (firstPending >= 0 && firstPending < lastNotPending)
                throw UpgradeErrors.StateInvalid(state.Path, $"records the step {state.Steps[lastNotPending].Name} as {state.Steps[lastNotPending].State} but the step {state.Steps[firstPending].Name} before it as never started: no upgrade leaves that");
            if (!string.Equals(state.TargetRelease, _settings.TargetRelease ?? state.TargetRelease, StringComparison.OrdinalIgnoreCase))
                throw UpgradeErrors.StateOtherCloud(state.Path, $"records an upgrade to {state.TargetRelease}, not {_settings.TargetRelease}");
            // Steps done with the recorded command and manifest are not redone: the rest must use the same ones.
            if (_settings.UpdateCommand != null && _settings.UpdateCommand != state.UpdateCommand)
                throw UpgradeErrors.StateOtherCloud(state.Path, "records the upgrade with another -UpdateCommand (a resume runs the recorded one again; leave -UpdateCommand out)");
            if (_settings.OptionManifest != null && _settings.OptionManifest != state.OptionManifest)
                throw UpgradeErrors.StateOtherCloud(state.Path, $"records the upgrade with the option manifest {state.OptionManifest ?? "of " + state.TargetRelease}, not {_settings.OptionManifest} (a resume uses the recorded one; leave -OptionManifest out)");
            _settings.TargetRelease = state.TargetRelease;
            _settings.UpdateCommand = state.UpdateCommand;
            _settings.RevertCommand = _settings.RevertCommand ?? state.RevertCommand;
            _settings.OptionManifest = state.OptionManifest;
            // Before anything is undone: a bad placeholder would otherwise stop the rollback after the restores, with the old control plane not started.
            RequireCommandsValid(update: resume);
            return state;
        }

        UpgradeState NewState(string? path) => new UpgradeState
        {
            Id = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'") + "-" + Guid.NewGuid().ToString("N").Substring(0, 6),
            Inventory = _settings.Inventory,
            Nodes = _settings.Nodes.Select(NodeRecord.Of).ToList(),
            Neutron = NeutronRecord.Of(_settings.Neutron),
            TargetRelease = _settings.TargetRelease,
            UpdateCommand = _settings.UpdateCommand,
            RevertCommand = _settings.RevertCommand,
            OptionManifest = _settings.OptionManifest,
            Status = UpgradeStatus.Running,
            StartedAt = DateTimeOffset.UtcNow,
            Steps = _steps.Select(s => new StepRecord { Name = s.Name, State = StepState.Pending }).ToList(),
            Path = path,
        };

        UpgradeState Continue(UpgradeContext c)
        {
            var state = c.State;
            for (int i = 0; i < _steps.Count; i++)
            {
                var step = _steps[i];
                var record = state.Step(step.Name);
                if (record.State == StepState.Done) continue;
                c.Progress?.Report(new ProgressReport("Upgrading the cloud to " + state.TargetRelease, $"Step {i + 1} of {_steps.Count}: {step.Name}", 100 * i / _steps.Count));
                record.State = StepState.Running;
                record.StartedAt = DateTimeOffset.UtcNow;
                c.Save();
                try { step.Do(c); }
                catch (Exception e)
                {
                    string? node = (e as StepFailedException)?.Node;
                    // Ctrl+C: the commands of a rollback would be cancelled too; the state says where it stopped.
                    bool interrupted = e is OperationCanceledException && c.Cancel.IsCancellationRequested;
                    record.State = StepState.Failed;
                    record.FinishedAt = DateTimeOffset.UtcNow;
                    record.Detail = e.Message;
                    state.Failure = $"step {step.Name}{(node == null ? "" : " on " + node)}: {e.Message}";
                    state.Status = UpgradeStatus.Failed;
                    c.Save();
                    // A step's per-node failures are rows already; a failure of the whole step gets its row here.
                    if (!(e is StepFailedException failed) || failed.Node == null)
                        c.Emit(new UpgradeStepResult(state.Id, step.Name, null, UpgradeStepStatus.Failed, (record.FinishedAt - record.StartedAt) ?? TimeSpan.Zero, e.Message));
                    if (_settings.NoRollback || interrupted || !step.RollsBack)
                    {
                        WriteReport(c);
                        throw new UpgradeFailedException(step.Name, node, e.Message,
                            (interrupted ? "Interrupted" : "-NoRollback") + ": nothing was rolled back; the control plane stays as the step left it.", false, e);
                    }
                    string restored = Rollback(c);
                    WriteReport(c);
                    throw new UpgradeFailedException(step.Name, node, e.Message, restored, state.Status == UpgradeStatus.RolledBack, e);
                }
                record.State = StepState.Done;
                record.FinishedAt = DateTimeOffset.UtcNow;
                c.Save();
            }
            state.Status = UpgradeStatus.Completed;
            c.Save();
            WriteReport(c);
            return state;
        }

        /// <summary>
        /// Undoes every step begun, last first; says what was put back. What the undos need (a
        /// password, backups present and intact) is checked first: if anything lacks, nothing is
        /// undone (a rollback that undid steps before stays recorded as rolling back). A step whose undo fails stops the rollback there, so nothing is started over a
        /// restore that failed; the state file keeps the rest for a later Undo-DfUpgrade.
        /// </summary>
        string Rollback(UpgradeContext c)
        {
            var state = c.State;
            var begun = Enumerable.Range(0, _steps.Count).Reverse()
                .Where(i => state.Step(_steps[i].Name).State != StepState.Pending && state.Step(_steps[i].Name).State != StepState.Undone).ToList();
            var lacking = new List<string>();
            foreach (int i in begun)
            {
                try { _steps[i].RequireUndoable(c); }
                catch (Exception e) when (!(e is OutOfMemoryException))
                {
                    lacking.Add($"{_steps[i].Name} ({e.Message}{(e is DfException df && df.RecommendedAction != null ? " " + df.RecommendedAction : "")})");
                    c.Emit(new UpgradeStepResult(state.Id, _steps[i].Name, (e as StepFailedException)?.Node, UpgradeStepStatus.RollbackFailed, TimeSpan.Zero, e.Message));
                }
            }
            if (lacking.Count > 0)
            {
                // Once a step was undone, only a rollback may follow: the status keeps a resume from carrying the upgrade on.
                bool underWay = state.RollbackBegun;
                state.Status = underWay ? UpgradeStatus.RollingBack : UpgradeStatus.RollbackFailed;
                c.Save();
                return $"The rollback {(underWay ? "could not go on, so nothing more was undone" : "did not start, so nothing was undone")}: it would fail at {string.Join("; ", lacking)}. Provide what it names, then run Undo-DfUpgrade.";
            }
            state.Status = UpgradeStatus.RollingBack;
            c.Save();
            var done = new List<string>();
            string? failed = null;
            // An NB migration that wrote nothing has nothing to restore: its undo does nothing.
            bool nbWritten = state.NbMigrationStarted;
            foreach (int i in begun)
            {
                var step = _steps[i];
                var record = state.Step(step.Name);
                c.Progress?.Report(new ProgressReport("Rolling the cloud back", "Undoing " + step.Name, 100 * (_steps.Count - 1 - i) / _steps.Count));
                record.State = StepState.Undoing;   // before the undo's first action: a resume then finishes it instead of skipping a step recorded as done
                c.Save();
                try
                {
                    step.Undo(c);
                    record.State = StepState.Undone;
                    done.Add(step.Name);
                }
                catch (Exception e)
                {
                    record.State = StepState.UndoFailed;
                    record.Detail = e.Message;
                    failed = $"{step.Name} ({e.Message})";
                    c.Emit(new UpgradeStepResult(state.Id, step.Name, (e as StepFailedException)?.Node, UpgradeStepStatus.RollbackFailed, TimeSpan.Zero, e.Message));
                }
                c.Save();
                if (failed != null) break;
            }
            state.Status = failed == null ? UpgradeStatus.RolledBack : UpgradeStatus.RollbackFailed;
            c.Save();
            return failed == null
                ? $"Rolled back: {string.Join(", ", Undone())}."
                : $"The rollback failed at {failed} and stopped there: the steps before it were left as they are (nothing was started over it); undone: {(Undone().Count == 0 ? "nothing" : string.Join(", ", Undone()))}. Fix the cause, then run Undo-DfUpgrade to finish it.";

            List<string> Undone() => done.Select(Said).OfType<string>().ToList();

            // What undoing a step did, in words; null for a step whose undo changes nothing (the backups stay).
            string? Said(string name)
            {
                switch (name)
                {
                    case UpgradeSteps.Stop: return "the old control plane started and heartbeating";
                    case UpgradeSteps.Update: return "the old code back on every node updated (-RevertCommand)";
                    case UpgradeSteps.Configuration: return "the configuration files changed put back";
                    case UpgradeSteps.NeutronMigration: return "Neutron's database restored from " + state.NeutronBackupPath;
                    case UpgradeSteps.NbMigration: return nbWritten ? "the NB database restored from " + state.NbBackupPath : "the NB database left as it was (its migration had written nothing)";
                    case UpgradeSteps.NeutronBackup: return null;
                    case UpgradeSteps.Start: return "the new control plane stopped";
                    default: return name;
                }
            }
        }

        /// <summary>
        /// Writes the upgrade's report beside its backups: the state as JSON and a Markdown summary.
        /// A report that cannot be written is a warning: the run's own outcome (completed, rolled back,
        /// failed) is what the caller must see, and the state file records the same.
        /// </summary>
        static void WriteReport(UpgradeContext c)
        {
            try { WriteReportFiles(c); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                c.Settings.Logger.LogWarning("Could not write the report of upgrade {Upgrade} beside its backups ({Error}); its state file {Path} records the same.",
                    c.State.Id, e.Message, c.State.Path);
            }
        }

        static void WriteReportFiles(UpgradeContext c)
        {
            var s = c.State;
            if (s.Path == null) return;
            string folder = Path.GetDirectoryName(s.Path)!;   // a file's full path: it has a folder
            File.Copy(s.Path, Path.Combine(folder, $"df-upgrade-{s.Id}.json"), true);
            var md = new System.Text.StringBuilder();
            md.AppendLine($"# Dragonflow upgrade {s.Id}").AppendLine()
              .AppendLine($"- Database: {s.Database}").AppendLine($"- Nodes: {string.Join(", ", s.Nodes.Select(n => n.Name))}")
              .AppendLine($"- Target release: {s.TargetRelease}").AppendLine($"- Status: {s.Status}")
              .AppendLine($"- NB backup: {s.NbBackupPath ?? "none (the NB migration wrote nothing)"}")
              .AppendLine($"- Neutron's database: {(c.Settings.Neutron == null ? NeutronCommands.NotInInventory : "dump " + s.NeutronBackupPath)}");
            if (s.Failure != null) md.AppendLine($"- Failure: {s.Failure}");
            md.AppendLine().AppendLine("| Step | State | Started | Finished | Detail |").AppendLine("|---|---|---|---|---|");
            foreach (var r in s.Steps)
                md.AppendLine($"| {r.Name} | {r.State} | {r.StartedAt:u} | {r.FinishedAt:u} | {(r.Detail ?? "").Replace("|", "\\|").Replace("\n", " ")} |");
            File.WriteAllText(Path.Combine(folder, $"df-upgrade-{s.Id}.md"), md.ToString());
        }
    }
}
