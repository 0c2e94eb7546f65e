using System;
using System.Collections;
using System.Collections.Specialized;
using System.Globalization;
using System.Management.Automation;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DragonflowUpgrade.PowerShell.Scripting
{
    /// <summary>
    /// Turns NB JSON into PowerShell-native values and back: objects become ordered hashtables
    /// (as <c>ConvertFrom-Json -AsHashtable</c> gives them) or PSCustomObjects, integers Int64,
    /// other numbers Double, arrays object[].
    /// </summary>
    public static class PsJson
    {
        // PowerShell 7.3+ has OrderedHashtable, a Hashtable that keeps insertion order; 5.1 gets an OrderedDictionary.
        static readonly Type OrderedHashtableType = typeof(PSObject).Assembly.GetType("System.Management.Automation.OrderedHashtable");

        public static IDictionary NewDictionary() =>
            OrderedHashtableType != null ? (IDictionary)Activator.CreateInstance(OrderedHashtableType) : new OrderedDictionary();

        public static object ToHashtable(JsonNode node) => Convert(node, asPSObject: false);

        public static object ToPSObject(JsonNode node) => Convert(node, asPSObject: true);

        static object Convert(JsonNode node, bool asPSObject)
        {
            switch (node)
            {
                case null: return null;
                case JsonObject o:
                    if (asPSObject)
                    {
                        var ps = new PSObject();
                        foreach (var p in o) ps.Properties.Add(new PSNoteProperty(p.Key, Convert(p.Value, true)));
                        return ps;
                    }
                    var d = NewDictionary();
                    foreach (var p in o) d[p.Key] = Convert(p.Value, false);
                    return d;
                case JsonArray a:
                    var items = new object[a.Count];
                    for (int i = 0; i < a.Count; i++) items[i] = Convert(a[i], asPSObject);
                    return items;
                default:
                    var e = node.GetValue<JsonElement>();
                    switch (e.ValueKind)
                    {
                        case JsonValueKind.String: return e.GetString();
                        case JsonValueKind.True: return true;
                        case JsonValueKind.False: return false;
                        case JsonValueKind.Null: return null;
                        case JsonValueKind.Number:
                            if (e.TryGetInt64(out long l)) return l;
                            string raw = e.GetRawText();
                            if (raw.IndexOfAny(new[] { '.', 'e', 'E' }) < 0) return BigInteger.Parse(raw, CultureInfo.InvariantCulture);
                            return e.GetDouble();
                        default: return null;
                    }
            }
        }

        /// <summary>Turns what a script built back into JSON; <paramref name="path"/> names the field in errors.</summary>
        public static JsonNode FromPowerShell(object value, string path)
        {
            if (value is PSObject pso)
            {
                if (pso.BaseObject is PSCustomObject)
                {
                    var o = new JsonObject();
                    foreach (var p in pso.Properties) o[p.Name] = FromPowerShell(p.Value, path + "." + p.Name);
                    return o;
                }
                value = pso.BaseObject;
            }
            switch (value)
            {
                case null: return null;
                case string s: return JsonValue.Create(s);
                case char c: return JsonValue.Create(c.ToString());
                case bool b: return JsonValue.Create(b);
                case int i: return JsonValue.Create((long)i);
                case long l: return JsonValue.Create(l);
                case short sh: return JsonValue.Create((long)sh);
                case byte by: return JsonValue.Create((long)by);
                case uint ui: return JsonValue.Create((long)ui);
                case ulong ul: return JsonNode.Parse(ul.ToString(CultureInfo.InvariantCulture));
                case BigInteger bi: return JsonNode.Parse(bi.ToString(CultureInfo.InvariantCulture));
                case double db: return JsonValue.Create(db);
                case float f: return JsonValue.Create((double)f);
                case decimal m: return JsonNode.Parse(m.ToString(CultureInfo.InvariantCulture));
                case Enum en: return JsonValue.Create(en.ToString());
                case IDictionary dict:
                    var obj = new JsonObject();
                    foreach (DictionaryEntry entry in dict)
                    {
                        string key = entry.Key as string ?? System.Convert.ToString(entry.Key, CultureInfo.InvariantCulture);
                        obj[key] = FromPowerShell(entry.Value, path + "." + key);
                    }
                    return obj;
                case IEnumerable list:
                    var arr = new JsonArray();
                    int n = 0;
                    foreach (var item in list) arr.Add(FromPowerShell(item, $"{path}[{n++}]"));
                    return arr;
                default:
                    throw new ArgumentException($"{path} holds a {value.GetType().FullName}, which an NB object cannot store; use a string, number, bool, array or hashtable.");
            }
        }
    }
}
