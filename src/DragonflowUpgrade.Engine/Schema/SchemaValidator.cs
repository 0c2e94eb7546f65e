using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Schema
{
    /// <summary>Why one object does not fit a release's schema.</summary>
    public sealed class ValidationError
    {
        public ValidationError(string table, string id, string? field, string reason)
        {
            Table = table;
            Id = id;
            Field = field;
            Reason = reason;
        }

        public string Table { get; }
        public string Id { get; }
        /// <summary>The field concerned; null when it is the object as a whole.</summary>
        public string? Field { get; }
        public string Reason { get; }

        public override string ToString() => $"{Table}/{Id}{(Field == null ? "" : " field " + Field)}: {Reason}";
    }

    /// <summary>
    /// Checks every object against a release's schema: known tables and fields, types,
    /// required fields, enum values, and references that resolve to an object in the database.
    /// </summary>
    public sealed class SchemaValidator
    {
        static readonly Regex Mac = new Regex("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$", RegexOptions.Compiled);

        readonly SchemaManifest _schema;
        readonly Dictionary<string, HashSet<string>> _ids = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        readonly Dictionary<string, HashSet<string>> _embeddedIds = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        readonly List<ValidationError> _errors = new List<ValidationError>();

        SchemaValidator(SchemaManifest schema) { _schema = schema; }

        /// <summary>
        /// Validates <paramref name="entries"/> (the whole database); tables for which <paramref name="ignoredTable"/> is true
        /// (the module's own bookkeeping) are not checked. With <paramref name="mustCheck"/>, only the entries it
        /// accepts are checked; references of those resolve against all of <paramref name="entries"/>.
        /// </summary>
        public static IReadOnlyList<ValidationError> Validate(SchemaManifest schema, IReadOnlyCollection<NbEntry> entries, Func<string, bool> ignoredTable,
            Func<NbEntry, bool>? mustCheck = null)
        {
            var v = new SchemaValidator(schema);
            var checkedEntries = entries.Where(e => !ignoredTable(e.Key.Table)).ToList();
            foreach (var e in checkedEntries)
            {
                if (!v._ids.TryGetValue(e.Key.Table, out var ids)) v._ids[e.Key.Table] = ids = new HashSet<string>(StringComparer.Ordinal);
                ids.Add(e.Key.Id);
            }
            v.IndexEmbedded(checkedEntries);
            // One object parsed at a time: a million parsed documents held together would take
            // several times the data's size.
            foreach (var e in checkedEntries)
            {
                if (mustCheck != null && !mustCheck(e)) continue;
                JsonDocument doc;
                try { doc = JsonDocument.Parse(e.Value); }
                catch (JsonException ex) { v.Fail(e.Key, null, "not valid JSON: " + ex.Message); continue; }
                using (doc) v.CheckObject(e.Key, doc.RootElement);
            }
            return v._errors;
        }

        // References into embedded lists ("lswitch.subnets") need the ids those lists hold: the
        // objects of the tables holding such lists are parsed for them first.
        void IndexEmbedded(List<NbEntry> entries)
        {
            var wanted = _schema.Tables.Values.SelectMany(t => t.Model == null ? Enumerable.Empty<FieldSchema>() : t.Model.Fields.Values).Select(Innermost)
                .Where(f => f.Type == "reference").Select(f => f.EmbeddedIn).OfType<string>().Distinct().ToList();
            foreach (var path in wanted)
            {
                var parts = path.Split('.');
                var set = _embeddedIds[path] = new HashSet<string>(StringComparer.Ordinal);
                foreach (var e in entries)
                {
                    if (e.Key.Table != parts[0]) continue;
                    JsonDocument doc;
                    try { doc = JsonDocument.Parse(e.Value); }
                    catch (JsonException) { continue; }   // reported when the object is checked
                    using (doc)
                    {
                        if (doc.RootElement.ValueKind != JsonValueKind.Object) continue;
                        if (!doc.RootElement.TryGetProperty(parts[1], out var list) || list.ValueKind != JsonValueKind.Array) continue;
                        foreach (var item in list.EnumerateArray())
                            if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                                set.Add(Text(id));
                    }
                }
            }
        }

        static FieldSchema Innermost(FieldSchema f) => f.Items == null ? f : Innermost(f.Items);

        /// <summary>
        /// What <paramref name="table"/>'s objects refer to in <paramref name="schema"/>, through embedded
        /// models too: the tables referred to, and the embedded lists ("lswitch.subnets") referred into.
        /// </summary>
        public static (IReadOnlyCollection<string> Tables, IReadOnlyCollection<string> EmbeddedIn) ReferencesOf(SchemaManifest schema, string table)
        {
            var tables = new HashSet<string>(StringComparer.Ordinal);
            var embeddedIn = new HashSet<string>(StringComparer.Ordinal);
            var models = new HashSet<string>(StringComparer.Ordinal);
            void Visit(FieldSchema? f)
            {
                if (f == null) return;
                f = Innermost(f);
                if (f.Type == "reference")
                {
                    if (f.Table != null) tables.Add(f.Table);
                    else if (f.EmbeddedIn != null) embeddedIn.Add(f.EmbeddedIn);
                }
                else if (f.Type == "embedded" && f.Model != null && models.Add(f.Model) && schema.Models.TryGetValue(f.Model, out var m))
                    foreach (var inner in m.Fields.Values) Visit(inner);
            }
            if (schema.Tables.TryGetValue(table, out var t))
            {
                Visit(t.Value);
                if (t.Model != null)
                    foreach (var f in t.Model.Fields.Values) Visit(f);
            }
            return (tables, embeddedIn);
        }

        void Fail(NbKey key, string? field, string reason) => _errors.Add(new ValidationError(key.Table, key.Id, field, reason));

        void CheckObject(NbKey key, JsonElement value)
        {
            if (!_schema.Tables.TryGetValue(key.Table, out var table))
            {
                Fail(key, null, $"table '{key.Table}' is not part of release {_schema.Release}");
                return;
            }
            if (table.Value != null)
            {
                CheckValue(key, null, table.Value, value);
                return;
            }
            if (value.ValueKind != JsonValueKind.Object)
            {
                Fail(key, null, $"must be a JSON object, not {Kind(value)}");
                return;
            }
            CheckModel(key, null, table.Model!, value);  // a table of objects, not bare values, has a model (SchemaManifest's reader)
            if (value.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && Text(id) != key.Id)
                Fail(key, "id", $"is '{id.GetString()}' but the object is stored under id '{key.Id}'");
        }

        void CheckModel(NbKey key, string? prefix, ModelSchema model, JsonElement value)
        {
            foreach (var p in value.EnumerateObject())
            {
                string field = prefix == null ? p.Name : prefix + "." + p.Name;
                if (!model.Fields.TryGetValue(p.Name, out var f))
                {
                    Fail(key, field, $"is not a field of {model.Name} in release {_schema.Release}");
                    continue;
                }
                if (p.Value.ValueKind == JsonValueKind.Null)
                {
                    if (f.Required) Fail(key, field, "is required but null");
                    continue;
                }
                CheckValue(key, field, f, p.Value);
            }
            foreach (var f in model.Fields.Where(f => f.Value.Required))
                if (!value.TryGetProperty(f.Key, out _))
                    Fail(key, prefix == null ? f.Key : prefix + "." + f.Key, "is required but missing");
        }

        // The manifest's reader gives every enum its values, every list and dict its item type and
        // every embedded field its model (SchemaManifest.ReadField); hence the '!'s below.
        void CheckValue(NbKey key, string? field, FieldSchema f, JsonElement v)
        {
            switch (f.Type)
            {
                case "string":
                    Expect(key, field, v, JsonValueKind.String, "a string");
                    break;
                case "int":
                    if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out _)) Fail(key, field, $"must be an integer, not {Kind(v)} {Short(v)}");
                    break;
                case "float":
                case "timestamp":
                    Expect(key, field, v, JsonValueKind.Number, "a number");
                    break;
                case "bool":
                    if (v.ValueKind != JsonValueKind.True && v.ValueKind != JsonValueKind.False) Fail(key, field, $"must be true or false, not {Kind(v)} {Short(v)}");
                    break;
                case "enum":
                    if (!Expect(key, field, v, JsonValueKind.String, "a string")) break;
                    var values = f.Values!;
                    if (!values.Contains(Text(v)))
                        Fail(key, field, $"'{v.GetString()}' is not one of {string.Join(", ", values)}");
                    break;
                case "ipaddress":
                    if (Expect(key, field, v, JsonValueKind.String, "an IP address") && !IsIp(Text(v)))
                        Fail(key, field, $"'{v.GetString()}' is not an IP address");
                    break;
                case "ipnetwork":
                    if (Expect(key, field, v, JsonValueKind.String, "an IP network") && !IsNetwork(Text(v)))
                        Fail(key, field, $"'{v.GetString()}' is not an IP network (address/prefix length)");
                    break;
                case "macaddress":
                    if (Expect(key, field, v, JsonValueKind.String, "a MAC address") && !Mac.IsMatch(Text(v)))
                        Fail(key, field, $"'{v.GetString()}' is not a MAC address");
                    break;
                case "portrange":
                    if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 2 || v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.Number || !x.TryGetInt32(out _)))
                        Fail(key, field, $"must be a port range [min, max], not {Short(v)}");
                    break;
                case "list":
                    if (!Expect(key, field, v, JsonValueKind.Array, "a list")) break;
                    int i = 0;
                    foreach (var item in v.EnumerateArray()) CheckValue(key, $"{field}[{i++}]", f.Items!, item);
                    break;
                case "dict":
                    if (!Expect(key, field, v, JsonValueKind.Object, "an object")) break;
                    foreach (var p in v.EnumerateObject()) CheckValue(key, $"{field}.{p.Name}", f.Items!, p.Value);
                    break;
                case "embedded":
                    if (!Expect(key, field, v, JsonValueKind.Object, "an object")) break;
                    CheckModel(key, field, _schema.Models[f.Model!], v);
                    break;
                case "reference":
                    if (!Expect(key, field, v, JsonValueKind.String, "an id")) break;
                    string target = Text(v);
                    if (f.Table != null)
                    {
                        if (!(_ids.TryGetValue(f.Table, out var ids) && ids.Contains(target)))
                            Fail(key, field, $"refers to {f.Table}/{target}, which does not exist");
                    }
                    else if (!(_embeddedIds.TryGetValue(f.EmbeddedIn!, out var ids) && ids.Contains(target)))
                        Fail(key, field, $"refers to {f.Model} '{target}', which no {f.EmbeddedIn} holds");
                    break;
            }
        }

        bool Expect(NbKey key, string? field, JsonElement v, JsonValueKind kind, string what)
        {
            if (v.ValueKind == kind) return true;
            Fail(key, field, $"must be {what}, not {Kind(v)} {Short(v)}");
            return false;
        }

        static string Kind(JsonElement v)
        {
            switch (v.ValueKind)
            {
                case JsonValueKind.Number: return "a number";
                case JsonValueKind.String: return "a string";
                case JsonValueKind.Array: return "a list";
                case JsonValueKind.Object: return "an object";
                case JsonValueKind.True:
                case JsonValueKind.False: return "a bool";
                default: return "null";
            }
        }

        // The text of a JSON string (never null; GetString gives null for a JSON null only).
        static string Text(JsonElement s) => s.GetString()!;

        static string Short(JsonElement v)
        {
            string s = v.GetRawText();
            return s.Length > 40 ? s.Substring(0, 40) + "…" : s;
        }

        static bool IsIp(string s) => (s.Contains(".") || s.Contains(":")) && IPAddress.TryParse(s, out _);

        static bool IsNetwork(string s)
        {
            int slash = s.IndexOf('/');
            if (slash < 0 || !IsIp(s.Substring(0, slash)) || !int.TryParse(s.Substring(slash + 1), out int len)) return false;
            return len >= 0 && len <= (s.Contains(":") ? 128 : 32);
        }
    }
}
