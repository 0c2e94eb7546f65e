using System;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Engine.Schema
{
    public enum SchemaChangeKind
    {
        TableAdded,
        TableRemoved,
        FieldAdded,
        FieldRemoved,
        TypeChanged,
        RequiredChanged,
        DefaultChanged,
        EnumValuesChanged,
    }

    /// <summary>
    /// Which schema change: a table, a field of it or none, and the kind of change. A migration's
    /// <c>Handles</c> names the changes it takes care of by these, written
    /// <c>table.field:Kind</c> or <c>table:Kind</c> (<c>lswitch.subnets:FieldRemoved</c>,
    /// <c>lsubnet:TableAdded</c>); they are compared with <see cref="SchemaChange.Id"/>. Table
    /// and field names compare ignoring case.
    /// </summary>
    public sealed class SchemaChangeKey : IEquatable<SchemaChangeKey>
    {
        public SchemaChangeKey(string table, string? field, SchemaChangeKind kind)
        {
            Table = table ?? throw new ArgumentNullException(nameof(table));
            Field = field;
            Kind = kind;
        }

        public string Table { get; }
        /// <summary>The field, dotted for fields of embedded models (<c>binding.type</c>); null for table changes.</summary>
        public string? Field { get; }
        public SchemaChangeKind Kind { get; }

        /// <summary>
        /// Reads <c>table.field:Kind</c> or <c>table:Kind</c>; null, with <paramref name="problem"/>
        /// saying what is wrong (to follow the quoted text), when the text is not one.
        /// </summary>
        public static SchemaChangeKey? TryParse(string? text, out string? problem)
        {
            problem = null;
            int colon = text?.LastIndexOf(':') ?? -1;
            string name = text == null ? "" : colon < 0 ? text : text.Substring(0, colon);
            string kind = colon < 0 ? "" : text!.Substring(colon + 1);
            int dot = name.IndexOf('.');
            string table = dot < 0 ? name : name.Substring(0, dot);
            string? field = dot < 0 ? null : name.Substring(dot + 1);
            if (text == null || text.Length == 0 || text.Any(char.IsWhiteSpace) || colon < 0 || table.Length == 0 || field?.Length == 0 ||
                field != null && field.Split('.').Any(part => part.Length == 0) || name.IndexOf(':') >= 0)
                problem = "is not a schema change: write table.field:Kind or table:Kind, as Compare-DfSchema's Key shows it";
            // Enum.TryParse also takes numbers and comma lists: only a kind's own name will do.
            else if (!Enum.GetNames(typeof(SchemaChangeKind)).Any(k => string.Equals(k, kind, StringComparison.OrdinalIgnoreCase)))
                problem = $"names no kind of schema change: '{kind}' is none of {string.Join(", ", Enum.GetNames(typeof(SchemaChangeKind)))}";
            else return new SchemaChangeKey(table, field, (SchemaChangeKind)Enum.Parse(typeof(SchemaChangeKind), kind, ignoreCase: true));
            return null;
        }

        public bool Equals(SchemaChangeKey? other) =>
            other != null && Kind == other.Kind && string.Equals(Table, other.Table, StringComparison.OrdinalIgnoreCase) &&
            string.Equals(Field, other.Field, StringComparison.OrdinalIgnoreCase);

        public override bool Equals(object? obj) => Equals(obj as SchemaChangeKey);

        public override int GetHashCode() =>
            (StringComparer.OrdinalIgnoreCase.GetHashCode(Table) * 31 + (Field == null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(Field))) * 31 + (int)Kind;

        /// <summary>As <c>Handles</c> writes it: <c>table.field:Kind</c> or <c>table:Kind</c>.</summary>
        public override string ToString() => (Field == null ? Table : Table + "." + Field) + ":" + Kind;
    }

    /// <summary>One difference between two releases' schemas: which (<see cref="Id"/>), and whether it needs a migration.</summary>
    public sealed class SchemaChange
    {
        public SchemaChange(string table, string? field, SchemaChangeKind kind, bool automatic, string detail)
        {
            Id = new SchemaChangeKey(table, field, kind);
            Automatic = automatic;
            Detail = detail;
        }

        /// <summary>Which change this is, as a migration's Handles names it.</summary>
        public SchemaChangeKey Id { get; }
        public string Table => Id.Table;
        /// <summary>The field, dotted for fields of embedded models (<c>binding.type</c>); null for table changes.</summary>
        public string? Field => Id.Field;
        public SchemaChangeKind Kind => Id.Kind;
        /// <summary>Needs no migration: the module upgrades the data itself, or existing data stays valid.</summary>
        public bool Automatic { get; }
        public string Detail { get; }

        /// <summary><see cref="Id"/> as text: <c>lswitch.subnets:FieldRemoved</c>.</summary>
        public string Key => Id.ToString();

        public override string ToString() => $"{Key} ({Detail})";
    }

    /// <summary>
    /// Compares two releases' schemas. Automatic: a table added; a field added that is optional
    /// or has a default (the default is written into existing objects); and changes that only
    /// loosen a rule, so every existing object stays valid (enum values added, a field no longer
    /// required, a new default). Everything else needs a migration.
    /// </summary>
    public static class SchemaDiff
    {
        public static IReadOnlyList<SchemaChange> Compare(SchemaManifest reference, SchemaManifest difference)
        {
            var changes = new List<SchemaChange>();
            foreach (var name in reference.Tables.Keys.Union(difference.Tables.Keys).OrderBy(n => n, StringComparer.Ordinal))
            {
                reference.Tables.TryGetValue(name, out var a);
                difference.Tables.TryGetValue(name, out var b);
                if (a == null) changes.Add(new SchemaChange(name, null, SchemaChangeKind.TableAdded, true, $"table {name} is new in {difference.Release}"));
                else if (b == null) changes.Add(new SchemaChange(name, null, SchemaChangeKind.TableRemoved, false, $"table {name} is gone in {difference.Release}: its objects must be moved or deleted"));
                else if (a.Value != null || b.Value != null)
                {
                    if (a.Value == null || b.Value == null || a.Value.Describe() != b.Value.Describe())
                        changes.Add(new SchemaChange(name, null, SchemaChangeKind.TypeChanged, false, "the table's values change type"));
                }
                else CompareModels(name, null, a.Model!, b.Model!, reference, difference, changes, new HashSet<string>()); // not a table of bare values: both have a model
            }
            return changes;
        }

        static void CompareModels(string table, string? prefix, ModelSchema a, ModelSchema b, SchemaManifest ra, SchemaManifest rb,
            List<SchemaChange> changes, HashSet<string> seen)
        {
            // A model within itself (recursive) is compared once along a path; two fields of the same model are each compared.
            string pair = a.Name + "|" + b.Name;
            if (!seen.Add(pair)) return;
            foreach (var name in a.FieldOrder.Concat(b.FieldOrder.Where(f => !a.Fields.ContainsKey(f))))
            {
                string field = prefix == null ? name : prefix + "." + name;
                a.Fields.TryGetValue(name, out var fa);
                b.Fields.TryGetValue(name, out var fb);
                if (fa == null)
                {
                    var added = fb!; // the name is a field of a or b
                    bool automatic = !added.Required || added.Default != null;
                    changes.Add(new SchemaChange(table, field, SchemaChangeKind.FieldAdded, automatic,
                        added.Default != null ? $"new field, default {added.Default} written into existing objects"
                        : added.Required ? "new required field without a default: existing objects need a value" : "new optional field"));
                    continue;
                }
                if (fb == null)
                {
                    changes.Add(new SchemaChange(table, field, SchemaChangeKind.FieldRemoved, false, $"field removed: its data must be moved or dropped ({fa.Describe()})"));
                    continue;
                }
                CompareField(table, field, fa, fb, ra, rb, changes, seen);
            }
            seen.Remove(pair);
        }

        static void CompareField(string table, string field, FieldSchema fa, FieldSchema fb, SchemaManifest ra, SchemaManifest rb,
            List<SchemaChange> changes, HashSet<string> seen)
        {
            if (fa.Describe() != fb.Describe())
            {
                changes.Add(new SchemaChange(table, field, SchemaChangeKind.TypeChanged, false, $"{fa.Describe()} becomes {fb.Describe()}"));
                return;
            }
            if (fa.Required != fb.Required)
                changes.Add(new SchemaChange(table, field, SchemaChangeKind.RequiredChanged, !fb.Required,
                    fb.Required ? "becomes required: existing objects without it need a value" : "no longer required"));
            if (fa.Default != fb.Default)
                changes.Add(new SchemaChange(table, field, SchemaChangeKind.DefaultChanged, true, $"default {fa.Default ?? "none"} becomes {fb.Default ?? "none"}; stored values are kept"));
            var ea = Innermost(fa);
            var eb = Innermost(fb);
            if (ea.Type == "enum")
            {
                var removed = ea.Values!.Except(eb.Values!).ToList(); // an enum has values
                var added = eb.Values!.Except(ea.Values!).ToList();
                if (removed.Count > 0 || added.Count > 0)
                    changes.Add(new SchemaChange(table, field, SchemaChangeKind.EnumValuesChanged, removed.Count == 0,
                        (added.Count > 0 ? "adds " + string.Join(", ", added) : "") + (added.Count > 0 && removed.Count > 0 ? "; " : "") +
                        (removed.Count > 0 ? "removes " + string.Join(", ", removed) + ": objects holding them need a new value" : "")));
            }
            if (ea.Type == "embedded" && ra.Models.TryGetValue(ea.Model!, out var ma) && rb.Models.TryGetValue(eb.Model!, out var mb))
                CompareModels(table, field, ma, mb, ra, rb, changes, seen);
        }

        static FieldSchema Innermost(FieldSchema f) => f.Items == null ? f : Innermost(f.Items);
    }
}
