using DragonflowUpgrade.Engine;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>What restoring a backup changes: the writes and their counts.</summary>
    public sealed class RestorePlan
    {
        internal RestorePlan(BackupInfo backup, string database, IReadOnlyList<NbEntry> writes, Func<NbKey, ReadOnlyMemory<byte>?> read,
            int created, int updated, int deleted, int unchanged, NbKeyLayout? keyLayout = null, int rekeyed = 0)
        {
            KeyLayout = keyLayout;
            Rekeyed = rekeyed;
            Read = read;
            Backup = backup;
            Database = database;
            Writes = writes;
            Created = created;
            Updated = updated;
            Deleted = deleted;
            Unchanged = unchanged;
        }

        public BackupInfo Backup { get; }
        public string Database { get; }
        /// <summary>Objects of the backup missing from the database.</summary>
        public int Created { get; }
        /// <summary>Objects whose stored value differs from the backup's.</summary>
        public int Updated { get; }
        /// <summary>Objects of the database that the backup does not have.</summary>
        public int Deleted { get; }
        public int Unchanged { get; }
        /// <summary>Of the unchanged objects, those written again only to move them into <see cref="KeyLayout"/>.</summary>
        public int Rekeyed { get; }
        /// <summary>The key layout the restore writes in: that of the backup's release; null when the keys stay as they are.</summary>
        public NbKeyLayout? KeyLayout { get; }
        internal IReadOnlyList<NbEntry> Writes { get; }
        /// <summary>What the plan read of the keys it writes: the writes are conditional on it.</summary>
        internal Func<NbKey, ReadOnlyMemory<byte>?> Read { get; }
    }

    /// <summary>
    /// Makes a database hold exactly a backup's content: its objects with their stored bytes,
    /// and nothing else (the module's own tables excepted). Only the difference is written,
    /// in batches; restoring again after an interruption finishes the job.
    /// </summary>
    public static class NbRestore
    {
        /// <summary>
        /// Reads and verifies the backup, then compares it with the database. Writes nothing.
        /// A backup whose header names another database is refused unless <paramref name="force"/>.
        /// </summary>
        public static RestorePlan Plan(INbStore store, string backupPath, string? expectedChecksum = null, bool force = false)
        {
            var info = NbBackup.ReadCheckableHeader(backupPath, expectedChecksum);
            if (!force && !NbDatabaseUri.SameDatabase(info.Source, store.Location))
            {
                NbBackup.ReadObjects(info);   // a damaged backup is refused as such first, whichever database it is of
                throw new BackupFromOtherDatabaseException(info.Path, NbDatabaseUri.PrintableLocation(info.Source), store.Location);
            }
            var (backup, now) = LoadWhileReading(store, info);
            return Plan(store, info, backup, now);
        }

        /// <summary>
        /// The backup's objects, read and checked on this thread while another reads the whole
        /// database: at a million objects each takes seconds, and they share nothing. The backup's
        /// error is the one thrown when both fail, as when the backup was read first.
        /// </summary>
        internal static (IReadOnlyList<NbEntry> Backup, IReadOnlyList<NbEntry> Now) LoadWhileReading(INbStore store, BackupInfo info)
        {
            bool stop = false;
            // A thread of its own: a read blocks, and the store's replies may need the pool's threads.
            var read = Task.Factory.StartNew(() =>
            {
                var now = new List<NbEntry>();
                foreach (var e in store.Read())
                {
                    if (Volatile.Read(ref stop)) break;
                    now.Add(e);
                }
                return now;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            List<NbEntry> backup;
            try { backup = NbBackup.ReadObjects(info); }
            catch
            {
                // The read is stopped, and waited for: the store is free again only once it has ended.
                Volatile.Write(ref stop, true);
                try { read.Wait(); }
                catch (AggregateException) { }
                throw;
            }
            return (backup, read.GetAwaiter().GetResult());
        }

        /// <summary>Compares the backup with <paramref name="now"/>, what was just read of the database.</summary>
        internal static RestorePlan Plan(INbStore store, BackupInfo info, IReadOnlyList<NbEntry> backup, IEnumerable<NbEntry> now)
        {
            // The database goes back to the key layout of the backup's release too: when any of its
            // keys is in another (a run to master, finished or not), every object is written again.
            var layout = LayoutOf(store, backup);
            bool rekey = layout != null && store.Parts.FindKeyLayouts().Keys.Any(l => l != layout);
            var keys = layout ?? store.Parts.KeyLayout;
            StoredKeys.Require(store, backup.Where(b => !ModuleTables.IsModuleTable(b.Key.Table)).Select(b => b.Key), keys);
            // Objects are matched as the store keeps them: where its key holds no topic (etcd's
            // /table/id), an object whose topic changed since the backup is one key, updated.
            IEqualityComparer<NbKey> sameStoredKey = keys is { KeyHoldsTopic: false } ? new TopicBlind() : EqualityComparer<NbKey>.Default;
            var current = new Dictionary<NbKey, ReadOnlyMemory<byte>>(sameStoredKey);
            foreach (var e in now)
                if (!ModuleTables.IsModuleTable(e.Key.Table)) current[e.Key] = e.Value;
            var read = new Dictionary<NbKey, ReadOnlyMemory<byte>>(current, sameStoredKey);
            var puts = new List<NbEntry>();
            int created = 0, updated = 0, unchanged = 0, rekeyed = 0;
            foreach (var b in backup)
            {
                // The module's own tables (a lock, a journal) are never restored: only Dragonflow's data and its log.
                if (ModuleTables.IsModuleTable(b.Key.Table)) continue;
                if (current.TryGetValue(b.Key, out var value))
                {
                    current.Remove(b.Key);
                    if (value.Span.SequenceEqual(b.Value.Span))
                    {
                        unchanged++;
                        if (!rekey) continue;
                        rekeyed++;
                    }
                    else updated++;
                }
                else created++;
                puts.Add(b);
            }
            var writes = current.Keys.OrderBy(k => k, Comparer<NbKey>.Create(NbBackup.CompareKeys)).Select(NbEntry.Delete).Concat(puts).ToList();
            return new RestorePlan(info, store.Location, writes, k => read.TryGetValue(k, out var v) ? v : (ReadOnlyMemory<byte>?)null, created, updated, current.Count, unchanged,
                rekey ? layout : null, rekeyed);
        }

        // Keys equal when their table and id are: one stored key where the layout's key holds no topic.
        sealed class TopicBlind : IEqualityComparer<NbKey>
        {
            public bool Equals(NbKey a, NbKey b) => a.Table == b.Table && a.Id == b.Id;
            public int GetHashCode(NbKey k) => (k.Table.GetHashCode() * 31) ^ k.Id.GetHashCode();
        }

        // The key layout of the release the backup's log records; null when it records none or the store does not know that release's layout.
        static NbKeyLayout? LayoutOf(INbStore store, IReadOnlyList<NbEntry> backup)
        {
            string? release = MigrationLog.RecordedRelease(backup.Where(b => b.Key.Table == MigrationLog.Table).Select(MigrationLogEntry.Parse));
            return release == null ? null : store.Parts.KeyLayoutAt(release);
        }

        /// <summary>
        /// Writes the plan's difference in the store's batches, each only if its keys still hold what
        /// the plan read (else <see cref="NbConflictException"/>: something wrote them since the plan).
        /// </summary>
        public static void Apply(INbStore store, RestorePlan plan, IProgress<ProgressReport>? progress = null)
        {
            const string activity = "Restoring the NB database";
            if (plan.KeyLayout != null) store.Parts.UseKeyLayout(plan.KeyLayout);
            var writes = plan.Writes;
            try
            {
                Batches.WriteIfInRounds(store, writes, plan.Read, n =>
                    progress?.Report(new ProgressReport(activity, $"{n} of {writes.Count}", 100 * n / Math.Max(1, writes.Count))));
            }
            catch (NbConflictException e)
            {
                throw new NbConflictException(store.Location, e.Keys, e.Written,
                    $"{activity} stopped after {e.Written} of {writes.Count} writes.",
                    $"Find what wrote those objects and stop it, then run the same command again: it reads the database afresh.", e);
            }
        }
    }
}
