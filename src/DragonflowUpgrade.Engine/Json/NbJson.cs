using System;
using System.Runtime.CompilerServices;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DragonflowUpgrade.Engine.Json
{
    /// <summary>
    /// Reads and writes NB values. Output is formatted as Dragonflow's Python serializer writes
    /// it (json.dumps defaults: ", " and ": " separators, non-ASCII escaped), so an object the
    /// module rewrites looks exactly like one Dragonflow wrote.
    /// </summary>
    public static class NbJson
    {
        [MethodImpl(Hot.Optimize)]
        public static JsonNode Parse(ReadOnlySpan<byte> utf8)
        {
            try { return JsonNode.Parse(utf8); }
            catch (JsonException e) { throw new FormatException("not valid JSON: " + e.Message, e); }
        }

        public static byte[] Serialize(JsonNode node) => Format(node).ToArray();

        /// <summary>Serializes into this thread's buffer: the result is valid until the thread's next call.</summary>
        [MethodImpl(Hot.Optimize)]
        internal static ReadOnlySpan<byte> Format(JsonNode node)
        {
            var w = Buffer ?? (Buffer = new ByteWriter());
            w.Reset();
            Write(w, node);
            return w.Written;
        }

        // One reusable output buffer per thread: serializing thousands of objects allocates only their results.
        [ThreadStatic] static ByteWriter Buffer;

        sealed class ByteWriter
        {
            byte[] _bytes = new byte[1024];
            int _length;

            public void Reset() => _length = 0;
            public ReadOnlySpan<byte> Written => new ReadOnlySpan<byte>(_bytes, 0, _length);

            void Room(int n)
            {
                if (_length + n <= _bytes.Length) return;
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + n));
            }

            [MethodImpl(Hot.Optimize)]
            public void Byte(char c)
            {
                Room(1);
                _bytes[_length++] = (byte)c;
            }

            /// <summary>ASCII text as it is (structure, numbers, escapes).</summary>
            [MethodImpl(Hot.Optimize)]
            public void Ascii(string s)
            {
                Room(s.Length);
                for (int i = 0; i < s.Length; i++) _bytes[_length++] = (byte)s[i];
            }
        }

        [MethodImpl(Hot.Optimize)]
        static void Write(ByteWriter w, JsonNode node)
        {
            switch (node)
            {
                case null:
                    w.Ascii("null");
                    break;
                case JsonObject o:
                    w.Byte('{');
                    bool first = true;
                    foreach (var p in o)
                    {
                        if (!first) w.Ascii(", ");
                        first = false;
                        WriteString(w, p.Key);
                        w.Ascii(": ");
                        Write(w, p.Value);
                    }
                    w.Byte('}');
                    break;
                case JsonArray a:
                    w.Byte('[');
                    for (int i = 0; i < a.Count; i++)
                    {
                        if (i > 0) w.Ascii(", ");
                        Write(w, a[i]);
                    }
                    w.Byte(']');
                    break;
                case JsonValue v:
                    WriteValue(w, v);
                    break;
            }
        }

        [MethodImpl(Hot.Optimize)]
        static void WriteValue(ByteWriter w, JsonValue v)
        {
            if (v.TryGetValue(out JsonElement e))
            {
                switch (e.ValueKind)
                {
                    case JsonValueKind.String:
                        // The stored text is already escaped JSON; keep it unless it holds raw non-ASCII.
                        string raw = e.GetRawText();
                        if (IsAscii(raw)) w.Ascii(raw); else WriteString(w, e.GetString());
                        return;
                    case JsonValueKind.Number: w.Ascii(e.GetRawText()); return;
                    case JsonValueKind.True: w.Ascii("true"); return;
                    case JsonValueKind.False: w.Ascii("false"); return;
                    case JsonValueKind.Null: w.Ascii("null"); return;
                    default: Write(w, e.ValueKind == JsonValueKind.Object ? (JsonNode)JsonObject.Create(e) : JsonArray.Create(e)); return;
                }
            }
            if (v.TryGetValue(out string s)) { WriteString(w, s); return; }
            if (v.TryGetValue(out bool b)) { w.Ascii(b ? "true" : "false"); return; }
            if (v.TryGetValue(out long l)) { w.Ascii(l.ToString(CultureInfo.InvariantCulture)); return; }
            if (v.TryGetValue(out int i)) { w.Ascii(i.ToString(CultureInfo.InvariantCulture)); return; }
            if (v.TryGetValue(out double d)) { w.Ascii(FormatDouble(d)); return; }
            if (v.TryGetValue(out float f)) { w.Ascii(FormatDouble(f)); return; }
            if (v.TryGetValue(out decimal m)) { w.Ascii(m.ToString(CultureInfo.InvariantCulture)); return; }
            // Anything else (a Guid, a DateTime, ...): let System.Text.Json say how it looks, then re-read it.
            var text = v.ToJsonString();
            using (var doc = JsonDocument.Parse(text)) WriteValue(w, JsonValue.Create(doc.RootElement.Clone()));
        }

        /// <summary>A double as Python's repr writes it: shortest round trip, always with a '.' or an exponent.</summary>
        public static string FormatDouble(double d)
        {
            if (double.IsNaN(d) || double.IsInfinity(d)) throw new FormatException("NaN and infinity cannot be stored in an NB object.");
            string r = d.ToString("R", CultureInfo.InvariantCulture).Replace("E+", "e+").Replace("E-", "e-");
            if (r.IndexOf('.') < 0 && r.IndexOf('e') < 0) r += ".0";
            return r;
        }

        static readonly string[] Escapes = BuildEscapes();

        static string[] BuildEscapes()
        {
            var e = new string[128];
            for (int c = 0; c < 0x20; c++) e[c] = "\\u" + c.ToString("x4");
            e['"'] = "\\\""; e['\\'] = "\\\\"; e['\n'] = "\\n"; e['\r'] = "\\r"; e['\t'] = "\\t"; e['\b'] = "\\b"; e['\f'] = "\\f";
            e[0x7f] = "\\u007f";
            return e;
        }

        [MethodImpl(Hot.Optimize)]
        static bool IsAscii(string s)
        {
            foreach (char c in s) if (c > 0x7e) return false;
            return true;
        }

        [MethodImpl(Hot.Optimize)]
        static void WriteString(ByteWriter w, string s)
        {
            w.Byte('"');
            foreach (char c in s)
            {
                if (c < 128)
                {
                    var escape = Escapes[c];
                    if (escape == null) w.Byte(c); else w.Ascii(escape);
                }
                else w.Ascii("\\u" + ((int)c).ToString("x4"));
            }
            w.Byte('"');
        }

        /// <summary>
        /// Whether two JSON texts hold the same data: the same tokens in the same order, numbers
        /// equal as numbers, strings equal once unescaped. Formatting does not count; member
        /// order does (a rewrite that reorders members is written, which is harmless).
        /// </summary>
        [MethodImpl(Hot.Optimize)]
        public static bool SameData(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
        {
            if (a.SequenceEqual(b)) return true;
            var x = new Utf8JsonReader(a);
            var y = new Utf8JsonReader(b);
            try
            {
                while (true)
                {
                    bool more = x.Read();
                    if (more != y.Read()) return false;
                    if (!more) return true;
                    if (x.TokenType != y.TokenType) return false;
                    switch (x.TokenType)
                    {
                        case JsonTokenType.PropertyName:
                        case JsonTokenType.String:
                            if (!x.ValueIsEscaped && !y.ValueIsEscaped) { if (!x.ValueSpan.SequenceEqual(y.ValueSpan)) return false; }
                            else if (x.GetString() != y.GetString()) return false;
                            break;
                        case JsonTokenType.Number:
                            if (x.ValueSpan.SequenceEqual(y.ValueSpan)) break;
                            if (x.TryGetInt64(out long lx) && y.TryGetInt64(out long ly)) { if (lx != ly) return false; }
                            else if (!x.GetDouble().Equals(y.GetDouble())) return false;
                            break;
                    }
                }
            }
            catch (JsonException) { return false; }
        }
    }
}
