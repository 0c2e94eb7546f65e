using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Remote.Upgrade
{
    public enum UpgradeStatus { Running, Failed, RolledBack, RollbackFailed, Completed }
    public enum StepState { Pending, Running, Done, Failed, Undone, UndoFailed }

    /// <summary>What one step of an upgrade did, as recorded in the state file.</summary>
    public sealed class StepRecord
    {
        public string Name { get; set; }
        public StepState State { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
        public string Detail { get; set; }
    }

    /// <summary>A configuration file the upgrade changed: where the original is, and what was written (a restore checks the file still holds it).</summary>
    public sealed class ConfigurationChangeRecord
    {
        public string Node { get; set; }
        public string Path { get; set; }
        public string Backup { get; set; }
        public string NodeBackup { get; set; }
        public string WrittenSha256 { get; set; }
    }

    /// <summary>
    /// An upgrade's progress, kept in a JSON file beside its backups and replaced atomically
    /// after each step, so that a dead operator machine leaves enough to resume or undo it.
    /// It names the database only in its redacted form.
    /// </summary>
    public sealed class UpgradeState
    {
        public const string FileName = "df-upgrade-state.json";
        public const string CurrentFormat = "dragonflow-upgrade-state/1";

        public string Format { get; set; } = CurrentFormat;
        public string Id { get; set; }
        public string Database { get; set; }
        public string Inventory { get; set; }
        public List<string> Nodes { get; set; } = new List<string>();
        public string TargetRelease { get; set; }
        /// <summary>The commands the upgrade was given, so that a resume or an undo runs the same ones.</summary>
        public string UpdateCommand { get; set; }
        public string RevertCommand { get; set; }
        public UpgradeStatus Status { get; set; }
        public DateTimeOffset StartedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
        public List<StepRecord> Steps { get; set; } = new List<StepRecord>();
        /// <summary>Nodes on which the update command was started (each is reverted on rollback), and those where it finished.</summary>
        public List<string> UpdateAttempted { get; set; } = new List<string>();
        public List<string> Updated { get; set; } = new List<string>();
        /// <summary>The option manifest given instead of the target release's (null: the shipped one).</summary>
        public string OptionManifest { get; set; }
        /// <summary>The configuration files changed and not yet put back: what a rollback restores.</summary>
        public List<ConfigurationChangeRecord> ConfigurationChanges { get; set; } = new List<ConfigurationChangeRecord>();
        /// <summary>The dump of Neutron's database (its .sha256 file beside it).</summary>
        public string NeutronBackupPath { get; set; }
        /// <summary>Neutron's migration was started and the dump not restored since: the database may differ from the dump.</summary>
        public bool NeutronMigrationStarted { get; set; }
        public string NbBackupPath { get; set; }
        public string NbBackupChecksum { get; set; }
        /// <summary>The step that failed, the node, and why; null while none has.</summary>
        public string Failure { get; set; }

        [JsonIgnore] public string Path { get; set; }

        public StepRecord Step(string name) => Steps.First(s => s.Name == name);

        /// <summary>The step running or failed when the upgrade stopped, else the last one done.</summary>
        [JsonIgnore]
        public string StepReached =>
            Steps.LastOrDefault(s => s.State == StepState.Running || s.State == StepState.Failed)?.Name
            ?? Steps.LastOrDefault(s => s.State == StepState.Done)?.Name;

        /// <summary>Whether the upgrade neither finished nor was rolled back: it waits for -Resume or Undo-DfUpgrade.</summary>
        [JsonIgnore]
        public bool Interrupted => Status == UpgradeStatus.Running || Status == UpgradeStatus.Failed || Status == UpgradeStatus.RollbackFailed;

        static readonly JsonSerializerOptions Options = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            Converters = { new JsonStringEnumConverter() },
        };

        public static string PathIn(string folder) => System.IO.Path.Combine(folder, FileName);

        /// <summary>Writes the state to a temporary file beside it, then renames it over the old one.</summary>
        public void Save()
        {
            UpdatedAt = DateTimeOffset.UtcNow;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path));
            string temp = Path + ".tmp";
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                JsonSerializer.Serialize(stream, this, Options);
                stream.Flush(true);
            }
            if (File.Exists(Path)) File.Replace(temp, Path, null);
            else File.Move(temp, Path);
        }

        /// <summary>The state file in <paramref name="folder"/>, or null when there is none.</summary>
        public static UpgradeState Load(string folder)
        {
            string path = PathIn(folder);
            if (!File.Exists(path)) return null;
            UpgradeState state;
            try { state = JsonSerializer.Deserialize<UpgradeState>(File.ReadAllText(path), Options); }
            catch (JsonException e) { throw UpgradeErrors.StateInvalid(path, "is not valid JSON (" + e.Message + ")"); }
            if (state == null || state.Format != CurrentFormat)
                throw UpgradeErrors.StateInvalid(path, $"is not an upgrade state file of this module (its format is '{state?.Format}', expected '{CurrentFormat}')");
            if (string.IsNullOrEmpty(state.Id) || string.IsNullOrEmpty(state.Database) || state.Nodes == null || state.Steps == null || state.Steps.Count == 0
                || state.Steps.Any(s => s == null || string.IsNullOrEmpty(s.Name)) || state.Updated == null || state.UpdateAttempted == null)
                throw UpgradeErrors.StateInvalid(path, "lacks the upgrade's id, database, nodes or steps");
            state.Path = path;
            return state;
        }

        /// <summary>Refuses a state file written for another database or other nodes.</summary>
        public void RequireSameCloud(string database, IEnumerable<string> nodes)
        {
            if (!NbDatabaseUri.SameDatabase(Database, database))
                throw UpgradeErrors.StateOtherCloud(Path, $"was written for the NB database {Database}, not {NbDatabaseUri.PrintableLocation(database)}");
            var given = new HashSet<string>(nodes, StringComparer.OrdinalIgnoreCase);
            if (!given.SetEquals(Nodes))
                throw UpgradeErrors.StateOtherCloud(Path, $"was written for the nodes {string.Join(", ", Nodes)}, not {string.Join(", ", given.OrderBy(n => n))}");
        }
    }
}
