using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>RollingBack: a rollback began undoing steps and has not ended; only a rollback finishes it.</summary>
    public enum UpgradeStatus { Running, Failed, RolledBack, RollbackFailed, Completed, RollingBack }
    /// <summary>Undoing: the step's undo began (recorded before its first action) and has not ended.</summary>
    public enum StepState { Pending, Running, Done, Failed, Undone, UndoFailed, Undoing }

    /// <summary>What one step of an upgrade did, as recorded in the state file.</summary>
    public sealed class StepRecord
    {
        public string Name { get; set; } = "";
        public StepState State { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
        public string? Detail { get; set; }
    }

    /// <summary>A configuration file the upgrade changed: where the original is, and what was written (a restore checks the file still holds it).</summary>
    public sealed class ConfigurationChangeRecord
    {
        public string Node { get; set; } = "";
        public string Path { get; set; } = "";
        public string Backup { get; set; } = "";
        public string NodeBackup { get; set; } = "";
        public string WrittenSha256 { get; set; } = "";
        /// <summary>What the file held before: a file holding it was never written, or is put back already.</summary>
        public string? OriginalSha256 { get; set; }
    }

    /// <summary>What identifies a node of the upgraded cloud: a resume or an undo reaches the same machines as the same user.</summary>
    public sealed class NodeRecord
    {
        public string Name { get; set; } = "";
        public string Address { get; set; } = "";
        public int Port { get; set; }
        public string User { get; set; } = "";
        public List<string> Roles { get; set; } = new List<string>();

        public static NodeRecord Of(DfNode n) => new NodeRecord { Name = n.Name, Address = n.Address, Port = n.Port, User = n.User, Roles = n.Roles.ToList() };

        public override string ToString() => $"{User}@{Address}:{Port} ({string.Join(", ", Roles ?? new List<string>())})";
    }

    /// <summary>Neutron's database as the upgrade was started with it: the controller and its commands as the inventory gives them ({password} unfilled).</summary>
    public sealed class NeutronRecord
    {
        public string Node { get; set; } = "";
        public string Backup { get; set; } = "";
        public string Restore { get; set; } = "";
        public string Migrate { get; set; } = "";
        public string Check { get; set; } = "";

        [return: NotNullIfNotNull(nameof(db))]
        public static NeutronRecord? Of(NeutronDatabase? db) => db == null ? null
            : new NeutronRecord { Node = db.Node.Name, Backup = db.Backup.Text, Restore = db.Restore.Text, Migrate = db.Migrate.Text, Check = db.Check.Text };

        /// <summary>What differs from <paramref name="other"/>, one phrase per field; empty when nothing does.</summary>
        public IEnumerable<string> Differences(NeutronRecord other)
        {
            if (!string.Equals(Node, other.Node, StringComparison.OrdinalIgnoreCase)) yield return $"its node was {Node}, now {other.Node}";
            foreach (var (field, was, now) in new[] { ("Backup", Backup, other.Backup), ("Restore", Restore, other.Restore), ("Migrate", Migrate, other.Migrate), ("Check", Check, other.Check) })
                if (was != now) yield return $"its {field} command was '{Shown(was)}', now '{Shown(now)}'";
        }

        static string Shown(string? command) => (command ?? "").Replace("{password}", "***");
    }

    /// <summary>
    /// An upgrade's progress, kept in a JSON file beside its backups and replaced atomically
    /// after each step, so that a dead operator machine leaves enough to resume or undo it.
    /// It names the database only in its redacted form.
    /// </summary>
    public sealed class UpgradeState
    {
        public const string FileName = "df-upgrade-state.json";
        public const string CurrentFormat = "dragonflow-upgrade-state/2";
        const string RetiredNbBackupStep = "BackupNb";

        public string Format { get; set; } = CurrentFormat;
        public string Id { get; set; } = "";
        public string Database { get; set; } = "";
        /// <summary>The inventory file; null when the nodes were given directly.</summary>
        public string? Inventory { get; set; }
        /// <summary>The inventory's nodes: a resume or an undo must be given the same ones (names, addresses, ports, users, roles).</summary>
        public List<NodeRecord> Nodes { get; set; } = new List<NodeRecord>();
        /// <summary>Neutron's database, when the upgrade migrates it (null: the inventory had none, and the upgrade leaves it alone).</summary>
        public NeutronRecord? Neutron { get; set; }
        public string TargetRelease { get; set; } = "";
        /// <summary>The commands the upgrade was given, so that a resume or an undo runs the same ones.</summary>
        public string? UpdateCommand { get; set; }
        public string? RevertCommand { get; set; }
        public UpgradeStatus Status { get; set; }
        public DateTimeOffset StartedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
        public List<StepRecord> Steps { get; set; } = new List<StepRecord>();
        /// <summary>Nodes on which the update command was started (each is reverted on rollback), and those where it finished.</summary>
        public List<string> UpdateAttempted { get; set; } = new List<string>();
        public List<string> Updated { get; set; } = new List<string>();
        /// <summary>The option manifest given instead of the target release's (null: the shipped one).</summary>
        public string? OptionManifest { get; set; }
        /// <summary>The configuration files changed and not yet put back: what a rollback restores.</summary>
        public List<ConfigurationChangeRecord> ConfigurationChanges { get; set; } = new List<ConfigurationChangeRecord>();
        /// <summary>The dump of Neutron's database (its .sha256 file beside it).</summary>
        public string? NeutronBackupPath { get; set; }
        /// <summary>The dump's SHA-256 as it was written: a dump is restored only if it still has it, whatever its .sha256 file says.</summary>
        public string? NeutronBackupChecksum { get; set; }
        /// <summary>Neutron's migration was started and the dump not restored since: the database may differ from the dump.</summary>
        public bool NeutronMigrationStarted { get; set; }
        public string? NbBackupPath { get; set; }
        public string? NbBackupChecksum { get; set; }
        /// <summary>The NB commit (or the resume of an interrupted one) was started and the backup not restored since: only then does a rollback need and restore the NB backup.</summary>
        public bool NbMigrationStarted { get; set; }
        /// <summary>The step that failed, the node, and why; null while none has.</summary>
        public string? Failure { get; set; }

        /// <summary>The state file; null for a -WhatIf run, which has none.</summary>
        [JsonIgnore] public string? Path { get; set; }

        public StepRecord Step(string name) => Steps.First(s => s.Name == name);

        /// <summary>The step being undone or whose undo failed, running or failed when the upgrade stopped, else the last one done.</summary>
        [JsonIgnore]
        public string? StepReached =>
            Steps.FirstOrDefault(s => s.State == StepState.Undoing || s.State == StepState.UndoFailed)?.Name
            ?? Steps.LastOrDefault(s => s.State == StepState.Running || s.State == StepState.Failed)?.Name
            ?? Steps.LastOrDefault(s => s.State == StepState.Done)?.Name;

        /// <summary>
        /// Whether a rollback began: the status says so, or a step's undo began (an earlier version
        /// recorded no RollingBack, and a failed undo leaves RollbackFailed). Such an upgrade is only rolled back, never carried on.
        /// </summary>
        [JsonIgnore]
        public bool RollbackBegun => Status == UpgradeStatus.RollingBack
            || Steps.Exists(s => s.State == StepState.Undoing || s.State == StepState.Undone || s.State == StepState.UndoFailed);

        /// <summary>Whether the upgrade neither finished nor was rolled back: it waits for -Resume or Undo-DfUpgrade.</summary>
        [JsonIgnore]
        public bool Interrupted => Status == UpgradeStatus.Running || Status == UpgradeStatus.Failed || Status == UpgradeStatus.RollbackFailed || Status == UpgradeStatus.RollingBack;

        static readonly JsonSerializerOptions Options = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            // Names only: a number would be taken for any status or step state, defined or not.
            Converters = { new JsonStringEnumConverter(null, allowIntegerValues: false) },
        };

        public static string PathIn(string folder) => System.IO.Path.Combine(folder, FileName);

        /// <summary>
        /// Writes the state to a temporary file beside it, then renames it over the old one. A
        /// failure (a full or read-only file system) leaves the old file whole and is an
        /// UpgradeStateUnwritable error saying where the upgrade stopped.
        /// </summary>
        public void Save()
        {
            UpdatedAt = DateTimeOffset.UtcNow;
            string path = Path ?? throw new InvalidOperationException("A -WhatIf upgrade has no state file to write.");
            string temp = path + ".tmp";
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);   // a file's full path: it has a folder
                using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
                {
                    JsonSerializer.Serialize(stream, this, Options);
                    stream.Flush(true);
                }
                if (File.Exists(path)) File.Replace(temp, path, null);
                else File.Move(temp, path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                try { File.Delete(temp); } // what a full disk let through is no use, and takes room
                catch (Exception x) when (x is IOException || x is UnauthorizedAccessException) { }
                throw UpgradeErrors.StateUnwritable(this, e);
            }
        }

        /// <summary>The state file in <paramref name="folder"/>, or null when there is none.</summary>
        public static UpgradeState? Load(string folder)
        {
            string path = PathIn(folder);
            if (Directory.Exists(path)) throw UpgradeErrors.StateInvalid(path, "is a folder, not a file");
            if (!File.Exists(path)) return null;
            // Reading a FIFO would wait for a writer forever; a device such as /dev/null reads as empty.
            if (!FileModes.IsRegularFile(path)) throw UpgradeErrors.StateInvalid(path, "is not a regular file (a pipe, socket or device)");
            if (new FileInfo(path).Length == 0) throw UpgradeErrors.StateInvalid(path, "is empty");
            UpgradeState? state;
            string text = File.ReadAllText(path);
            try { state = JsonSerializer.Deserialize<UpgradeState>(text, Options); }
            // A member of the wrong type is valid JSON: its path (member names and indexes) says which.
            catch (JsonException e) { throw UpgradeErrors.StateInvalid(path, "is " + Engine.Json.NbJson.NotJson(e) + " or not an upgrade state" + (string.IsNullOrEmpty(e.Path) ? "" : $" (at {e.Path})")); }
            if (state == null || state.Format != CurrentFormat)
                throw UpgradeErrors.StateInvalid(path, $"is not an upgrade state file of this module (its format is '{state?.Format}', expected '{CurrentFormat}')");
            // Save writes every field, nulls included: a file lacking one was written before it existed, and would read as
            // "no nodes", "no Neutron database" or "no checksum" rather than as what that upgrade had.
            var missing = MissingFields(text);
            if (missing.Count > 0) throw UpgradeErrors.StateOutdated(path, missing);
            var lacked = state.LackedFields().ToList();
            if (lacked.Count > 0)
                throw UpgradeErrors.StateInvalid(path, $"has no value for {string.Join(", ", lacked)}, which every upgrade records");
            // Earlier versions backed up the NB database in a step of its own, which the NB migration's backup of what
            // it read then superseded; a resume leaves that step out (its backup, if recorded, stays as NbBackupPath).
            state.Steps.RemoveAll(s => s.Name == RetiredNbBackupStep);
            state.Path = path;
            return state;
        }

        /// <summary>
        /// The fields Save always gives a value that this state has none for (null, or an empty id,
        /// database, release or name), by their JSON paths: a hand-edited file, read as it is, would
        /// fail later with a bare null argument, or resume an upgrade to no release.
        /// </summary>
        IEnumerable<string> LackedFields()
        {
            if (string.IsNullOrEmpty(Id)) yield return "id";
            if (string.IsNullOrEmpty(Database)) yield return "database";
            if (string.IsNullOrEmpty(TargetRelease)) yield return "targetRelease";
            if (Nodes == null) yield return "nodes";
            else for (int i = 0; i < Nodes.Count; i++)
                if (Nodes[i] is not { } n) yield return $"nodes[{i}]";
                else foreach (var (field, lacks) in new[] { ("name", string.IsNullOrEmpty(n.Name)), ("address", n.Address == null), ("user", n.User == null), ("roles", n.Roles == null || n.Roles.Any(r => r == null)) })
                    if (lacks) yield return $"nodes[{i}].{field}";
            if (Neutron != null)
                foreach (var (field, value) in new[] { ("node", Neutron.Node), ("backup", Neutron.Backup), ("restore", Neutron.Restore), ("migrate", Neutron.Migrate), ("check", Neutron.Check) })
                    if (value == null) yield return "neutron." + field;
            if (Steps == null || Steps.Count == 0) yield return "steps";
            else for (int i = 0; i < Steps.Count; i++)
                if (Steps[i] == null || string.IsNullOrEmpty(Steps[i].Name)) yield return $"steps[{i}].name";
            foreach (var (field, names) in new[] { ("updateAttempted", UpdateAttempted), ("updated", Updated) })
                if (names == null || names.Any(x => x == null)) yield return field;
            if (ConfigurationChanges == null) yield return "configurationChanges";
            else for (int i = 0; i < ConfigurationChanges.Count; i++)
                if (ConfigurationChanges[i] is not { } c) yield return $"configurationChanges[{i}]";
                else foreach (var (field, value) in new[] { ("node", c.Node), ("path", c.Path), ("backup", c.Backup), ("nodeBackup", c.NodeBackup), ("writtenSha256", c.WrittenSha256) })
                    if (value == null) yield return $"configurationChanges[{i}].{field}";
        }

        /// <summary>The fields this module writes that the JSON object <paramref name="text"/> lacks, by their JSON names.</summary>
        static List<string> MissingFields(string text)
        {
            using (var doc = JsonDocument.Parse(text))
            {
                var present = new HashSet<string>(doc.RootElement.EnumerateObject().Select(p => p.Name), StringComparer.OrdinalIgnoreCase);
                return typeof(UpgradeState).GetProperties()
                    .Where(p => p.CanWrite && !Attribute.IsDefined(p, typeof(JsonIgnoreAttribute)))
                    .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name))   // Options' naming policy
                    .Where(name => !present.Contains(name)).ToList();
            }
        }

        /// <summary>Refuses a state file written for another database, other nodes (by name, address, port, user or roles), or another setup of Neutron's database.</summary>
        public void RequireSameCloud(string database, IReadOnlyList<DfNode> nodes, NeutronDatabase? neutron)
        {
            if (!NbDatabaseUri.SameDatabase(Database, database))
                throw UpgradeErrors.StateOtherCloud(Path, $"was written for the NB database {Database}, not {NbDatabaseUri.PrintableLocation(database)}");
            var given = new HashSet<string>(nodes.Select(n => n.Name), StringComparer.OrdinalIgnoreCase);
            if (!given.SetEquals(Nodes.Select(n => n.Name)))
                throw UpgradeErrors.StateOtherCloud(Path, $"was written for the nodes {string.Join(", ", Nodes.Select(n => n.Name))}, not {string.Join(", ", given.OrderBy(n => n))}");
            foreach (var recorded in Nodes)
            {
                var now = NodeRecord.Of(nodes.First(n => string.Equals(n.Name, recorded.Name, StringComparison.OrdinalIgnoreCase)));
                if (now.ToString() != recorded.ToString())
                    throw UpgradeErrors.StateOtherCloud(Path, $"records the node {recorded.Name} as {recorded}, and the inventory given says {now}");
            }
            var neutronNow = NeutronRecord.Of(neutron);
            if (Neutron == null && neutronNow != null)
                throw UpgradeErrors.StateOtherCloud(Path, $"records an upgrade that leaves Neutron's database alone (its inventory had no NeutronDatabase), and the inventory given has one on {neutronNow.Node}");
            if (Neutron != null && neutronNow == null)
                throw UpgradeErrors.StateOtherCloud(Path, $"records an upgrade that migrates Neutron's database on {Neutron.Node}, and the inventory given has no NeutronDatabase (give -Inventory, the one the upgrade started with)");
            var differences = Neutron == null || neutronNow == null ? new List<string>() : Neutron.Differences(neutronNow).ToList();
            if (differences.Count > 0)
                throw UpgradeErrors.StateOtherCloud(Path, $"records another setup of Neutron's database than the inventory given: {string.Join("; ", differences)}");
        }
    }
}
