using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    public enum CommitState
    {
        /// <summary>The journal is stored and its changes are being applied.</summary>
        Committing,
        /// <summary>The run's backup is being restored.</summary>
        Undoing,
        /// <summary>The run finished; kept so that Undo-DfMigration can take it back.</summary>
        Committed,
    }

    /// <summary>
    /// A migration run's commit as the database records it: its marker while the commit (or
    /// an undo) is under way, then the record of the last run. It names the backup the run
    /// made and the journal of its changes, with their checksums.
    /// </summary>
    public sealed class CommitRecord
    {
        public string RunId { get; private set; } = "";
        public CommitState State { get; private set; }
        /// <summary>Null in a record that does not say (as <see cref="Host"/>).</summary>
        public string? Database { get; private set; }
        public string? Host { get; private set; }
        public int ProcessId { get; private set; }
        public DateTimeOffset StartedAt { get; private set; }
        public DateTimeOffset? FinishedAt { get; private set; }
        /// <summary>Where the record was read from; null for one this process made.</summary>
        internal NbKey? Key { get; private set; }
        public string BackupPath { get; private set; } = "";
        public string BackupChecksum { get; private set; } = "";
        public string JournalPath { get; private set; } = "";
        public string JournalChecksum { get; private set; } = "";
        /// <summary>The rows the journal fills in the database (<see cref="NbStoreParts.KeepsJournal"/>); 0 when it is not kept there, or the record does not say.</summary>
        public int JournalChunks { get; private set; }
        /// <summary>Puts and deletes in the journal.</summary>
        public int Changes { get; private set; }
        public int Puts { get; private set; }
        public int Deletes { get; private set; }
        public IReadOnlyList<string> Migrations { get; private set; } = Array.Empty<string>();
        /// <summary>For an undo: whether the run it takes back had been interrupted.</summary>
        public bool UndoesInterrupted { get; private set; }
        /// <summary>The release whose key layout the commit writes in, moving every object there; null when it keeps the database's.</summary>
        public string? KeyLayoutOf { get; private set; }

        internal static string NewRunId() =>
            DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N").Substring(0, 8);

        /// <summary>A new run's record, without its journal's checksum until the journal is stored (<see cref="WithJournal"/>).</summary>
        internal static CommitRecord Begin(string runId, string database, BackupInfo backup, string journalPath,
            IReadOnlyList<NbEntry> changes, IReadOnlyList<string> migrations, string? keyLayoutOf = null)
        {
            var now = DateTimeOffset.UtcNow;
            return new CommitRecord
            {
                RunId = runId,
                State = CommitState.Committing,
                Database = database,
                Host = Environment.MachineName,
                ProcessId = Process.GetCurrentProcess().Id,
                StartedAt = now,
                BackupPath = backup.Path,
                BackupChecksum = backup.Checksum ?? throw new ArgumentException($"The backup {backup.Path} has no checksum; a run's commit needs a verified backup.", nameof(backup)),
                JournalPath = journalPath,
                Changes = changes.Count,
                Puts = changes.Count(c => !c.IsDelete),
                Deletes = changes.Count(c => c.IsDelete),
                Migrations = migrations.ToList(),
                KeyLayoutOf = keyLayoutOf,
            };
        }

        internal CommitRecord WithJournal(string checksum, int chunks)
        {
            var copy = (CommitRecord)MemberwiseClone();
            copy.JournalChecksum = checksum;
            copy.JournalChunks = chunks;
            return copy;
        }

        internal CommitRecord With(CommitState state, DateTimeOffset? finishedAt = null, bool? undoesInterrupted = null)
        {
            var copy = (CommitRecord)MemberwiseClone();
            copy.State = state;
            if (finishedAt.HasValue) copy.FinishedAt = finishedAt;
            if (undoesInterrupted.HasValue) copy.UndoesInterrupted = undoesInterrupted.Value;
            return copy;
        }

        internal byte[] ToJson(string? format = null)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                if (format != null) w.WriteString("format", format);
                w.WriteString("run", RunId);
                w.WriteString("state", State.ToString().ToLowerInvariant());
                w.WriteString("database", Database);
                w.WriteString("host", Host);
                w.WriteNumber("pid", ProcessId);
                w.WriteString("started_at", UpgradeLockInfo.Format(StartedAt));
                if (FinishedAt.HasValue) w.WriteString("finished_at", UpgradeLockInfo.Format(FinishedAt.Value));
                w.WriteString("backup", BackupPath);
                w.WriteString("backup_checksum", BackupChecksum);
                w.WriteString("journal", JournalPath);
                if (JournalChecksum.Length > 0) w.WriteString("journal_checksum", JournalChecksum);   // not in the journal file's own header
                if (JournalChunks > 0) w.WriteNumber("journal_chunks", JournalChunks);
                w.WriteNumber("changes", Changes);
                w.WriteNumber("puts", Puts);
                w.WriteNumber("deletes", Deletes);
                w.WriteStartArray("migrations");
                foreach (var m in Migrations) w.WriteStringValue(m);
                w.WriteEndArray();
                if (UndoesInterrupted) w.WriteBoolean("undoes_interrupted", true);
                if (KeyLayoutOf != null) w.WriteString("key_layout_of", KeyLayoutOf);
                w.WriteEndObject();
            }
            return buffer.ToArray();
        }

        internal JsonElement ToHeader(string format)
        {
            using (var doc = JsonDocument.Parse(ToJson(format))) return doc.RootElement.Clone();
        }

        internal static CommitRecord Parse(NbEntry e)
        {
            try
            {
                using (var doc = JsonDocument.Parse(e.Value))
                {
                    var r = doc.RootElement;
                    var record = new CommitRecord
                    {
                        RunId = Text(r, "run") ?? throw new FormatException("it has no run id"),
                        State = ParseState(Text(r, "state")),
                        Database = Text(r, "database"),
                        Host = Text(r, "host"),
                        ProcessId = Int(r, "pid"),
                        StartedAt = UpgradeLockInfo.ParseTime(Text(r, "started_at")) ?? DateTimeOffset.MinValue,
                        FinishedAt = UpgradeLockInfo.ParseTime(Text(r, "finished_at")),
                        // What a resume or an undo needs (RequireRecoverable). Read leniently: a record
                        // without it must still be found, so that a forced restore can discard it.
                        BackupPath = Text(r, "backup") ?? "",
                        BackupChecksum = Text(r, "backup_checksum") ?? "",
                        JournalPath = Text(r, "journal") ?? "",
                        JournalChecksum = Text(r, "journal_checksum") ?? "",
                        JournalChunks = Int(r, "journal_chunks"),
                        Changes = Int(r, "changes"),
                        Puts = Int(r, "puts"),
                        Deletes = Int(r, "deletes"),
                        Migrations = r.TryGetProperty("migrations", out var m) && m.ValueKind == JsonValueKind.Array
                            ? m.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()  // strings' texts are never null
                            : new List<string>(),
                        UndoesInterrupted = r.TryGetProperty("undoes_interrupted", out var u) && u.ValueKind == JsonValueKind.True,
                        KeyLayoutOf = Text(r, "key_layout_of"),
                        Key = e.Key,
                    };
                    return record;
                }
            }
            catch (Exception ex) when (ex is JsonException || ex is FormatException || ex is InvalidOperationException)
            {
                string why = ex is JsonException json ? Json.NbJson.NotJson(json) : ex.Message;
                throw new NbStoreException($"The commit record {e.Key} is damaged ({why}). Restore a backup with Restore-DfNbDatabase -Force.", ex is JsonException ? null : ex);
            }
        }

        static CommitState ParseState(string? s)
        {
            switch (s)
            {
                case "committing": return CommitState.Committing;
                case "undoing": return CommitState.Undoing;
                case "committed": return CommitState.Committed;
                default: throw new FormatException($"unknown state '{s}'");
            }
        }

        static string? Text(JsonElement r, string name) =>
            r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        /// <summary>
        /// Refuses, as damaged and naming what it lacks, a record without the backup or the journal
        /// that a resume and an undo need. Returns the record.
        /// </summary>
        internal CommitRecord RequireRecoverable()
        {
            var lacking = new[] { ("backup", BackupPath), ("backup_checksum", BackupChecksum), ("journal", JournalPath), ("journal_checksum", JournalChecksum) }
                .Where(f => f.Item2.Length == 0).Select(f => f.Item1).FirstOrDefault();
            if (lacking != null)
                throw new NbStoreException($"The commit record {Key} is damaged (it has no '{lacking}'). Restore a backup with Restore-DfNbDatabase -Force, which discards it.");
            return this;
        }

        // Absent: 0. Anything but a whole number is damage, named.
        static int Int(JsonElement r, string name)
        {
            if (!r.TryGetProperty(name, out var v)) return 0;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n)) return n;
            throw new FormatException($"its '{name}' is {v.GetRawText()}, not a whole number");
        }
    }
}
