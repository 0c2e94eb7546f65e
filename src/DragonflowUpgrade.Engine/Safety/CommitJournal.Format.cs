using System;
using System.Collections.Generic;
using System.IO;
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

        static NbEntry ToJournalEntry(string run, int index, NbEntry change)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
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
            }
            return new NbEntry(JournalKey(run, index), buffer.ToArray());
        }

        static NbKey JournalKey(string run, int index) => new NbKey(Table, null, $"{run}.{index:D8}");

        // An entry of a journal checked against its checksum: as ToJournalEntry wrote it, table and id strings.
        static NbEntry FromJournalEntry(NbEntry e)
        {
            using (var doc = JsonDocument.Parse(e.Value))
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
