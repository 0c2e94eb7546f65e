using System;
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
        public static JsonNode Parse(byte[] utf8)
        {
            try { return JsonNode.Parse(utf8); }
            catch (JsonException e) { throw new FormatException("not valid JSON: " + e.Message, e); }
        }

        public static byte[] Serialize(JsonNode node)
        {
            var sb = new StringBuilder(256);
            Write(sb, node);
            return Encoding.UTF8.GetBytes(sb.ToString());
        }

        public static string ToText(JsonNode node)
        {
            var sb = new StringBuilder(256);
            Write(sb, node);
            return sb.ToString();
        }

        static void Write(StringBuilder sb, JsonNode node)
        {
            switch (node)
            {
                case null:
                    sb.Append("null");
                    break;
                case JsonObject o:
                    sb.Append('{');
                    bool first = true;
                    foreach (var p in o)
                    {
                        if (!first) sb.Append(", ");
                        first = false;
                        WriteString(sb, p.Key);
                        sb.Append(": ");
                        Write(sb, p.Value);
                    }
                    sb.Append('}');
                    break;
                case JsonArray a:
                    sb.Append('[');
                    for (int i = 0; i < a.Count; i++)
                    {
                        if (i > 0) sb.Append(", ");
                        Write(sb, a[i]);
                    }
                    sb.Append(']');
                    break;
                case JsonValue v:
                    WriteValue(sb, v);
                    break;
            }
        }

        static void WriteValue(StringBuilder sb, JsonValue v)
        {
            if (v.TryGetValue(out JsonElement e))
            {
                switch (e.ValueKind)
                {
                    case JsonValueKind.String: WriteString(sb, e.GetString()); return;
                    case JsonValueKind.Number: sb.Append(e.GetRawText()); return;
                    case JsonValueKind.True: sb.Append("true"); return;
                    case JsonValueKind.False: sb.Append("false"); return;
                    case JsonValueKind.Null: sb.Append("null"); return;
                    default: Write(sb, e.ValueKind == JsonValueKind.Object ? (JsonNode)JsonObject.Create(e) : JsonArray.Create(e)); return;
                }
            }
            if (v.TryGetValue(out string s)) { WriteString(sb, s); return; }
            if (v.TryGetValue(out bool b)) { sb.Append(b ? "true" : "false"); return; }
            if (v.TryGetValue(out long l)) { sb.Append(l.ToString(CultureInfo.InvariantCulture)); return; }
            if (v.TryGetValue(out int i)) { sb.Append(i.ToString(CultureInfo.InvariantCulture)); return; }
            if (v.TryGetValue(out double d)) { sb.Append(FormatDouble(d)); return; }
            if (v.TryGetValue(out float f)) { sb.Append(FormatDouble(f)); return; }
            if (v.TryGetValue(out decimal m)) { sb.Append(m.ToString(CultureInfo.InvariantCulture)); return; }
            // Anything else (a Guid, a DateTime, ...): let System.Text.Json say how it looks, then re-read it.
            var text = v.ToJsonString();
            using (var doc = JsonDocument.Parse(text)) WriteValue(sb, JsonValue.Create(doc.RootElement.Clone()));
        }

        /// <summary>A double as Python's repr writes it: shortest round trip, always with a '.' or an exponent.</summary>
        public static string FormatDouble(double d)
        {
            if (double.IsNaN(d) || double.IsInfinity(d)) throw new FormatException("NaN and infinity cannot be stored in an NB object.");
            string r = d.ToString("R", CultureInfo.InvariantCulture).Replace("E+", "e+").Replace("E-", "e-");
            if (r.IndexOf('.') < 0 && r.IndexOf('e') < 0) r += ".0";
            return r;
        }

        static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>Whether two JSON texts hold the same data: same members, numbers equal as numbers.</summary>
        public static bool SameData(byte[] a, byte[] b)
        {
            if (a.AsSpan().SequenceEqual(b)) return true;
            try
            {
                using (var x = JsonDocument.Parse(a))
                using (var y = JsonDocument.Parse(b))
                    return SameData(x.RootElement, y.RootElement);
            }
            catch (JsonException) { return false; }
        }

        public static bool SameData(JsonElement a, JsonElement b)
        {
            if (a.ValueKind != b.ValueKind) return false;
            switch (a.ValueKind)
            {
                case JsonValueKind.Object:
                    int count = 0;
                    foreach (var p in a.EnumerateObject())
                    {
                        count++;
                        if (!b.TryGetProperty(p.Name, out var q) || !SameData(p.Value, q)) return false;
                    }
                    foreach (var _ in b.EnumerateObject()) count--;
                    return count == 0;
                case JsonValueKind.Array:
                    if (a.GetArrayLength() != b.GetArrayLength()) return false;
                    using (var ea = a.EnumerateArray().GetEnumerator())
                    using (var eb = b.EnumerateArray().GetEnumerator())
                        while (ea.MoveNext() && eb.MoveNext())
                            if (!SameData(ea.Current, eb.Current)) return false;
                    return true;
                case JsonValueKind.String: return a.GetString() == b.GetString();
                case JsonValueKind.Number:
                    if (a.TryGetInt64(out long la) && b.TryGetInt64(out long lb)) return la == lb;
                    return a.GetDouble().Equals(b.GetDouble());
                default: return true; // true, false, null: the kinds already matched
            }
        }
    }
}
