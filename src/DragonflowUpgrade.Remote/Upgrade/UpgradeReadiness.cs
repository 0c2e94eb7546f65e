using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Dragonflow.Configuration;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Remote.Upgrade
{
    public enum ReadinessStatus { Passed, Warning, Failed }

    /// <summary>One readiness check: Passed, Warning or Failed, with what to fix.</summary>
    public sealed class ReadinessResult
    {
        public ReadinessResult(string check, string? node, ReadinessStatus status, string message)
        {
            Check = check;
            Node = node;
            Status = status;
            Message = message;
        }

        public string Check { get; }
        /// <summary>The node checked, or null for a check of the database or the backup folder.</summary>
        public string? Node { get; }
        public ReadinessStatus Status { get; }
        public string Message { get; }
    }

    /// <summary>What an upgrade needs before it stops anything. Every check reads; none writes.</summary>
    public static class UpgradeReadiness
    {
        public static IEnumerable<ReadinessResult> Check(UpgradeSettings settings, System.Threading.CancellationToken cancel = default)
        {
            var plane = new ControlPlane(settings.Ssh, settings.ThrottleLimit, settings.Logger);
            var reachable = new List<DfNode>();
            foreach (var status in plane.GetStatus(settings.Nodes, cancel).OrderBy(s => s.Node.Name, StringComparer.Ordinal))
            {
                if (status.Error == null) reachable.Add(status.Node);
                if (status.Error != null)
                {
                    yield return new ReadinessResult("NodeReachable", status.Node.Name, ReadinessStatus.Failed,
                        $"{status.Error.Message} Check the node's address, sshd and identity file; an unknown host key is accepted with -AcceptNewHostKey.");
                    continue;
                }
                var silent = status.Services.Where(s => s.Status == ServiceState.Unknown).ToList();
                yield return silent.Count == 0
                    ? new ReadinessResult("NodeReachable", status.Node.Name, ReadinessStatus.Passed,
                        "reachable; " + string.Join(", ", status.Services.Select(s => $"{s.Service.Name} {s.Status}")))
                    : new ReadinessResult("ServiceCommands", status.Node.Name, ReadinessStatus.Failed,
                        "the status command of " + string.Join(", ", silent.Select(s => $"{s.Service.Name} did not answer ({s.Detail})")) + ". Fix the service commands in the inventory.");
            }

            foreach (var r in CheckConfiguration(settings, reachable, cancel)) yield return r;
            // Neutron's dump is sized from its database; without a size, the folder check says it sized the NB backup alone.
            long? neutronBytes = null;
            string? unsized = NeutronCommands.NotInInventory;
            if (settings.Neutron is NeutronDatabase db)
            {
                var (neutron, bytes, why) = CheckNeutron(settings, db, cancel);
                yield return neutron;
                (neutronBytes, unsized) = (bytes, why);
            }

            INbStore? store = null;
            ReadinessResult? openFailure = null;
            try { store = settings.OpenDatabase(); }
            catch (Exception e) { openFailure = new ReadinessResult("NbDatabase", null, ReadinessStatus.Failed, e.Message); }
            if (store == null) { if (openFailure != null) yield return openFailure; yield break; }
            using (store)
                foreach (var r in CheckDatabase(settings, store, neutronBytes, unsized)) yield return r;
        }

        static IEnumerable<ReadinessResult> CheckDatabase(UpgradeSettings settings, INbStore store, long? neutronBytes, string? unsized)
        {
            var results = new List<ReadinessResult>();
            try
            {
                var holder = UpgradeLock.Read(store);
                results.Add(holder == null
                    ? new ReadinessResult("NbDatabase", null, ReadinessStatus.Passed, $"{store.Location} answers and is not locked")
                    : UpgradeLock.IsHeldBySession(holder)
                    ? new ReadinessResult("NbDatabase", null, ReadinessStatus.Passed, $"{store.Location} answers; this session holds its lock (Lock-DfNbDatabase), which the upgrade shares")
                    : holder.OwnerGone && holder.Upgrade != null
                    ? new ReadinessResult("NbDatabase", null, ReadinessStatus.Failed, $"{new UpgradeLockedException(store.Location, holder).Message} {new UpgradeLockedException(store.Location, holder).RecommendedAction}")
                    : holder.OwnerGone
                    ? new ReadinessResult("NbDatabase", null, ReadinessStatus.Warning, $"{store.Location} is locked by {holder}, which is gone: the upgrade takes the lock over")
                    : new ReadinessResult("NbDatabase", null, ReadinessStatus.Failed, $"{store.Location} is locked by {holder}; wait for that run to end, or Unlock-DfNbDatabase -Force if its holder is gone"));
                var underWay = UpgradeUnderWay.Read(store);
                if (underWay != null)
                {
                    var refused = new UpgradeUnderWayException(store.Location, underWay);
                    results.Add(new ReadinessResult("NbDatabase", null, ReadinessStatus.Failed, $"{refused.Message} {refused.RecommendedAction}"));
                }
                var marker = CommitJournal.ReadInProgress(store);
                results.Add(marker == null
                    ? new ReadinessResult("NbCommit", null, ReadinessStatus.Passed, "no interrupted commit")
                    : new ReadinessResult("NbCommit", null, ReadinessStatus.Failed, $"an interrupted commit waits (run {marker.RunId}); finish it with Resume-DfMigration or take it back with Undo-DfMigration"));

                var migrator = settings.CreateMigrator(store);
                var plan = migrator.Plan();
                // An upgrade never goes back: a database past the target would get older code started on it.
                var catalog = migrator.Catalog;
                int target = catalog.RequireRelease(settings.TargetRelease);
                string? reached = plan.Migrations.Where(m => m.IsApplied).Select(m => m.Migration.Release)
                    .Append(MigrationLog.RecordedRelease(plan.Log)).OfType<string>().OrderBy(catalog.ReleaseIndex).LastOrDefault();
                bool past = reached != null && catalog.ReleaseIndex(reached) > target;
                long bytes = 0;
                if (past)
                {
                    results.Add(new ReadinessResult("NbMigrations", null, ReadinessStatus.Failed,
                        $"{store.Location} is already at {reached}, after {settings.TargetRelease}: an upgrade does not go back. Give a later -TargetRelease, or restore an older backup with Restore-DfNbDatabase"));
                    bytes = store.Read().Sum(e => (long)e.Value.Length + 64);
                }
                else if (migrator.Select(plan, settings.TargetRelease) is var selected && migrator.PlanSchema(plan, settings.TargetRelease, selected) is var schema
                         && selected.Count == 0 && !schema.ChangesRelease)
                {
                    results.Add(new ReadinessResult("NbMigrations", null, ReadinessStatus.Passed, $"no migration pending up to {settings.TargetRelease}"));
                    bytes = store.Read().Sum(e => (long)e.Value.Length + 64); // the upgrade backs it up all the same
                }
                else
                {
                    // On the in-memory snapshot only: validated against the target schema, nothing written.
                    var run = migrator.Run(selected, schema);
                    bytes = run.Before.Sum(e => (long)e.Value.Length + 64);
                    results.Add(new ReadinessResult("NbMigrations", null, ReadinessStatus.Passed,
                        $"{selected.Count} migration(s) planned and validated against {settings.TargetRelease} ({string.Join(", ", selected.Select(m => m.Id))}); " +
                        string.Join("; ", run.Changes.Select(t => $"{t.Table} +{t.Creates} ~{t.Updates} -{t.Deletes}"))));
                    results.AddRange(run.Warnings.Select(w => new ReadinessResult("NbMigrations", null, ReadinessStatus.Warning, w)));
                }
                results.Add(CheckFolder(settings.BackupFolder, bytes, neutronBytes, unsized));

                double now = Heartbeats.Now();
                var alive = Heartbeats.ReadAll(store).Where(h => h.IsAlive(now, settings.ServiceDownTime)).ToList();
                results.Add(new ReadinessResult("ControlPlane", null, ReadinessStatus.Passed,
                    alive.Count == 0 ? "no service, Neutron server or publisher reports in: the control plane is down"
                                     : $"{alive.Count} service(s), Neutron server(s) or publisher(s) report in; the upgrade stops them"));
                var interrupted = UpgradeState.Load(settings.BackupFolder);
                if (interrupted != null && interrupted.Interrupted)
                    results.Add(new ReadinessResult("UpgradeState", null, ReadinessStatus.Failed, UpgradeErrors.Interrupted(interrupted).Message + " Run Invoke-DfUpgrade -Resume or Undo-DfUpgrade."));
            }
            catch (Exception e) when (!(e is OutOfMemoryException))
            {
                results.Add(new ReadinessResult("NbMigrations", null, ReadinessStatus.Failed, e.Message));
            }
            return results;
        }

        /// <summary>One result per node: the worst of its files' findings (Failed for one the upgrade would lose, Warning for one it fixes or that only warns).</summary>
        static IEnumerable<ReadinessResult> CheckConfiguration(UpgradeSettings settings, IReadOnlyList<DfNode> nodes, System.Threading.CancellationToken cancel)
        {
            (OptionManifest Source, OptionManifest Target)? manifests;
            try { manifests = ConfigurationStep.Manifests(settings); }
            catch (DfException e) { return new[] { new ReadinessResult("Configuration", null, ReadinessStatus.Failed, e.Message + " " + e.RecommendedAction) }; }
            if (manifests == null) return new[] { new ReadinessResult("Configuration", null, ReadinessStatus.Warning, ConfigurationStep.NoManifest(settings)) };
            var (source, target) = manifests.Value;
            var configuration = new NodeConfiguration(settings.Ssh, settings.ThrottleLimit, settings.Logger);
            return configuration.Check(nodes, source, target, cancel).GroupBy(f => f.Node.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(files =>
            {
                var failed = new List<string>();
                var warned = new List<string>();
                foreach (var file in files)
                {
                    if (file.Error != null) { failed.Add(file.Error.Message + (file.Error is DfException df ? " " + df.RecommendedAction : "")); continue; }
                    foreach (var f in file.Findings)
                    {
                        string said = $"{file.Path}{(f.Line == null ? "" : " line " + f.Line)}: {f.Message}";
                        // Removed: the file sets an option the new release ignores, and no update can carry it over.
                        if (f.Kind == FindingKind.Removed) failed.Add(said); else warned.Add(said);
                    }
                }
                var status = failed.Count > 0 ? ReadinessStatus.Failed : warned.Count > 0 ? ReadinessStatus.Warning : ReadinessStatus.Passed;
                string message = status == ReadinessStatus.Passed
                    ? $"{string.Join(", ", files.Select(f => f.Path))}: nothing to change for {target.Release}"
                    : string.Join("; ", failed.Concat(warned)) + (failed.Count > 0 ? " Fix the file(s) before the upgrade (Test-DfConfiguration lists every finding)." : "");
                return new ReadinessResult("Configuration", files.Key, status, message);
            }).ToList();
        }

        /// <summary>
        /// Runs the inventory's NeutronDatabase.Check command (it reads, writes nothing) on the
        /// controller, then its Size command: the database's size in bytes, or why it is unknown.
        /// </summary>
        static (ReadinessResult Result, long? Bytes, string? Unsized) CheckNeutron(UpgradeSettings settings, NeutronDatabase db, System.Threading.CancellationToken cancel)
        {
            string? password = settings.NeutronPassword;
            try
            {
                using (var connection = settings.Ssh.Connect(db.Node, settings.Logger, cancel))
                {
                    var result = connection.RunStreaming(db.Check.For(password), db.Check.Shown, NeutronCommand.Input(password, null), null, _ => { },
                        settings.Logger, password, cancel);
                    if (!result.Succeeded)
                        return (new ReadinessResult("NeutronDatabase", db.Node.Name, ReadinessStatus.Failed,
                            $"{result.Failure} Check the NeutronDatabase commands of the inventory ({db.Inventory}) and the password (-NeutronCredential)."), null, "Neutron's database does not answer");
                    var printed = new MemoryStream();
                    var size = connection.RunStreaming(db.Size.For(password), db.Size.Shown, NeutronCommand.Input(password, null), printed, _ => { },
                        settings.Logger, password, cancel);
                    string text = System.Text.Encoding.UTF8.GetString(printed.ToArray()).Trim();
                    long bytes = 0;
                    bool sized = size.Succeeded && long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out bytes);
                    string? unsized = sized ? null : $"its Size command ({db.Size.Shown}) {(size.Succeeded ? "printed no number of bytes" : "failed: " + size.Failure)}";
                    return (new ReadinessResult("NeutronDatabase", db.Node.Name, ReadinessStatus.Passed,
                        $"Neutron's database answers {db.Check.Shown}" + (sized ? $"; it holds {Math.Max(1, bytes / (1024 * 1024))} MiB" : $"; its size is unknown: {unsized}")),
                        sized ? bytes : (long?)null, unsized);
                }
            }
            catch (DfException e)
            {
                return (new ReadinessResult("NeutronDatabase", db.Node.Name, ReadinessStatus.Failed, e.Message + " " + e.RecommendedAction), null, "Neutron's database does not answer");
            }
        }

        /// <summary>
        /// The folder (or the nearest existing parent) takes a file, and its disk has room for the
        /// NB backup (<paramref name="bytes"/>) and Neutron's dump (<paramref name="neutronBytes"/>;
        /// null: not sized, because of <paramref name="unsized"/>, which the message then says).
        /// </summary>
        static ReadinessResult CheckFolder(string folder, long bytes, long? neutronBytes, string? unsized)
        {
            string? existing = folder;
            while (existing != null && !Directory.Exists(existing))
            {
                if (File.Exists(existing))
                    return new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{existing} is a file, so the backup folder {folder} cannot be made; give -BackupPath a folder");
                existing = Path.GetDirectoryName(existing);
            }
            if (existing == null) return new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{folder}: no part of the path exists");
            string probe = Path.Combine(existing, ".df-upgrade-probe-" + Guid.NewGuid().ToString("N"));
            try { File.WriteAllBytes(probe, new byte[0]); File.Delete(probe); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{existing} is not writable ({e.Message}); give -BackupPath a folder you can write");
            }
            // The file system the folder is on, not the one of its root: on Linux a backup folder is often a mount of its own (statvfs of the path).
            string full = Path.GetFullPath(existing);
            long free = new DriveInfo(Path.DirectorySeparatorChar == '\\' ? Path.GetPathRoot(full) ?? full : full).AvailableFreeSpace;
            long needed = bytes + (neutronBytes ?? 0);
            // A dump is about the size of the data and indexes it holds, before compression.
            string sized = neutronBytes == null
                ? $"only the NB backup is sized, up to {MiB(bytes)} MiB before compression; Neutron's dump comes on top, unsized ({unsized})"
                : $"the NB backup takes up to {MiB(bytes)} MiB and Neutron's dump about {MiB(neutronBytes.Value)} MiB, before compression";
            return free < needed
                ? new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{existing} has {free} bytes free, and {sized}: free some room, or give -BackupPath a folder on a larger disk")
                : new ReadinessResult("BackupFolder", null, ReadinessStatus.Passed, $"{folder} is writable with {free / (1024 * 1024)} MiB free ({sized})");
        }

        static long MiB(long bytes) => Math.Max(1, bytes / (1024 * 1024));
    }
}
