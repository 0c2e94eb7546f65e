using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Remote.Upgrade
{
    public enum ReadinessStatus { Passed, Warning, Failed }

    /// <summary>One readiness check: Passed, Warning or Failed, with what to fix.</summary>
    public sealed class ReadinessResult
    {
        public ReadinessResult(string check, string node, ReadinessStatus status, string message)
        {
            Check = check;
            Node = node;
            Status = status;
            Message = message;
        }

        public string Check { get; }
        /// <summary>The node checked, or null for a check of the database or the backup folder.</summary>
        public string Node { get; }
        public ReadinessStatus Status { get; }
        public string Message { get; }
    }

    /// <summary>What an upgrade needs before it stops anything. Every check reads; none writes.</summary>
    public static class UpgradeReadiness
    {
        public static IEnumerable<ReadinessResult> Check(UpgradeSettings settings, System.Threading.CancellationToken cancel = default)
        {
            var plane = new ControlPlane(settings.Ssh, settings.ThrottleLimit, settings.Logger);
            foreach (var status in plane.GetStatus(settings.Nodes, cancel).OrderBy(s => s.Node.Name, StringComparer.Ordinal))
            {
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

            INbStore store = null;
            ReadinessResult openFailure = null;
            try { store = settings.OpenDatabase(); }
            catch (Exception e) { openFailure = new ReadinessResult("NbDatabase", null, ReadinessStatus.Failed, e.Message); }
            if (openFailure != null) { yield return openFailure; yield break; }
            using (store)
                foreach (var r in CheckDatabase(settings, store)) yield return r;
        }

        static IEnumerable<ReadinessResult> CheckDatabase(UpgradeSettings settings, INbStore store)
        {
            var results = new List<ReadinessResult>();
            try
            {
                var holder = UpgradeLock.Read(store);
                results.Add(holder == null
                    ? new ReadinessResult("NbDatabase", null, ReadinessStatus.Passed, $"{store.Location} answers and is not locked")
                    : new ReadinessResult("NbDatabase", null, ReadinessStatus.Failed, $"{store.Location} is locked by {holder}; wait for it, or Unlock-DfNbDatabase if its holder is gone"));
                var marker = CommitJournal.ReadInProgress(store);
                results.Add(marker == null
                    ? new ReadinessResult("NbCommit", null, ReadinessStatus.Passed, "no interrupted commit")
                    : new ReadinessResult("NbCommit", null, ReadinessStatus.Failed, $"an interrupted commit waits (run {marker.RunId}); finish it with Resume-DfMigration or take it back with Undo-DfMigration"));

                var migrator = settings.CreateMigrator(store);
                var plan = migrator.Plan();
                var selected = migrator.Select(plan, settings.TargetRelease);
                var schema = migrator.PlanSchema(plan, settings.TargetRelease, selected);
                long bytes = 0;
                if (selected.Count == 0 && !schema.ChangesRelease)
                    results.Add(new ReadinessResult("NbMigrations", null, ReadinessStatus.Passed, $"no migration pending up to {settings.TargetRelease}"));
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
                results.Add(CheckFolder(settings.BackupFolder, bytes));

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

        /// <summary>The folder (or the nearest existing parent) takes a file, and its disk has room for <paramref name="bytes"/>.</summary>
        static ReadinessResult CheckFolder(string folder, long bytes)
        {
            string existing = folder;
            while (existing != null && !Directory.Exists(existing)) existing = Path.GetDirectoryName(existing);
            if (existing == null) return new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{folder}: no part of the path exists");
            string probe = Path.Combine(existing, ".df-upgrade-probe-" + Guid.NewGuid().ToString("N"));
            try { File.WriteAllBytes(probe, new byte[0]); File.Delete(probe); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{existing} is not writable ({e.Message}); give -BackupPath a folder you can write");
            }
            long free = new DriveInfo(Path.GetPathRoot(Path.GetFullPath(existing))).AvailableFreeSpace;
            return free < bytes
                ? new ReadinessResult("BackupFolder", null, ReadinessStatus.Failed, $"{existing} has {free} bytes free; the NB backup takes up to {bytes}")
                : new ReadinessResult("BackupFolder", null, ReadinessStatus.Passed, $"{folder} is writable with {free / (1024 * 1024)} MiB free (the NB backup takes up to {Math.Max(1, bytes / (1024 * 1024))} MiB)");
        }
    }
}
