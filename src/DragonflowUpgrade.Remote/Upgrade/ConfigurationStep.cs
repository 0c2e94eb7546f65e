using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Dragonflow.Configuration;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>
    /// Applies to every node's dragonflow.ini the renames the target release needs (what
    /// Update-DfConfiguration does), each original kept under the backup folder and on the node.
    /// Each change is recorded before its file is written; Undo puts back every file recorded.
    /// </summary>
    sealed class ConfigurationStep : IUpgradeStep
    {
        public string Name => UpgradeSteps.Configuration;
        public bool RollsBack => true;

        public IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext c)
        {
            if (!(Manifests(c.Settings) is (OptionManifest source, OptionManifest target))) return new[] { ((string?)null, NoManifest(c.Settings)) };
            return c.Settings.Nodes.Select(n => ((string?)n.Name,
                $"rename in {string.Join(", ", n.ConfigFiles)} the options {target.Release} reads under another name (from {source.Release}); the originals kept in {ChangesFolder(c)}"));
        }

        public void Do(UpgradeContext c)
        {
            var sw = Stopwatch.StartNew();
            if (!(Manifests(c.Settings) is (OptionManifest source, OptionManifest target)))
            {
                c.Emit(new UpgradeStepResult(c.State.Id, Name, null, UpgradeStepStatus.Skipped, TimeSpan.Zero, NoManifest(c.Settings)));
                return;
            }
            var configuration = new NodeConfiguration(c.Settings.Ssh, c.Settings.ThrottleLimit, c.Settings.Logger);
            var failed = new List<(string Node, string Why)>();
            var files = new List<ConfigurationFileCheck>();
            foreach (var file in configuration.Check(c.Settings.Nodes, source, target, c.Cancel))
            {
                if (file.Error != null) failed.Add((file.Node.Name, file.Error.Message));
                else if (file.Renames.Count > 0) files.Add(file);
                else c.Emit(new UpgradeStepResult(c.State.Id, Name, file.Node.Name, UpgradeStepStatus.Succeeded, sw.Elapsed, $"{file.Path}: nothing to rename for {target.Release}"));
            }
            // A file that cannot be read stops the step before any is changed.
            // A change is recorded before its file is written: a process killed in between leaves it to the rollback.
            void Record(ConfigurationChange change)
            {
                lock (c.State)
                {
                    c.State.ConfigurationChanges.Add(new ConfigurationChangeRecord
                    {
                        Node = change.Node.Name, Path = change.Path, Backup = change.Backup, NodeBackup = change.NodeBackup,
                        WrittenSha256 = change.WrittenSha256, OriginalSha256 = change.OriginalSha256,
                    });
                    c.Save();
                }
            }
            if (failed.Count == 0)
                foreach (var result in configuration.Apply(files, ChangesFolder(c), c.Cancel, Record))
                {
                    var change = result.Change;
                    if (change == null) { failed.Add((result.File.Node.Name, result.Error!.Message)); continue; }   // a result without a change has its error
                    c.Emit(new UpgradeStepResult(c.State.Id, Name, change.Node.Name, UpgradeStepStatus.Succeeded, sw.Elapsed,
                        $"{change.Path}: renamed {string.Join("; ", change.Renamed)} (the original is {change.Backup})"));
                }
            foreach (var f in failed) c.Emit(new UpgradeStepResult(c.State.Id, Name, f.Node, UpgradeStepStatus.Failed, sw.Elapsed, f.Why));
            if (failed.Count > 0)
                throw new StepFailedException(failed[0].Node, $"{failed.Count} configuration file(s) failed: " + string.Join("; ", failed.Select(f => f.Why)));
        }

        public void RequireUndoable(UpgradeContext c)
        {
            foreach (var r in c.State.ConfigurationChanges ?? new List<ConfigurationChangeRecord>())
            {
                if (!File.Exists(r.Backup))
                    throw new StepFailedException(r.Node, $"{r.Node}: {r.Path} cannot be restored: its backup {r.Backup} is gone (the node keeps a copy, {r.NodeBackup}; put it back there first)");
                // A damaged backup is found before anything is undone, not when its turn comes.
                if (r.OriginalSha256 == null || NodeFiles.Sha256(File.ReadAllBytes(r.Backup)) != r.OriginalSha256)
                    throw new StepFailedException(r.Node, $"{r.Node}: {r.Path} cannot be restored: its backup {r.Backup} is not the file that was read (its SHA-256 is not the one recorded; the node keeps a copy, {r.NodeBackup}; put it back there first)");
            }
        }

        public void Undo(UpgradeContext c)
        {
            var records = c.State.ConfigurationChanges ?? new List<ConfigurationChangeRecord>();
            if (records.Count == 0) return;
            var sw = Stopwatch.StartNew();
            var changes = new List<ConfigurationChange>();
            foreach (var r in records)
            {
                var node = c.Settings.Nodes.FirstOrDefault(n => string.Equals(n.Name, r.Node, StringComparison.OrdinalIgnoreCase))
                    ?? throw new StepFailedException(r.Node, $"{r.Node} is not a node of the inventory: restore {r.Path} there from {r.Backup} by hand");
                changes.Add(new ConfigurationChange(node, r.Path, new string[0], r.Backup, r.NodeBackup, r.WrittenSha256, r.OriginalSha256));
            }
            var failed = new List<(string Node, string Why)>();
            foreach (var result in new NodeConfiguration(c.Settings.Ssh, c.Settings.ThrottleLimit, c.Settings.Logger).Restore(changes, false, c.Cancel))
            {
                ConfigurationChange ch = result.Change;
                if (result.Error == null)
                    records.RemoveAll(r => string.Equals(r.Node, ch.Node.Name, StringComparison.OrdinalIgnoreCase) && r.Path == ch.Path);
                else failed.Add((ch.Node.Name, result.Error.Message));
                c.Save();
                c.Emit(new UpgradeStepResult(c.State.Id, Name, ch.Node.Name, result.Error == null ? UpgradeStepStatus.RolledBack : UpgradeStepStatus.RollbackFailed, sw.Elapsed,
                    result.Error == null ? $"{ch.Path} restored from {ch.Backup}" : result.Error.Message));
            }
            if (failed.Count > 0) throw new StepFailedException(failed[0].Node, string.Join("; ", failed.Select(f => f.Why)));
        }

        static string ChangesFolder(UpgradeContext c) => Path.Combine(c.Settings.BackupFolder, "configuration");

        internal static string NoManifest(UpgradeSettings s) =>
            $"the module has no option manifest of {s.TargetRelease}: the configuration is left as it is (give -OptionManifest to check and update it)";

        /// <summary>
        /// The options of the release before the target (what the nodes run) and of the target, or
        /// of the manifest given instead; null when the module has none for the release.
        /// </summary>
        internal static (OptionManifest Source, OptionManifest Target)? Manifests(UpgradeSettings s)
        {
            if (s.OptionManifest == null && !OptionManifest.Known(s.TargetRelease)) return null;
            var target = OptionManifest.Resolve(s.OptionManifest ?? s.TargetRelease, Path.GetFullPath);
            string? before = DragonflowReleases.Before(s.TargetRelease);
            // The oldest release known, or one the module has no options for: the nodes are read against the target alone.
            var source = before != null ? OptionManifest.Of(before) : target;
            return (source, target);
        }
    }
}
