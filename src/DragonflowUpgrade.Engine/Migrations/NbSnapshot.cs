using System;
using System.Runtime.CompilerServices;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>
    /// The in-memory copy of an NB database that migrations act on. It keeps each object's
    /// stored bytes and, once changed, its new bytes; <see cref="Diff"/> gives only the
    /// objects whose data really changed.
    /// </summary>
    public sealed class NbSnapshot : INbApi
    {
        sealed class Slot
        {
            public NbKey? OriginalKey;
            public byte[] Original;
            public NbKey? CurrentKey;   // null: deleted
            public byte[] Current;
        }

        readonly Dictionary<string, Dictionary<string, Slot>> _tables = new Dictionary<string, Dictionary<string, Slot>>(StringComparer.Ordinal);

        /// <summary>The object a migration touched last, for error messages: "lport/1234".</summary>
        public string LastObject { get; private set; }

        public int Count { get; private set; }

        /// <summary>Reads the whole database, batch by batch.</summary>
        public static NbSnapshot Load(INbStore store, IProgress<int> progress = null)
        {
            var snapshot = new NbSnapshot();
            int n = 0;
            foreach (var e in store.Read())
            {
                if (ModuleTables.IsModuleTable(e.Key.Table)) continue;
                snapshot.AddOriginal(e);
                if (++n % 10000 == 0) progress?.Report(n);
            }
            progress?.Report(n);
            return snapshot;
        }

        [MethodImpl(Hot.Optimize)]
        public void AddOriginal(NbEntry e)
        {
            var table = TableOf(e.Key.Table, create: true);
            if (table.TryGetValue(e.Key.Id, out var existing))
                throw new NbStoreException($"{e.Key.Table}/{e.Key.Id} is stored twice, under topics '{existing.OriginalKey?.Topic}' and '{e.Key.Topic}'. Dragonflow cannot tell them apart; delete the stale one first.");
            table.Add(e.Key.Id, new Slot { OriginalKey = e.Key, Original = e.Value, CurrentKey = e.Key, Current = e.Value });
            Count++;
        }

        Dictionary<string, Slot> TableOf(string table, bool create)
        {
            if (string.IsNullOrEmpty(table)) throw new ArgumentException("A table name is needed.");
            if (!_tables.TryGetValue(table, out var t) && create)
                _tables.Add(table, t = new Dictionary<string, Slot>(StringComparer.Ordinal));
            return t;
        }

        public IReadOnlyCollection<string> Tables =>
            _tables.Where(t => t.Value.Values.Any(s => s.CurrentKey.HasValue)).Select(t => t.Key).OrderBy(t => t, StringComparer.Ordinal).ToList();

        readonly List<string> _warnings = new List<string>();

        /// <summary>What migrations said the operator must know, in order.</summary>
        public IReadOnlyList<string> Warnings => _warnings;

        public void Warn(string message) => _warnings.Add(message);

        /// <summary>Every live object of every table.</summary>
        public IEnumerable<NbEntry> AllEntries() =>
            _tables.Keys.OrderBy(t => t, StringComparer.Ordinal).ToList().SelectMany(Entries);

        /// <summary>The current stored text of every live object of a table, in id order.</summary>
        public IEnumerable<NbEntry> Entries(string table)
        {
            var t = TableOf(table, create: false);
            if (t == null) yield break;
            foreach (var id in t.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList())
            {
                var slot = t[id];
                if (slot.CurrentKey.HasValue) yield return new NbEntry(slot.CurrentKey.Value, slot.Current);
            }
        }

        public IEnumerable<JsonObject> GetAll(string table)
        {
            // The table as it is now, like nb_api's get_all.
            foreach (var e in Entries(table).ToList())
            {
                LastObject = $"{table}/{e.Key.Id}";
                yield return ParseObject(e);
            }
        }

        public JsonObject Get(string table, string id)
        {
            var t = TableOf(table, create: false);
            LastObject = $"{table}/{id}";
            if (t == null || id == null || !t.TryGetValue(id, out var slot) || !slot.CurrentKey.HasValue) return null;
            return ParseObject(new NbEntry(slot.CurrentKey.Value, slot.Current));
        }

        [MethodImpl(Hot.Optimize)]
        static JsonObject ParseObject(NbEntry e)
        {
            JsonNode node;
            try { node = NbJson.Parse(e.Value); }
            catch (FormatException ex) { throw new FormatException($"{e.Key} is {ex.Message}", ex); }
            return node as JsonObject ?? throw new InvalidOperationException(
                $"{e.Key} holds {node?.GetValueKind().ToString().ToLowerInvariant() ?? "null"}, not an object; table '{e.Key.Table}' cannot be read as objects.");
        }

        public void Create(string table, JsonObject obj)
        {
            string id = IdOf(table, obj);
            LastObject = $"{table}/{id}";
            var t = TableOf(table, create: true);
            if (t.TryGetValue(id, out var slot) && slot.CurrentKey.HasValue)
                throw new InvalidOperationException($"Cannot create {table}/{id}: it already exists.");
            if (slot == null) t.Add(id, slot = new Slot());
            slot.CurrentKey = new NbKey(table, TopicOf(obj), id);
            slot.Current = NbJson.Serialize(obj);
        }

        [MethodImpl(Hot.Optimize)]
        public void Update(string table, JsonObject obj)
        {
            string id = IdOf(table, obj);
            LastObject = $"{table}/{id}";
            var t = TableOf(table, create: false);
            if (t == null || !t.TryGetValue(id, out var slot) || !slot.CurrentKey.HasValue)
                throw new InvalidOperationException($"Cannot update {table}/{id}: it does not exist.");
            slot.CurrentKey = new NbKey(table, TopicOf(obj), id);
            slot.Current = NbJson.Serialize(obj);
        }

        /// <summary>Replaces an object's stored text directly (for values that are not objects, such as counters).</summary>
        public void Put(NbEntry e)
        {
            var t = TableOf(e.Key.Table, create: true);
            if (!t.TryGetValue(e.Key.Id, out var slot)) t.Add(e.Key.Id, slot = new Slot());
            slot.CurrentKey = e.Key;
            slot.Current = e.Value;
        }

        public void Delete(string table, string id)
        {
            LastObject = $"{table}/{id}";
            var t = TableOf(table, create: false);
            if (t == null || !t.TryGetValue(id, out var slot) || !slot.CurrentKey.HasValue)
                throw new InvalidOperationException($"Cannot delete {table}/{id}: it does not exist.");
            slot.CurrentKey = null;
            slot.Current = null;
        }

        static string IdOf(string table, JsonObject obj)
        {
            if (obj == null) throw new ArgumentNullException(nameof(obj), $"No object given for table '{table}'.");
            var id = obj["id"];
            if (id is JsonValue v && v.TryGetValue(out string s) && s.Length > 0) return s;
            throw new InvalidOperationException($"An object for table '{table}' needs a non-empty string 'id'.");
        }

        static string TopicOf(JsonObject obj) =>
            obj["topic"] is JsonValue v && v.TryGetValue(out string s) && s.Length > 0 ? s : null;

        /// <summary>
        /// The puts and deletes that turn the stored database into this snapshot, by table and
        /// id. An object rewritten with the same data is not a change.
        /// </summary>
        public IReadOnlyList<NbEntry> Diff()
        {
            // Comparing data is the costly part of a diff, and each comparison stands alone:
            // spread them over the cores. A rewrite with the same data falls back to the stored bytes.
            var rewritten = _tables.Values.SelectMany(t => t.Values)
                .Where(s => s.CurrentKey.HasValue && s.OriginalKey.HasValue && s.OriginalKey.Value.Equals(s.CurrentKey.Value) && !ReferenceEquals(s.Original, s.Current))
                .ToArray();
            System.Threading.Tasks.Parallel.ForEach(rewritten, s => { if (NbJson.SameData(s.Original, s.Current)) s.Current = s.Original; });

            var changes = new List<NbEntry>();
            foreach (var table in _tables.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                foreach (var pair in table.Value.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    var s = pair.Value;
                    if (!s.CurrentKey.HasValue)
                    {
                        if (s.OriginalKey.HasValue) changes.Add(NbEntry.Delete(s.OriginalKey.Value));
                    }
                    else if (!s.OriginalKey.HasValue)
                        changes.Add(new NbEntry(s.CurrentKey.Value, s.Current));
                    else if (!s.OriginalKey.Value.Equals(s.CurrentKey.Value))
                    {
                        changes.Add(NbEntry.Delete(s.OriginalKey.Value));
                        changes.Add(new NbEntry(s.CurrentKey.Value, s.Current));
                    }
                    else if (!ReferenceEquals(s.Original, s.Current))
                        changes.Add(new NbEntry(s.CurrentKey.Value, s.Current));
                }
            }
            return changes;
        }

        /// <summary>Every object as it was read, before any migration.</summary>
        public IEnumerable<NbEntry> Originals() =>
            _tables.Values.SelectMany(t => t.Values).Where(s => s.OriginalKey.HasValue).Select(s => new NbEntry(s.OriginalKey.Value, s.Original));

        /// <summary>Whether the stored database had this key (to tell creates from updates).</summary>
        public bool HadOriginally(NbKey key) =>
            _tables.TryGetValue(key.Table, out var t) && t.TryGetValue(key.Id, out var s) && s.OriginalKey.HasValue && s.OriginalKey.Value.Equals(key);
    }
}
