using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Numerics;
using System.Runtime.ExceptionServices;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Json;
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

    /// <summary>How much of an object <see cref="SchemaValidator"/> checks.</summary>
    internal sealed class CheckScope
    {
        CheckScope(ISet<string>? values, bool nothing)
        {
            Values = values;
            IsNothing = nothing;
        }

        /// <summary>Everything: the object's members, their values, the required fields and the id.</summary>
        public static readonly CheckScope Whole = new CheckScope(null, false);

        /// <summary>Nothing: the object is not read.</summary>
        public static readonly CheckScope Nothing = new CheckScope(null, true);

        /// <summary>
        /// The object's member names (each a field of its model), the presence of its required fields,
        /// and the values of <paramref name="fields"/> only: for an object taken to fit a release whose
        /// rules for its other fields are the same. Its other values are checked as JSON but not read.
        /// </summary>
        public static CheckScope ValuesOf(IEnumerable<string> fields) => new CheckScope(new HashSet<string>(fields, StringComparer.Ordinal), false);

        internal ISet<string>? Values { get; }
        internal bool IsNothing { get; }

        public override string ToString() => IsNothing ? "nothing" : Values == null ? "whole" : "the values of " + string.Join(", ", Values.OrderBy(f => f, StringComparer.Ordinal));
    }

    /// <summary>What references resolve against: the objects of the whole database.</summary>
    internal interface IObjectIndex
    {
        bool Exists(string table, string id);

        /// <summary>The objects of <paramref name="table"/> (for the ids their embedded lists hold).</summary>
        IEnumerable<NbEntry> Entries(string table);
    }

    /// <summary>
    /// Checks objects against a release's schema, each as far as its <see cref="CheckScope"/> says:
    /// known tables and fields, types, required fields, enum values, and references that resolve
    /// to an object in the database.
    /// </summary>
    public sealed class SchemaValidator
    {
        static readonly Regex Mac = new Regex("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$", RegexOptions.Compiled);

        readonly SchemaManifest _schema;
        readonly IObjectIndex _index;
        readonly Dictionary<string, HashSet<string>> _embeddedIds;
        readonly List<ValidationError> _errors = new List<ValidationError>();
        // While an object whose text is not as NbJson writes it is checked again: its text, and where its values lie in it.
        ReadOnlyMemory<byte> _text;
        Dictionary<object, (int Start, int Length)>? _spans;

        SchemaValidator(SchemaManifest schema, IObjectIndex index)
        {
            _schema = schema;
            _index = index;
            _embeddedIds = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        }

        // Another checker of the same objects: the index and the embedded ids are shared (only read once made), the errors its own.
        SchemaValidator(SchemaValidator indexed)
        {
            _schema = indexed._schema;
            _index = indexed._index;
            _embeddedIds = indexed._embeddedIds;
        }

        // Objects checked by one task at a time; small, so that the cores finish together whatever each part holds.
        internal const int Part = 4096;

        /// <summary>
        /// Validates <paramref name="entries"/> (the whole database) whole; tables for which <paramref name="ignoredTable"/> is true
        /// (the module's own bookkeeping) are not checked.
        /// </summary>
        public static IReadOnlyList<ValidationError> Validate(SchemaManifest schema, IEnumerable<NbEntry> entries, Func<string, bool> ignoredTable) =>
            Validate(schema, entries.Select(e => (e, CheckScope.Whole)), ignoredTable);

        /// <summary>
        /// Validates <paramref name="entries"/> (the whole database), each as far as its scope says; tables for which
        /// <paramref name="ignoredTable"/> is true are not checked. References resolve against all of the entries.
        /// </summary>
        internal static IReadOnlyList<ValidationError> Validate(SchemaManifest schema, IEnumerable<(NbEntry Entry, CheckScope Scope)> entries, Func<string, bool> ignoredTable)
        {
            var checkedEntries = entries.Where(e => !ignoredTable(e.Entry.Key.Table)).ToList();
            return Validate(schema, checkedEntries, new EntryIndex(checkedEntries.Select(e => e.Entry).ToList()));
        }

        /// <summary>
        /// Validates <paramref name="entries"/>, each as far as its scope says; references resolve against <paramref name="index"/>.
        /// </summary>
        internal static IReadOnlyList<ValidationError> Validate(SchemaManifest schema, IEnumerable<(NbEntry Entry, CheckScope Scope)> entries, IObjectIndex index)
        {
            var v = new SchemaValidator(schema, index);
            var checkedEntries = entries.ToList();
            v.IndexEmbedded();
            // The objects are checked in parts on every core; the parts' errors, joined in order, are those a check in one pass
            // finds, and of parts that fail, the first one's exception is thrown, as one pass would throw it.
            var errors = new List<ValidationError>[(checkedEntries.Count + Part - 1) / Part];
            var failures = new Exception?[errors.Length];
            Parallel.For(0, errors.Length, p =>
            {
                var part = new SchemaValidator(v);
                try
                {
                    for (int i = p * Part, end = Math.Min(checkedEntries.Count, i + Part); i < end; i++)
                    {
                        var (e, scope) = checkedEntries[i];
                        if (!scope.IsNothing) part.Check(e, scope.Values);
                    }
                }
                catch (Exception e) { failures[p] = e; }
                errors[p] = part._errors;
            });
            if (failures.FirstOrDefault(f => f != null) is Exception failure) ExceptionDispatchInfo.Capture(failure).Throw();
            return errors.SelectMany(e => e).ToList();
        }

        // One object parsed at a time: a million parsed objects held together would take several
        // times the data's size. Of a member named twice, each value is checked; where one value
        // counts (the id, an embedded list), the last does, as Dragonflow's json.loads reads it.
        void Check(NbEntry e, ISet<string>? values)
        {
            object? value;
            bool asWritten;
            try { value = NbJson.ParseAllMembers(e.Value.Span, out asWritten, valuesOf: values); }
            catch (FormatException ex) { Fail(e.Key, null, ex.Message); return; }
            int before = _errors.Count;
            CheckObject(e.Key, value);
            if (_errors.Count == before || asWritten) return;
            // Messages quote a wrong value as stored: in text as NbJson writes it, that is what NbJson
            // writes for the value; other text is read again, noting where each value lies in it.
            _errors.RemoveRange(before, _errors.Count - before);
            _text = e.Value;
            _spans = new Dictionary<object, (int, int)>(SameObject.Instance);
            try { CheckObject(e.Key, NbJson.ParseAllMembers(e.Value.Span, out _, _spans, values)); }
            finally { _spans = null; }
        }

        // References into embedded lists ("lswitch.subnets") need the ids those lists hold: the
        // objects of the tables holding such lists are parsed for them first.
        void IndexEmbedded()
        {
            var wanted = _schema.Tables.Values.SelectMany(t => t.Model == null ? Enumerable.Empty<FieldSchema>() : t.Model.Fields.Values).Select(Innermost)
                .Where(f => f.Type == "reference").Select(f => f.EmbeddedIn).OfType<string>().Distinct().ToList();
            foreach (var path in wanted)
            {
                var parts = path.Split('.');
                var set = _embeddedIds[path] = new HashSet<string>(StringComparer.Ordinal);
                foreach (var e in _index.Entries(parts[0]))
                {
                    object? value;
                    try { value = NbJson.ParseAllMembers(e.Value.Span, out _); }
                    catch (FormatException) { continue; }   // reported when the object is checked
                    if (!(value is NbObject o) || !(Last(o, parts[1]) is List<object> list)) continue;
                    foreach (var item in list)
                        if (item is NbObject embedded && Last(embedded, "id") is string id)
                            set.Add(id);
                }
            }
        }

        // The value of the last member of that name; null when none.
        static object? Last(NbObject o, string name)
        {
            for (int k = o.Count - 1; k >= 0; k--)
                if (o.NameAt(k) == name) return o.ValueAt(k);
            return null;
        }

        static FieldSchema Innermost(FieldSchema f) => f.Items == null ? f : Innermost(f.Items);

        /// <summary>
        /// What <paramref name="fields"/> refer to in <paramref name="schema"/>, through embedded
        /// models too: the tables referred to, and the embedded lists ("lswitch.subnets") referred into.
        /// </summary>
        public static (IReadOnlyCollection<string> Tables, IReadOnlyCollection<string> EmbeddedIn) ReferencesOf(SchemaManifest schema, IEnumerable<FieldSchema> fields)
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
            foreach (var f in fields) Visit(f);
            return (tables, embeddedIn);
        }

        void Fail(NbKey key, string? field, string reason) => _errors.Add(new ValidationError(key.Table, key.Id, field, reason));

        void CheckObject(NbKey key, object? value)
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
            if (!(value is NbObject o))
            {
                Fail(key, null, $"must be a JSON object, not {Kind(value)}");
                return;
            }
            CheckModel(key, null, table.Model!, o);  // a table of objects, not bare values, has a model (SchemaManifest's reader)
            if (Last(o, "id") is string id && id != key.Id)
                Fail(key, "id", $"is '{id}' but the object is stored under id '{key.Id}'");
        }

        void CheckModel(NbKey key, string? prefix, ModelSchema model, NbObject value)
        {
            for (int k = 0; k < value.Count; k++)
            {
                string name = value.NameAt(k);
                string field = prefix == null ? name : prefix + "." + name;
                if (!model.Fields.TryGetValue(name, out var f))
                {
                    Fail(key, field, $"is not a field of {model.Name} in release {_schema.Release}");
                    continue;
                }
                if (value.ValueAt(k) is object member) { if (member != NbJson.Unread) CheckValue(key, field, f, member); }
                else if (f.Required) Fail(key, field, "is required but null");
            }
            foreach (var f in model.Fields)
                if (f.Value.Required && !value.ContainsKey(f.Key))
                    Fail(key, prefix == null ? f.Key : prefix + "." + f.Key, "is required but missing");
        }

        // The manifest's reader gives every enum its values, every list and dict its item type and
        // every embedded field its model (SchemaManifest.ReadField); hence the '!'s below.
        // Values are as NbJson reads them: integers long (BigInteger beyond), other numbers double.
        void CheckValue(NbKey key, string? field, FieldSchema f, object? v)
        {
            switch (f.Type)
            {
                case "string":
                    Expect(key, field, v, v is string, "a string");
                    break;
                case "int":
                    if (!(v is long)) Fail(key, field, $"must be an integer, not {Kind(v)} {Short(v)}");
                    break;
                case "float":
                case "timestamp":
                    Expect(key, field, v, IsNumber(v), "a number");
                    break;
                case "bool":
                    if (!(v is bool)) Fail(key, field, $"must be true or false, not {Kind(v)} {Short(v)}");
                    break;
                case "enum":
                    if (!Expect(key, field, v, v is string, "a string")) break;
                    var values = f.Values!;
                    if (!values.Contains((string)v!))
                        Fail(key, field, $"'{v}' is not one of {string.Join(", ", values)}");
                    break;
                case "ipaddress":
                    if (Expect(key, field, v, v is string, "an IP address") && !IsIp((string)v!))
                        Fail(key, field, $"'{v}' is not an IP address");
                    break;
                case "ipnetwork":
                    if (Expect(key, field, v, v is string, "an IP network") && !IsNetwork((string)v!))
                        Fail(key, field, $"'{v}' is not an IP network (address/prefix length)");
                    break;
                case "macaddress":
                    if (Expect(key, field, v, v is string, "a MAC address") && !Mac.IsMatch((string)v!))
                        Fail(key, field, $"'{v}' is not a MAC address");
                    break;
                case "portrange":
                    if (!(v is List<object> range && range.Count == 2 && range.All(x => x is long n && n >= int.MinValue && n <= int.MaxValue)))
                        Fail(key, field, $"must be a port range [min, max], not {Short(v)}");
                    break;
                case "list":
                    if (!Expect(key, field, v, v is List<object>, "a list")) break;
                    var items = (List<object>)v!;
                    for (int i = 0; i < items.Count; i++) CheckValue(key, $"{field}[{i}]", f.Items!, items[i]);
                    break;
                case "dict":
                    if (!Expect(key, field, v, v is NbObject, "an object")) break;
                    var dict = (NbObject)v!;
                    for (int k = 0; k < dict.Count; k++) CheckValue(key, $"{field}.{dict.NameAt(k)}", f.Items!, dict.ValueAt(k));
                    break;
                case "embedded":
                    if (!Expect(key, field, v, v is NbObject, "an object")) break;
                    CheckModel(key, field, _schema.Models[f.Model!], (NbObject)v!);
                    break;
                case "reference":
                    if (!Expect(key, field, v, v is string, "an id")) break;
                    string target = (string)v!;
                    if (f.Table != null)
                    {
                        if (!_index.Exists(f.Table, target))
                            Fail(key, field, $"refers to {f.Table}/{target}, which does not exist");
                    }
                    else if (!(_embeddedIds.TryGetValue(f.EmbeddedIn!, out var ids) && ids.Contains(target)))
                        Fail(key, field, $"refers to {f.Model} '{target}', which no {f.EmbeddedIn} holds");
                    break;
            }
        }

        bool Expect(NbKey key, string? field, object? v, bool fits, string what)
        {
            if (fits) return true;
            Fail(key, field, $"must be {what}, not {Kind(v)} {Short(v)}");
            return false;
        }

        static bool IsNumber(object? v) => v is long || v is double || v is BigInteger;

        static string Kind(object? v)
        {
            switch (v)
            {
                case null: return "null";
                case string _: return "a string";
                case bool _: return "a bool";
                case NbObject _: return "an object";
                case List<object> _: return "a list";
                default: return "a number";
            }
        }

        // A value as it is stored, cut to 40 characters.
        string Short(object? v)
        {
            string s = _spans != null && v != null && _spans.TryGetValue(v, out var at)
                ? NbJson.Utf8Text(_text.Span.Slice(at.Start, at.Length))
                : v is double d && (double.IsInfinity(d) || double.IsNaN(d)) ? "a number beyond a double's range"   // Format writes no infinity
                : NbJson.Utf8Text(NbJson.Format(v!));
            return s.Length > 40 ? s.Substring(0, 40) + "…" : s;
        }

        sealed class SameObject : IEqualityComparer<object>
        {
            public static readonly SameObject Instance = new SameObject();
            public new bool Equals(object? x, object? y) => ReferenceEquals(x, y);
            public int GetHashCode(object o) => RuntimeHelpers.GetHashCode(o);
        }

        static bool IsIp(string s) => (s.Contains(".") || s.Contains(":")) && IPAddress.TryParse(s, out _);

        static bool IsNetwork(string s)
        {
            int slash = s.IndexOf('/');
            if (slash < 0 || !IsIp(s.Substring(0, slash)) || !int.TryParse(s.Substring(slash + 1), out int len)) return false;
            return len >= 0 && len <= (s.Contains(":") ? 128 : 32);
        }
    }

    /// <summary>The objects of a list, as an <see cref="IObjectIndex"/>.</summary>
    sealed class EntryIndex : IObjectIndex
    {
        readonly List<NbEntry> _entries;
        readonly Dictionary<string, HashSet<string>> _ids = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);

        public EntryIndex(List<NbEntry> entries)
        {
            _entries = entries;
            foreach (var e in entries)
            {
                if (!_ids.TryGetValue(e.Key.Table, out var ids)) _ids[e.Key.Table] = ids = new HashSet<string>(StringComparer.Ordinal);
                ids.Add(e.Key.Id);
            }
        }

        public bool Exists(string table, string id) => _ids.TryGetValue(table, out var ids) && ids.Contains(id);

        public IEnumerable<NbEntry> Entries(string table) => _entries.Where(e => e.Key.Table == table);
    }
}
