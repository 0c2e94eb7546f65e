using System;
using System.Runtime.CompilerServices;
using System.Collections.Generic;
using System.Linq;
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
        // One slot per object ever seen, found by table and id.
        struct Slot
        {
            public NbKey? OriginalKey;  // null: created by the run
            public byte[] Original;
            public NbKey? CurrentKey;   // null: deleted
            public byte[] Current;      // null: the original (or, deleted, nothing)
            public Form OriginalForm;
        }

        // Whether the original is exactly what NbJson writes for its data, as what Dragonflow
        // wrote always is: then a rewrite that comes out different changed the data.
        enum Form : byte { NotRead, AsWritten, Other }

        sealed class Table
        {
            public Table(string name) { Name = name; }
            public readonly string Name;
            public readonly Dictionary<string, int> Slots = new Dictionary<string, int>(StringComparer.Ordinal);

            /// <summary>The table's slots in id order.</summary>
            public int[] InIdOrder()
            {
                var ids = new string[Slots.Count];
                var slots = new int[Slots.Count];
                Slots.Keys.CopyTo(ids, 0);
                Slots.Values.CopyTo(slots, 0);
                Array.Sort(ids, slots, StringComparer.Ordinal);
                return slots;
            }
        }

        readonly Dictionary<string, Table> _tables = new Dictionary<string, Table>(StringComparer.Ordinal);
        // Slots in fixed-size chunks: growing never copies the slots already there.
        const int ChunkBits = 10;
        readonly List<Slot[]> _chunks = new List<Slot[]>();
        int _slotCount;
        string _lastTable, _lastId;

        /// <summary>The object a migration touched last, for error messages: "lport/1234".</summary>
        public string LastObject => _lastTable == null ? null : _lastTable + "/" + _lastId;

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
            if (table.Slots.TryGetValue(e.Key.Id, out int existing))
            {
                // The same key with the same bytes is one object read twice, as Redis's SCAN may
                // return a key twice while it resizes its key table; with other bytes it is an error.
                if (At(existing).OriginalKey is NbKey seen && seen.Equals(e.Key) && At(existing).Original.AsSpan().SequenceEqual(e.Value)) return;
                throw new NbStoreException($"{e.Key.Table}/{e.Key.Id} is stored twice, under topics '{At(existing).OriginalKey?.Topic}' and '{e.Key.Topic}'. Dragonflow cannot tell them apart; delete the stale one first.");
            }
            table.Slots.Add(e.Key.Id, NewSlot(new Slot { OriginalKey = e.Key, Original = e.Value, CurrentKey = e.Key }));
            Count++;
        }

        ref Slot At(int i) => ref _chunks[i >> ChunkBits][i & ((1 << ChunkBits) - 1)];

        int NewSlot(Slot slot)
        {
            if (_slotCount == _chunks.Count << ChunkBits) _chunks.Add(new Slot[1 << ChunkBits]);
            At(_slotCount) = slot;
            return _slotCount++;
        }

        Table TableOf(string table, bool create)
        {
            if (string.IsNullOrEmpty(table)) throw new ArgumentException("A table name is needed.");
            if (!_tables.TryGetValue(table, out var t) && create)
                _tables.Add(table, t = new Table(table));
            return t;
        }

        /// <summary>The live object of <paramref name="table"/> with <paramref name="id"/>, or -1.</summary>
        int Find(string table, string id)
        {
            var t = TableOf(table, create: false);
            return t != null && id != null && t.Slots.TryGetValue(id, out int i) && At(i).CurrentKey.HasValue ? i : -1;
        }

        public IReadOnlyCollection<string> Tables =>
            _tables.Values.Where(t => t.Slots.Values.Any(i => At(i).CurrentKey.HasValue)).Select(t => t.Name).OrderBy(t => t, StringComparer.Ordinal).ToList();

        readonly List<string> _warnings = new List<string>();

        /// <summary>What migrations said the operator must know, in order.</summary>
        public IReadOnlyList<string> Warnings => _warnings;

        public void Warn(string message) => _warnings.Add(message);

        /// <summary>Every live object of every table.</summary>
        public IEnumerable<NbEntry> AllEntries() =>
            _tables.Keys.OrderBy(t => t, StringComparer.Ordinal).ToList().SelectMany(Entries);

        /// <summary>The current stored text of every live object of a table, in id order.</summary>
        public IEnumerable<NbEntry> Entries(string table) =>
            Live(table).Select(x => new NbEntry(x.Key, x.Current ?? At(x.Index).Original));

        // The live objects of a table as they are now, in id order.
        (int Index, NbKey Key, byte[] Current)[] Live(string table)
        {
            var t = TableOf(table, create: false);
            if (t == null) return Array.Empty<(int, NbKey, byte[])>();
            return t.InIdOrder().Where(i => At(i).CurrentKey.HasValue).Select(i => (i, At(i).CurrentKey.Value, At(i).Current)).ToArray();
        }

        static NbEntry CurrentEntry(Slot s) => new NbEntry(s.CurrentKey.Value, s.Current ?? s.Original);

        public IEnumerable<NbObject> GetAll(string table)
        {
            // The table as it is now, like nb_api's get_all.
            foreach (var (index, key, current) in Live(table))
            {
                _lastTable = table;
                _lastId = key.Id;
                yield return Read(index, key, current);
            }
        }

        public NbObject Get(string table, string id)
        {
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            return i < 0 ? null : Read(i, At(i).CurrentKey.Value, At(i).Current);
        }

        [MethodImpl(Hot.Optimize)]
        NbObject Read(int index, NbKey key, byte[] current)
        {
            ref Slot s = ref At(index);
            object parsed;
            bool asWritten;
            try { parsed = NbJson.Parse(current ?? s.Original, out asWritten); }
            catch (FormatException ex) { throw new FormatException($"{key} is {ex.Message}", ex); }
            if (current == null) s.OriginalForm = asWritten ? Form.AsWritten : Form.Other;
            return parsed as NbObject ?? throw new InvalidOperationException(
                $"{key} holds {NbJson.KindOf(parsed)}, not an object; table '{key.Table}' cannot be read as objects.");
        }

        public void Create(string table, NbObject obj)
        {
            string id = IdOf(table, obj);
            _lastTable = table;
            _lastId = id;
            var t = TableOf(table, create: true);
            bool known = t.Slots.TryGetValue(id, out int i);
            if (known && At(i).CurrentKey.HasValue)
                throw new InvalidOperationException($"Cannot create {table}/{id}: it already exists.");
            if (!known) t.Slots.Add(id, i = NewSlot(new Slot()));
            SetCurrent(ref At(i), new NbKey(t.Name, TopicOf(obj), id), obj);
        }

        [MethodImpl(Hot.Optimize)]
        public void Update(string table, NbObject obj)
        {
            string id = IdOf(table, obj);
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0) throw new InvalidOperationException($"Cannot update {table}/{id}: it does not exist.");
            ref Slot s = ref At(i);
            var key = s.CurrentKey.Value;
            // Keep the key's strings when they are unchanged: the object's own copies would outlive it for nothing.
            string topic = TopicOf(obj);
            SetCurrent(ref s, new NbKey(key.Table, topic == key.Topic ? key.Topic : topic, key.Id), obj);
        }

        // An object written back with the data it was read with keeps its stored bytes: it is no
        // change. (Against an original as NbJson writes it, other bytes are other data; that
        // counts a whole number turned into a float, 1 into 1.0, as a change, which it is to Dragonflow.)
        [MethodImpl(Hot.Optimize)]
        void SetCurrent(ref Slot s, NbKey key, NbObject obj)
        {
            var text = NbJson.Format(obj);
            s.CurrentKey = key;
            bool same = s.OriginalKey.HasValue && s.OriginalKey.Value.Equals(key) &&
                (text.SequenceEqual(s.Original) || (s.OriginalForm != Form.AsWritten && NbJson.SameData(s.Original, text)));
            s.Current = same ? null : text.ToArray();
        }

        public void Delete(string table, string id)
        {
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0) throw new InvalidOperationException($"Cannot delete {table}/{id}: it does not exist.");
            At(i).CurrentKey = null;
            At(i).Current = null;
        }

        static string IdOf(string table, NbObject obj)
        {
            if (obj == null) throw new ArgumentNullException(nameof(obj), $"No object given for table '{table}'.");
            if (obj["id"] is string id && id.Length > 0) return id;
            throw new InvalidOperationException($"An object for table '{table}' needs a non-empty string 'id'.");
        }

        static string TopicOf(NbObject obj) => obj["topic"] is string topic && topic.Length > 0 ? topic : null;

        /// <summary>
        /// The puts and deletes that turn the stored database into this snapshot, by table and
        /// id. An object rewritten with the same data is not a change.
        /// </summary>
        public IReadOnlyList<NbEntry> Diff()
        {
            var changes = new List<NbEntry>();
            foreach (var table in _tables.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                foreach (int i in table.InIdOrder())
                {
                    var s = At(i);
                    if (!s.CurrentKey.HasValue)
                    {
                        if (s.OriginalKey.HasValue) changes.Add(NbEntry.Delete(s.OriginalKey.Value));
                    }
                    else if (!s.OriginalKey.HasValue)
                        changes.Add(CurrentEntry(s));
                    else if (!s.OriginalKey.Value.Equals(s.CurrentKey.Value))
                    {
                        changes.Add(NbEntry.Delete(s.OriginalKey.Value));
                        changes.Add(CurrentEntry(s));
                    }
                    else if (s.Current != null)
                        changes.Add(CurrentEntry(s));
                }
            }
            return changes;
        }

        /// <summary>Every object as it was read, before any migration.</summary>
        public IEnumerable<NbEntry> Originals()
        {
            for (int i = 0; i < _slotCount; i++)
                if (At(i).OriginalKey.HasValue) yield return new NbEntry(At(i).OriginalKey.Value, At(i).Original);
        }

        /// <summary>Whether the stored database had this key (to tell creates from updates).</summary>
        public bool HadOriginally(NbKey key) =>
            _tables.TryGetValue(key.Table, out var t) && t.Slots.TryGetValue(key.Id, out int i) && At(i).OriginalKey.HasValue && At(i).OriginalKey.Value.Equals(key);
    }
}
