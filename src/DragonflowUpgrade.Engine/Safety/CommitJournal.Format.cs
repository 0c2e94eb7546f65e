using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DragonflowUpgrade.Engine.Safety
{
    // The journal's format: one entry per change, keyed by run and position, holding the change as JSON.
    public static partial class CommitJournal
    {
        /// <summary>The journal file of a backup: <c>x.jsonl.gz</c> → <c>x.journal.jsonl.gz</c>.</summary>
        public static string JournalPathFor(string backupPath)
        {
            foreach (var suffix in new[] { ".jsonl.gz", ".jsonl" })
                if (backupPath.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                    return backupPath.Substring(0, backupPath.Length - suffix.Length) + ".journal" + suffix;
            return backupPath + ".journal.jsonl.gz";
        }

        // A change as the journal holds it: {"op", "table", "topic", "id", "value"}, in the buffer of
        // the writer given (valid until its next use).
        static ArraySegment<byte> JournalValue(ReusedJsonWriter entries, NbEntry change)
        {
            var w = entries.Start();
            w.WriteStartObject();
            w.WriteString("op", change.IsDelete ? "delete" : "put");
            w.WriteString("table", change.Key.Table);
            if (change.Key.Topic == null) w.WriteNull("topic"); else w.WriteString("topic", change.Key.Topic);
            w.WriteString("id", change.Key.Id);
            if (!change.IsDelete)
            {
                w.WritePropertyName("value");
                w.WriteRawValue(change.Value.Span, skipInputValidation: true);
            }
            w.WriteEndObject();
            return entries.Finish();
        }

        // An entry's key in the file, and a row's (a chunk's) in the database.
        static NbKey JournalKey(string run, int index) => new NbKey(Table, null, $"{run}.{index:D8}");

        /// <summary>
        /// The entries of a run's journal as its rows in the database hold them, keyed as in its file
        /// (so that the record's checksum covers both); null, with <paramref name="problem"/>, when they
        /// are not all there or cannot be read.
        /// </summary>
        static List<NbEntry>? FromJournalRows(IEnumerable<NbEntry> rows, CommitRecord run, out string problem)
        {
            var entries = new List<NbEntry>(run.Changes);
            int chunk = 0;
            foreach (var row in rows)
            {
                if (!row.Key.Equals(JournalKey(run.RunId, chunk++)))
                {
                    problem = $"the database lacks its row {JournalKey(run.RunId, chunk - 1)}";
                    return null;
                }
                // A record that does not say how many rows (an older version's) has a row per entry, keyed as in the file.
                if (run.JournalChunks == 0)
                {
                    entries.Add(row);
                    continue;
                }
                try
                {
                    var reader = new Utf8JsonReader(row.Value.Span, new JsonReaderOptions { MaxDepth = StoredValue.MaxDepth + 2 });
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                    {
                        problem = $"its row {row.Key} in the database is not a JSON array";
                        return null;
                    }
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        int start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        entries.Add(new NbEntry(JournalKey(run.RunId, entries.Count), row.Value.Slice(start, (int)reader.BytesConsumed - start).ToArray()));
                    }
                }
                catch (JsonException e)
                {
                    problem = $"its row {row.Key} in the database is {Json.NbJson.NotJson(e)}";
                    return null;
                }
            }
            problem = entries.Count != run.Changes ? $"the database holds {entries.Count} of its {run.Changes} entries"
                : !string.Equals(NbBackup.Checksum(entries), run.JournalChecksum, StringComparison.OrdinalIgnoreCase) ? "its copy in the database does not match its checksum"
                : "";
            return problem.Length == 0 ? entries : null;
        }

        // An entry of a journal checked against its checksum: as JournalValue wrote it, table and id strings.
        static NbEntry FromJournalEntry(NbEntry e)
        {
            using (var doc = JsonDocument.Parse(e.Value, new JsonDocumentOptions { MaxDepth = StoredValue.MaxDepth + 1 }))
            {
                var r = doc.RootElement;
                string? topic = r.GetProperty("topic").ValueKind == JsonValueKind.String ? r.GetProperty("topic").GetString() : null;
                var key = new NbKey(r.GetProperty("table").GetString()!, topic, r.GetProperty("id").GetString()!);
                return r.GetProperty("op").GetString() == "delete"
                    ? NbEntry.Delete(key)
                    : new NbEntry(key, Encoding.UTF8.GetBytes(r.GetProperty("value").GetRawText()));
            }
        }
    }
}
