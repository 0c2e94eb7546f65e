using System;
using System.Collections.Generic;
using DragonflowUpgrade.Engine.Json;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// Which stored values the module takes. Every read whose values are kept — a run's snapshot,
    /// a backup, a restore, the heartbeat tables — goes through <see cref="Checked(INbStore, string)"/>, whatever the
    /// store, and is checked there only. So a value that a backup could not give back is refused
    /// when it is read, naming its key, before anything is written.
    /// Carried byte-exact: any one JSON value (object, number, string, array, true, false, null)
    /// in UTF-8, with whatever spacing between its tokens and escapes it was stored with.
    /// Refused: an empty value, bytes that are not UTF-8, a leading byte order mark, text that is
    /// not JSON or has more after the value, spacing before or after the value or a line break in it
    /// (a backup line keeps each value from its first token to its last, on one line), nesting
    /// deeper than <see cref="MaxDepth"/> (the limit of the module's JSON reader), and a key with
    /// an empty id.
    /// </summary>
    public static class StoredValue
    {
        /// <summary>The deepest nesting of objects and arrays a value may have.</summary>
        public const int MaxDepth = 64;

        internal const string EmptyId = "is stored under a key with an empty id, which Dragonflow cannot address.";

        /// <summary>The reads of <paramref name="store"/>, each value checked; see the class summary.</summary>
        /// <exception cref="NbValueInvalidException">A value (or key) is refused.</exception>
        public static IEnumerable<NbEntry> Checked(INbStore store, string? table = null) => Checked(store, store.Read(table));

        /// <summary><paramref name="entries"/> read from <paramref name="store"/>, each value checked.</summary>
        /// <exception cref="NbValueInvalidException">A value (or key) is refused.</exception>
        public static IEnumerable<NbEntry> Checked(INbStore store, IEnumerable<NbEntry> entries)
        {
            foreach (var e in entries)
            {
                string? problem = Problem(e.Key, e.Value.Span);
                if (problem != null) throw new NbValueInvalidException(store.Location, e.Key, problem);
                yield return e;
            }
        }

        /// <summary>What is wrong with a stored value (as "is empty", to follow "the value of key"), or null when it is taken.</summary>
        public static string? Problem(NbKey key, ReadOnlySpan<byte> value)
        {
            if (key.Id.Length == 0) return EmptyId;
            // A row of the module's journal holds NB values two levels down: [{"value": …}, …].
            return Problem(value, ModuleTables.IsModuleTable(key.Table) ? MaxDepth + 2 : MaxDepth);
        }

        /// <summary>What is wrong with a stored value, or null when it is taken.</summary>
        public static string? Problem(ReadOnlySpan<byte> value, int maxDepth = MaxDepth)
        {
            if (value.IsEmpty) return "is empty, not a JSON value.";
            if (value.Length >= 3 && value[0] == 0xEF && value[1] == 0xBB && value[2] == 0xBF)
                return "starts with a byte order mark (EF BB BF), which is not part of a JSON value.";
            if (!NbJson.IsUtf8(value)) return "is not UTF-8 text.";
            var reader = new Utf8JsonReader(value, new JsonReaderOptions { MaxDepth = maxDepth });
            int deepest = 0;
            try
            {
                if (!reader.Read()) return "holds no JSON value.";
                if (reader.TokenType == JsonTokenType.StartObject || reader.TokenType == JsonTokenType.StartArray)
                    while (reader.Read() && reader.CurrentDepth > 0) deepest = Math.Max(deepest, reader.CurrentDepth);
                if (reader.Read()) return $"has more text after its JSON value, at byte {reader.TokenStartIndex}.";
            }
            catch (JsonException e)
            {
                long at = e.BytePositionInLine ?? -1;
                bool tooDeep = deepest >= maxDepth - 1 && at >= 0 && at < value.Length && (value[(int)at] == '[' || value[(int)at] == '{');
                return $"is not one valid JSON value (at byte {at}{(tooDeep ? $": objects and arrays may be nested {maxDepth} deep at most" : "")}).";
            }
            // A backup line keeps a value from its first token to its last, so spacing around it would
            // not come back; valid JSON holds a line feed only as spacing between tokens (pretty-printed).
            if (IsSpace(value[0]) || IsSpace(value[value.Length - 1]))
                return "has spacing before or after its JSON value, which a backup does not keep.";
            int lineBreak = value.IndexOf((byte)'\n');
            return lineBreak < 0 ? null : $"holds a line break (at byte {lineBreak}), and a backup holds each value on one line.";
        }

        static bool IsSpace(byte b) => b == ' ' || b == '\t' || b == '\r' || b == '\n';
    }
}
