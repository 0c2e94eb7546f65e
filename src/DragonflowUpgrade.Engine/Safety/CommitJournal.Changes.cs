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
    // Change detection: whether the objects an operation is about to write still hold what a run read or writes.
    public static partial class CommitJournal
    {
        /// <summary>
        /// Refuses with <see cref="DatabaseChangedException"/>, naming them, when any of <paramref name="written"/>
        /// (the keys an operation is about to write) holds, in <paramref name="now"/>, neither what the
        /// run read (<paramref name="backup"/>) nor what its <paramref name="journal"/> writes there.
        /// </summary>
        static void RequireUnchangedSince(INbStore store, CommitRecord run, IReadOnlyList<NbEntry> now, IReadOnlyList<NbEntry> backup,
            IReadOnlyList<NbEntry> journal, IEnumerable<NbKey> written, string what, string action)
        {
            var current = Lookup(now);
            var read = Lookup(backup);
            var writes = new Dictionary<NbKey, ReadOnlyMemory<byte>?>();
            foreach (var c in journal) writes[c.Key] = c.IsDelete ? (ReadOnlyMemory<byte>?)null : c.Value;
            var differ = new List<string>();
            foreach (var key in written.Where(k => !ModuleTables.IsModuleTable(k.Table)).Distinct())
            {
                var value = current(key);
                if (Same(value, read(key)) || (writes.TryGetValue(key, out var w) && Same(value, w))) continue;
                differ.Add(value == null ? $"{key} deleted" : read(key) == null ? $"{key} created" : $"{key} changed");
            }
            if (differ.Count > 0)
                throw new DatabaseChangedException(store.Location,
                    $"{differ.Count} object(s) of {store.Location} hold neither what migration run {run.RunId} read nor what it writes: " +
                    $"{string.Join(", ", differ.Take(5))}{(differ.Count > 5 ? $" and {differ.Count - 5} more" : "")}. Something else wrote them since the run. {what}",
                    action);
        }

        static bool Same(ReadOnlyMemory<byte>? a, ReadOnlyMemory<byte>? b) =>
            a is ReadOnlyMemory<byte> x ? b is ReadOnlyMemory<byte> y && x.Span.SequenceEqual(y.Span) : !b.HasValue;

        internal static Func<NbKey, ReadOnlyMemory<byte>?> Lookup(IEnumerable<NbEntry> entries)
        {
            var values = new Dictionary<NbKey, ReadOnlyMemory<byte>>();
            foreach (var e in entries) values[e.Key] = e.Value;
            return key => values.TryGetValue(key, out var v) ? v : (ReadOnlyMemory<byte>?)null;
        }
    }
}
