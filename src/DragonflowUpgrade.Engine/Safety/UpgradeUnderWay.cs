using System;
using System.Linq;
using System.Text;
using System.Text.Json;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>
    /// The durable record that a whole upgrade is under way: one row of the module table
    /// <c>df_upgrade_run</c>, with no expiry. The upgrade lock expires minutes after its process
    /// dies, while the cloud stays stopped and half-upgraded; this row stays until the upgrade
    /// completes or is rolled back, and every lock taken by anything else (a migration, a
    /// baseline, a restore, another upgrade) is refused while it is there.
    /// </summary>
    public sealed class UpgradeUnderWay
    {
        public const string Table = ModuleTables.UpgradeRun;
        static readonly NbKey Key = new NbKey(Table, null, ModuleTables.UpgradeRunId);

        public string Upgrade { get; private set; } = "";
        // The rest is null when the record does not say.
        public string? TargetRelease { get; private set; }
        /// <summary>The folder of the upgrade's state file and backups: its -BackupPath.</summary>
        public string? Folder { get; private set; }
        public string? Host { get; private set; }
        public string? User { get; private set; }
        public DateTimeOffset StartedAt { get; private set; }
        /// <summary>
        /// Whether the upgrade saved its state file after recording itself: false only for a record
        /// whose upgrade had not (it began no step); null for a record that does not say.
        /// </summary>
        public bool? StateSaved { get; private set; }

        /// <summary>Whether <paramref name="store"/> holds a record of an upgrade under way, whether or not it reads.</summary>
        public static bool IsRecorded(INbStore store) => store.Read(Table).Any();

        /// <summary>The upgrade under way on <paramref name="store"/>; null when none.</summary>
        public static UpgradeUnderWay? Read(INbStore store)
        {
            var row = store.Read(Table).FirstOrDefault(e => e.Key.Equals(Key));
            if (row == null) return null;
            try
            {
                using (var doc = JsonDocument.Parse(row.Value))
                {
                    var r = doc.RootElement;
                    string? Text(string name) => r.ValueKind == JsonValueKind.Object && r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    return new UpgradeUnderWay
                    {
                        Upgrade = Text("upgrade") ?? "(unnamed)",
                        TargetRelease = Text("target_release"),
                        Folder = Text("folder"),
                        Host = Text("host"),
                        User = Text("user"),
                        StartedAt = UpgradeLockInfo.ParseTime(Text("started_at")) ?? DateTimeOffset.MinValue,
                        StateSaved = r.ValueKind == JsonValueKind.Object && r.TryGetProperty("state_saved", out var saved)
                            && (saved.ValueKind == JsonValueKind.True || saved.ValueKind == JsonValueKind.False) ? saved.GetBoolean() : (bool?)null,
                    };
                }
            }
            catch (JsonException e)
            {
                throw new NbStoreException($"The record of the upgrade under way on {store.Location} ({Table}) is {Json.NbJson.NotJson(e)}; discard it with Unlock-DfNbDatabase -Force once no upgrade is under way.");
            }
        }

        /// <summary>Records <paramref name="upgrade"/> as under way (again, on a resume or an undo: the row is the same).</summary>
        public static void Begin(INbStore store, string upgrade, string? targetRelease, string folder)
        {
            var existing = Read(store);
            if (existing != null && existing.Upgrade != upgrade) throw new UpgradeUnderWayException(store.Location, existing);
            if (existing == null)
                Write(store, new UpgradeUnderWay
                {
                    Upgrade = upgrade, TargetRelease = targetRelease, Folder = folder, Host = Environment.MachineName,
                    User = Environment.UserName, StartedAt = DateTimeOffset.UtcNow, StateSaved = false,
                });
        }

        /// <summary>Records that <paramref name="upgrade"/>, recorded by <see cref="Begin"/>, saved its state file.</summary>
        public static void MarkStateSaved(INbStore store, string upgrade)
        {
            var existing = Read(store);
            if (existing == null || existing.Upgrade != upgrade || existing.StateSaved == true) return;
            existing.StateSaved = true;
            Write(store, existing);
        }

        static void Write(INbStore store, UpgradeUnderWay record)
        {
            var buffer = new System.IO.MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("upgrade", record.Upgrade);
                w.WriteString("target_release", record.TargetRelease);
                w.WriteString("folder", record.Folder);
                w.WriteString("host", record.Host);
                w.WriteString("user", record.User);
                w.WriteString("started_at", UpgradeLockInfo.Format(record.StartedAt));
                if (record.StateSaved != null) w.WriteBoolean("state_saved", record.StateSaved.Value);
                w.WriteEndObject();
            }
            store.Write(new[] { new NbEntry(Key, buffer.ToArray()) });
        }

        /// <summary>Removes the record: the upgrade completed or was rolled back.</summary>
        public static void End(INbStore store) => store.Write(new[] { NbEntry.Delete(Key) });

        /// <summary>Refuses with <see cref="UpgradeUnderWayException"/> when an upgrade other than <paramref name="upgrade"/> (null: any) is under way.</summary>
        public static void RequireNoOther(INbStore store, string? upgrade)
        {
            var underWay = Read(store);
            if (underWay != null && underWay.Upgrade != upgrade) throw new UpgradeUnderWayException(store.Location, underWay);
        }

        public override string ToString() =>
            $"upgrade {Upgrade}{(TargetRelease == null ? "" : " to " + TargetRelease)} (its state in {Folder ?? "an unknown folder"}, started {UpgradeLockInfo.Format(StartedAt)} by {User ?? "an unknown user"} on {Host ?? "an unknown host"})";
    }

    /// <summary>A whole upgrade is under way on the database and did not finish: nothing else writes it until it is resumed or undone.</summary>
    public sealed class UpgradeUnderWayException : DfException
    {
        public UpgradeUnderWayException(string database, UpgradeUnderWay underWay)
            : base(UpgradeLockedException.InterruptedUpgradeId, DfErrorCategory.ResourceBusy,
                   $"The NB database {database} is part-way through {underWay}, which has not completed nor been rolled back: its control plane may be stopped and half-upgraded, so nothing else may write it.",
                   database,
                   $"Run Invoke-DfUpgrade -Resume -BackupPath '{underWay.Folder}' to carry it on, or Undo-DfUpgrade -BackupPath '{underWay.Folder}' to roll it back; if you know it is over, Unlock-DfNbDatabase -Force discards this record.")
        {
            UnderWay = underWay;
        }

        public UpgradeUnderWay UnderWay { get; }
    }
}
