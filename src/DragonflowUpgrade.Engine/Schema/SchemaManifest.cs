using System;
using DragonflowUpgrade.Engine.Errors;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Schema
{
    /// <summary>One field of a model: its type and rules, as a release's model definitions declare them.</summary>
    public sealed class FieldSchema
    {
        public string Type { get; set; } = "";
        public bool Required { get; set; }
        /// <summary>The default's JSON text, or null when the field has none.</summary>
        public string? Default { get; set; }
        /// <summary>Enum values.</summary>
        public IReadOnlyList<string>? Values { get; set; }
        /// <summary>Item type of a list; value type of a dict.</summary>
        public FieldSchema? Items { get; set; }
        /// <summary>Referenced table.</summary>
        public string? Table { get; set; }
        /// <summary>Embedded model, or the model a reference points into.</summary>
        public string? Model { get; set; }
        /// <summary>For references to embedded objects: the "table.field" list that holds them.</summary>
        public string? EmbeddedIn { get; set; }

        /// <summary>The type in words, e.g. "list of reference to lsubnet".</summary>
        public string Describe()
        {
            switch (Type)
            {
                case "list": return "list of " + Items?.Describe();
                case "dict": return "dict of " + Items?.Describe();
                case "reference": return Table != null ? "reference to " + Table : $"reference to {Model} in {EmbeddedIn}";
                case "embedded": return "embedded " + Model;
                case "enum": return "enum";
                default: return Type;
            }
        }
    }

    /// <summary>A model: its fields in declaration order.</summary>
    public sealed class ModelSchema
    {
        public string Name { get; set; } = "";
        public IReadOnlyDictionary<string, FieldSchema> Fields { get; set; } = new Dictionary<string, FieldSchema>();
        public IReadOnlyList<string> FieldOrder { get; set; } = new string[0];
    }

    /// <summary>A table: the model its objects follow, or, for counters, the type of its bare values.</summary>
    public sealed class TableSchema
    {
        public string Name { get; set; } = "";
        /// <summary>The model its objects follow; null for a table of bare values.</summary>
        public ModelSchema? Model { get; set; }
        /// <summary>Set when objects of the table are bare values (unique_key's integers), not JSON objects.</summary>
        public FieldSchema? Value { get; set; }
    }

    /// <summary>
    /// A release's NB schema, read from a JSON manifest: tables, and per field the type,
    /// whether it is required, its default, enum values, referenced table, embedded model.
    /// </summary>
    public sealed class SchemaManifest
    {
        public string Release { get; private set; } = "";
        public string Source { get; private set; } = "";
        public IReadOnlyDictionary<string, TableSchema> Tables { get; private set; } = new Dictionary<string, TableSchema>();
        public IReadOnlyDictionary<string, ModelSchema> Models { get; private set; } = new Dictionary<string, ModelSchema>();

        static readonly HashSet<string> Types = new HashSet<string>
        {
            "string", "int", "float", "bool", "enum", "ipaddress", "ipnetwork", "macaddress", "timestamp",
            "list", "reference", "embedded", "dict", "portrange",
        };

        public static SchemaManifest Load(string path)
        {
            using (var s = File.OpenRead(path)) return Load(s, path);
        }

        public static SchemaManifest Load(Stream stream, string source)
        {
            JsonDocument doc;
            try { doc = JsonDocument.Parse(stream); }
            catch (JsonException e) { throw new SchemaException($"{source}: {Json.NbJson.NotJson(e)}."); }
            using (doc)
            {
                var root = doc.RootElement;
                var m = new SchemaManifest { Source = source, Release = Str(root, "release", source, "") };
                var models = new Dictionary<string, ModelSchema>(StringComparer.Ordinal);
                if (root.TryGetProperty("models", out var ms))
                    foreach (var p in ms.EnumerateObject())
                        models[p.Name] = ReadModel(p.Name, p.Value, source, "models." + p.Name);
                var tables = new Dictionary<string, TableSchema>(StringComparer.Ordinal);
                if (!root.TryGetProperty("tables", out var ts) || ts.ValueKind != JsonValueKind.Object)
                    throw new SchemaException($"{source}: 'tables' is missing.");
                foreach (var p in ts.EnumerateObject())
                {
                    string where = "tables." + p.Name;
                    var t = new TableSchema { Name = p.Name };
                    if (p.Value.TryGetProperty("value", out var v)) t.Value = ReadField(v, source, where + ".value");
                    else t.Model = ReadModel(p.Value.TryGetProperty("model", out var mn) ? mn.GetString()! : p.Name, p.Value, source, where);
                    tables[p.Name] = t;
                }
                m.Tables = tables;
                m.Models = models;
                foreach (var t in tables.Values) if (t.Model != null) CheckModels(t.Model, m, source, "tables." + t.Name);
                foreach (var model in models.Values) CheckModels(model, m, source, "models." + model.Name);
                return m;
            }
        }

        static void CheckModels(ModelSchema model, SchemaManifest m, string source, string where)
        {
            foreach (var f in model.Fields) Check(f.Value, m, source, $"{where}.fields.{f.Key}");
        }

        static void Check(FieldSchema f, SchemaManifest m, string source, string where)
        {
            if (f.Type == "embedded" && !m.Models.ContainsKey(f.Model ?? ""))
                throw new SchemaException($"{source}: {where} embeds model '{f.Model}', which 'models' does not define.");
            if (f.Type == "reference" && f.Table != null && !m.Tables.ContainsKey(f.Table))
                throw new SchemaException($"{source}: {where} references table '{f.Table}', which 'tables' does not define.");
            if (f.Items != null) Check(f.Items, m, source, where + ".items");
        }

        static ModelSchema ReadModel(string name, JsonElement e, string source, string where)
        {
            if (!e.TryGetProperty("fields", out var fs) || fs.ValueKind != JsonValueKind.Object)
                throw new SchemaException($"{source}: {where} has no 'fields'.");
            var fields = new Dictionary<string, FieldSchema>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (var p in fs.EnumerateObject())
            {
                fields[p.Name] = ReadField(p.Value, source, $"{where}.fields.{p.Name}");
                order.Add(p.Name);
            }
            return new ModelSchema { Name = name, Fields = fields, FieldOrder = order };
        }

        static FieldSchema ReadField(JsonElement e, string source, string where)
        {
            if (e.ValueKind != JsonValueKind.Object) throw new SchemaException($"{source}: {where} must be an object.");
            string type = Str(e, "type", source, where);
            if (!Types.Contains(type)) throw new SchemaException($"{source}: {where} has unknown type '{type}'.");
            var f = new FieldSchema
            {
                Type = type,
                Required = e.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.True,
                Default = e.TryGetProperty("default", out var d) ? d.GetRawText() : null,
                Table = e.TryGetProperty("table", out var t) ? t.GetString() : null,
                Model = e.TryGetProperty("model", out var mo) ? mo.GetString() : null,
                EmbeddedIn = e.TryGetProperty("embeddedIn", out var ei) ? ei.GetString() : null,
            };
            if (type == "enum")
            {
                if (!e.TryGetProperty("values", out var vs) || vs.ValueKind != JsonValueKind.Array)
                    throw new SchemaException($"{source}: {where} is an enum without 'values'.");
                f.Values = vs.EnumerateArray().Select(x => x.GetString()!).ToList();
            }
            if (type == "list") f.Items = ReadField(Prop(e, "items", source, where), source, where + ".items");
            if (type == "dict") f.Items = ReadField(Prop(e, "values", source, where), source, where + ".values");
            if (type == "reference" && f.Table == null && f.EmbeddedIn == null)
                throw new SchemaException($"{source}: {where} is a reference without 'table'.");
            if (type == "embedded" && f.Model == null) throw new SchemaException($"{source}: {where} is embedded without 'model'.");
            return f;
        }

        static JsonElement Prop(JsonElement e, string name, string source, string where) =>
            e.TryGetProperty(name, out var v) ? v : throw new SchemaException($"{source}: {where} needs '{name}'.");

        static string Str(JsonElement e, string name, string source, string where)
        {
            if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String)
                throw new SchemaException($"{source}: {(where.Length == 0 ? "" : where + ".")}{name} must be a string.");
            return v.GetString()!; // a string element
        }
    }

    /// <summary>A schema manifest is malformed (<c>SchemaMalformed</c>), or a release has none (<c>SchemaNotFound</c>).</summary>
    public sealed class SchemaException : DfException
    {
        public const string MalformedId = "SchemaMalformed", NotFoundId = "SchemaNotFound";

        public SchemaException(string message, string errorId = MalformedId, string? target = null, string? recommendedAction = null)
            : base(errorId, errorId == NotFoundId ? DfErrorCategory.ObjectNotFound : DfErrorCategory.InvalidData, message, target,
                   recommendedAction ?? (errorId == NotFoundId
                       ? "Name a release the module has a schema for (Get-DfSchema -Release <Tab> lists them), or give the path of a manifest."
                       : "Fix the manifest at the place the message names, then run again.")) { }
    }
}
