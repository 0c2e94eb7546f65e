using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;

namespace DragonflowUpgrade.Remote
{
    public enum InventoryValueKind { Null, String, Number, Boolean, Map, List }

    /// <summary>
    /// A value read from an inventory file, with the line it starts on: what both the JSON
    /// reader here and the cmdlets' .psd1 reader produce, so errors can name the line.
    /// </summary>
    public sealed class InventoryValue
    {
        InventoryValue(InventoryValueKind kind, int line, string? text, IReadOnlyList<KeyValuePair<string, InventoryValue>>? map, IReadOnlyList<InventoryValue>? list)
        {
            Kind = kind;
            Line = line;
            Text = text;
            Map = map;
            List = list;
        }

        public InventoryValueKind Kind { get; }
        public int Line { get; }
        /// <summary>A scalar's text: the string, the number as written, "true"/"false"; null otherwise.</summary>
        public string? Text { get; }
        /// <summary>A table's entries; null otherwise.</summary>
        public IReadOnlyList<KeyValuePair<string, InventoryValue>>? Map { get; }
        /// <summary>A list's items; null otherwise.</summary>
        public IReadOnlyList<InventoryValue>? List { get; }

        public static InventoryValue Null(int line) => new InventoryValue(InventoryValueKind.Null, line, null, null, null);
        public static InventoryValue String(string text, int line) => new InventoryValue(InventoryValueKind.String, line, text, null, null);
        public static InventoryValue Number(string text, int line) => new InventoryValue(InventoryValueKind.Number, line, text, null, null);
        public static InventoryValue Boolean(bool value, int line) => new InventoryValue(InventoryValueKind.Boolean, line, value ? "true" : "false", null, null);
        public static InventoryValue FromMap(IReadOnlyList<KeyValuePair<string, InventoryValue>> entries, int line) => new InventoryValue(InventoryValueKind.Map, line, null, entries, null);
        public static InventoryValue FromList(IReadOnlyList<InventoryValue> items, int line) => new InventoryValue(InventoryValueKind.List, line, null, null, items);

        public override string ToString() => Kind == InventoryValueKind.Map ? "a table" : Kind == InventoryValueKind.List ? "a list" : Kind == InventoryValueKind.Null ? "null" : "'" + InventoryException.Show(Text) + "'";

        /// <summary>Parses a JSON inventory (comments and trailing commas allowed).</summary>
        public static InventoryValue ParseJson(byte[] utf8, string file)
        {
            // Windows PowerShell's Set-Content -Encoding UTF8 writes a byte order mark.
            if (utf8.Length >= 3 && utf8[0] == 0xEF && utf8[1] == 0xBB && utf8[2] == 0xBF)
                utf8 = new ReadOnlySpan<byte>(utf8, 3, utf8.Length - 3).ToArray();
            var lines = new LineIndex(utf8);
            if (utf8.All(b => b == ' ' || b == '\t' || b == '\r' || b == '\n')) throw new InventoryException(file, 1, null, "the file is empty.");
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            try
            {
                reader.Read();
                var root = ReadValue(ref reader, lines, file);
                int line;
                try { line = reader.Read() ? lines.LineOf(reader.TokenStartIndex) : 0; }
                catch (JsonException e) { line = (int)(e.LineNumber ?? 0) + 1; }  // text after the object that is not JSON either
                if (line > 0) throw new InventoryException(file, line, null, "unexpected text after the inventory object.");
                return root;
            }
            catch (JsonException e)
            {
                throw new InventoryException(file, (int)(e.LineNumber ?? 0) + 1, null, Engine.Json.NbJson.NotJson(e, withLine: false) + ".");
            }
            catch (InvalidOperationException)
            {
                // A string whose bytes are not UTF-8: the reader finds out when it decodes it.
                throw new InventoryException(file, lines.LineOf(reader.TokenStartIndex), null, "holds a string that is not valid UTF-8: save the file as UTF-8.");
            }
        }

        static InventoryValue ReadValue(ref Utf8JsonReader reader, LineIndex lines, string file)
        {
            int line = lines.LineOf(reader.TokenStartIndex);
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                {
                    var entries = new List<KeyValuePair<string, InventoryValue>>();
                    var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        string name = reader.GetString()!; // a property name is never null
                        int nameLine = lines.LineOf(reader.TokenStartIndex);
                        if (!seen.Add(name)) throw new InventoryException(file, nameLine, name, "appears twice in the same object.");
                        reader.Read();
                        entries.Add(new KeyValuePair<string, InventoryValue>(name, ReadValue(ref reader, lines, file)));
                    }
                    return FromMap(entries, line);
                }
                case JsonTokenType.StartArray:
                {
                    var items = new List<InventoryValue>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        items.Add(ReadValue(ref reader, lines, file));
                    return FromList(items, line);
                }
                case JsonTokenType.String: return String(reader.GetString()!, line);
                case JsonTokenType.Number: return Number(System.Text.Encoding.UTF8.GetString(reader.ValueSpan.ToArray()), line);
                case JsonTokenType.True: return Boolean(true, line);
                case JsonTokenType.False: return Boolean(false, line);
                case JsonTokenType.Null: return Null(line);
                default: throw new InventoryException(file, line, null, $"unexpected JSON token {reader.TokenType}.");
            }
        }

        sealed class LineIndex
        {
            readonly List<long> _starts = new List<long> { 0 };

            public LineIndex(byte[] text)
            {
                for (int i = 0; i < text.Length; i++)
                    if (text[i] == (byte)'\n') _starts.Add(i + 1);
            }

            public int LineOf(long offset)
            {
                int i = _starts.BinarySearch(offset);
                return (i >= 0 ? i : ~i - 1) + 1;
            }
        }
    }
}
