using System;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Errors;
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
            public ReadOnlyMemory<byte> Original;
            public NbKey? CurrentKey;   // null: deleted
            public ReadOnlyMemory<byte> Current;
            public bool Changed;        // false: the current bytes are the original's (or, deleted, none)
            public Form OriginalForm;

            public ReadOnlyMemory<byte> Bytes => Changed ? Current : Original;
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
                if (_inIdOrder != null && _inIdOrder.Length == Slots.Count) return _inIdOrder;  // slots are only ever added
                var ids = new string[Slots.Count];
                var slots = new int[Slots.Count];
                Slots.Keys.CopyTo(ids, 0);
                Slots.Values.CopyTo(slots, 0);
                Array.Sort(ids, slots, StringComparer.Ordinal);
                return _inIdOrder = slots;
            }

            int[] _inIdOrder;
        }

        // The bytes of the objects the run changes, kept to its end like those it read.
        readonly ByteArena _written = new ByteArena();
        readonly Dictionary<string, Table> _tables = new Dictionary<string, Table>(StringComparer.Ordinal);
        // Slots in fixed-size chunks: growing never copies the slots already there.
        const int ChunkBits = 10;
        readonly List<Slot[]> _chunks = new List<Slot[]>();
        int _slotCount;
        string _lastTable, _lastId;
        int _lastRead = -1;  // the slot of the object handed out last

        /// <summary>The object a migration touched last, for error messages: "lport/1234".</summary>
        public string LastObject => _lastTable == null ? null : _lastTable + "/" + _lastId;

        public int Count { get; private set; }

        /// <summary>Reads the whole database, batch by batch.</summary>
        public static NbSnapshot Load(INbStore store, IProgress<int> progress = null)
        {
            var snapshot = new NbSnapshot();
            int n = 0;
            foreach (var e in StoredValue.Checked(store))
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
                if (At(existing).OriginalKey is NbKey seen && seen.Equals(e.Key) && At(existing).Original.Span.SequenceEqual(e.Value.Span)) return;
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
            // The object read last is the one most often written next, in a pass over a table: no lookup for it.
            if (_lastRead >= 0 && At(_lastRead).CurrentKey is NbKey last && last.Id == id && last.Table == table) return _lastRead;
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
            Live(table).Select(x => new NbEntry(x.Key, x.Bytes));

        // The live objects of a table as they are now, in id order.
        (int Index, NbKey Key, ReadOnlyMemory<byte> Bytes, bool Changed)[] Live(string table)
        {
            var t = TableOf(table, create: false);
            if (t == null) return Array.Empty<(int, NbKey, ReadOnlyMemory<byte>, bool)>();
            var order = t.InIdOrder();
            var live = new List<(int, NbKey, ReadOnlyMemory<byte>, bool)>(order.Length);
            foreach (int i in order)
            {
                ref Slot s = ref At(i);
                if (s.CurrentKey.HasValue) live.Add((i, s.CurrentKey.Value, s.Bytes, s.Changed));
            }
            return live.ToArray();
        }

        static NbEntry CurrentEntry(Slot s) => new NbEntry(s.CurrentKey.Value, s.Bytes);

        public IEnumerable<NbObject> GetAll(string table)
        {
            // The table as it is now, like nb_api's get_all.
            var live = Live(table);
            using (var ahead = live.Length >= 2 * ParseAhead.BatchSize && Environment.ProcessorCount > 1 ? new ParseAhead(live, ParsingPatience) : null)
                for (int i = 0; i < live.Length; i++)
                {
                    var (index, key, bytes, changed) = live[i];
                    _lastTable = table;
                    _lastId = key.Id;
                    yield return Accept(index, key, changed, ahead != null ? ahead.Take(i) : Parse(key, bytes));
                }
        }

        public NbObject Get(string table, string id)
        {
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            return i < 0 ? null : Accept(i, At(i).CurrentKey.Value, At(i).Changed, Parse(At(i).CurrentKey.Value, At(i).Bytes));
        }

        // A pass over a table parses every object and mostly drops it. Where the processor reports
        // a large cache, the collector lets hundreds of MB of such garbage pile up before its first
        // collection; collecting the youngest generation every so many objects keeps a run's memory
        // near what it holds, at little cost, since little of what was parsed survives.
        const int ParsesPerCollection = 16384;
        int _parsed;

        // What parsing an object's bytes gave: its value and whether the text is as written, or the error.
        struct Parsed
        {
            public object Value;
            public bool AsWritten;
            public Exception Error;
        }

        // Touches nothing of the snapshot's: it may run on another thread.
        [MethodImpl(Hot.Optimize)]
        static Parsed Parse(NbKey key, ReadOnlyMemory<byte> bytes)
        {
            var parsed = new Parsed();
            try { parsed.Value = NbJson.Parse(bytes.Span, out parsed.AsWritten); }
            catch (FormatException ex) { parsed.Error = new FormatException($"{key} is {ex.Message}", ex); }
            catch (Exception ex) { parsed.Error = ex; }  // thrown where the object is taken
            return parsed;
        }

        // The object a migration is handed, once parsed.
        [MethodImpl(Hot.Optimize)]
        NbObject Accept(int index, NbKey key, bool changed, Parsed parsed)
        {
            if (++_parsed % ParsesPerCollection == 0) GC.Collect(0);
            _lastRead = index;
            if (parsed.Error != null) ExceptionDispatchInfo.Capture(parsed.Error).Throw();
            if (!changed) At(index).OriginalForm = parsed.AsWritten ? Form.AsWritten : Form.Other;
            return parsed.Value as NbObject ?? throw new InvalidOperationException(
                $"{key} holds {NbJson.KindOf(parsed.Value)}, not an object; table '{key.Table}' cannot be read as objects.");
        }

        // How long the parsing thread waits for the migration to take more before it leaves the
        // rest to the migration's thread; a pass left without being disposed ends it too.
        // Per snapshot, so that a test that shortens it changes no other snapshot.
        internal TimeSpan ParsingPatience { get; set; } = TimeSpan.FromSeconds(10);

        // Parses a table's objects on another thread, a few batches ahead of the migration going
        // through them: parsing is half of a pass's work, and the second processor is idle then.
        // When the next batch is not ready, the migration's thread parses one too, rather than wait.
        sealed class ParseAhead : IDisposable
        {
            public const int BatchSize = 256;
            const int BatchesAhead = 8;
            readonly (int Index, NbKey Key, ReadOnlyMemory<byte> Bytes, bool Changed)[] _live;
            readonly Parsed[] _parsed;
            readonly bool[] _done;  // by batch; set under the gate
            readonly int _batches;
            readonly object _gate = new object();
            readonly Task _worker;
            readonly TimeSpan _patience;
            int _claimed;  // batches claimed by either thread, in order
            int _taking;   // the batch the migration is on
            bool _stop;

            public ParseAhead((int, NbKey, ReadOnlyMemory<byte>, bool)[] live, TimeSpan patience)
            {
                _live = live;
                _patience = patience;
                _parsed = new Parsed[live.Length];
                _batches = (live.Length + BatchSize - 1) / BatchSize;
                _done = new bool[_batches];
                _worker = Task.Run(Work);
            }

            void Work()
            {
                while (true)
                {
                    int batch;
                    lock (_gate)
                    {
                        while (!_stop && _claimed < _batches && _claimed - _taking >= BatchesAhead)
                            if (!Monitor.Wait(_gate, _patience)) return;
                        if (_stop || _claimed == _batches) return;
                        batch = _claimed++;
                    }
                    Parse(batch);
                }
            }

            void Parse(int batch)
            {
                int end = Math.Min((batch + 1) * BatchSize, _live.Length);
                try
                {
                    for (int i = batch * BatchSize; i < end; i++) _parsed[i] = NbSnapshot.Parse(_live[i].Key, _live[i].Bytes);
                }
                finally
                {
                    lock (_gate)
                    {
                        _done[batch] = true;
                        Monitor.PulseAll(_gate);
                    }
                }
            }

            /// <summary>The <paramref name="i"/>th object, parsed; objects are taken in order.</summary>
            public Parsed Take(int i)
            {
                int batch = i / BatchSize;
                if (i % BatchSize == 0)
                    lock (_gate)
                    {
                        _taking = batch;
                        Monitor.PulseAll(_gate);
                    }
                while (!Volatile.Read(ref _done[batch]))
                {
                    int next;
                    lock (_gate)
                    {
                        if (_done[batch]) break;
                        if (_claimed == _batches || _claimed - batch >= BatchesAhead)
                        {
                            Monitor.Wait(_gate);
                            continue;
                        }
                        next = _claimed++;
                    }
                    Parse(next);
                }
                var parsed = _parsed[i];
                _parsed[i] = default;  // the migration has it now
                return parsed;
            }

            public void Dispose()
            {
                lock (_gate)
                {
                    _stop = true;
                    Monitor.PulseAll(_gate);
                }
                _worker.Wait();
            }
        }

        /// <summary>Error id: a migration wrote the migration log or one of the module's own tables.</summary>
        public const string ModuleTableWrittenId = "MigrationWritesModuleTable";

        // The log says which migrations ran and the module's tables hold its lock and journal: a
        // migration that wrote them could make itself pending again or break a commit. It may read them.
        static void RequireWritable(string table, NbObject obj)
        {
            if (IsReadOnly(table)) throw ModuleTableWritten(table, obj?["id"] as string);
        }

        static void RequireWritable(string table, string id)
        {
            if (IsReadOnly(table)) throw ModuleTableWritten(table, id);
        }

        static bool IsReadOnly(string table) => table == MigrationLog.Table || (table != null && ModuleTables.IsModuleTable(table));

        static DfException ModuleTableWritten(string table, string id) =>
            new DfException(ModuleTableWrittenId, DfErrorCategory.InvalidOperation,
                $"it writes {table}/{id}, but table '{table}' holds the module's own records, which migrations may read but never write.",
                $"{table}/{id}", "Change the migration to leave that table alone: the module writes the migration log itself.");

        public void Create(string table, NbObject obj)
        {
            RequireWritable(table, obj);
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
            RequireWritable(table, obj);
            string id = IdOf(table, obj);
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0) throw new InvalidOperationException($"Cannot update {table}/{id}: it does not exist.");
            ref Slot s = ref At(i);
            var key = s.CurrentKey.Value;
            // Keep the key's strings when they are unchanged: the object's own copies would outlive it for nothing.
            string topic = TopicOf(obj);
            // The key moves only when the migration changed the object's topic: some objects (a
            // listener's) have a topic in their key and none in their value.
            if (topic != key.Topic && topic == StoredTopicOf(s.Bytes)) topic = key.Topic;
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
                (text.SequenceEqual(s.Original.Span) || (s.OriginalForm != Form.AsWritten && NbJson.SameData(s.Original.Span, text)));
            s.Changed = !same;
            s.Current = same ? default : _written.Copy(text);
        }

        public void Delete(string table, string id)
        {
            RequireWritable(table, id);
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0) throw new InvalidOperationException($"Cannot delete {table}/{id}: it does not exist.");
            At(i).CurrentKey = null;
            At(i).Current = default;
            At(i).Changed = false;
        }

        static string IdOf(string table, NbObject obj)
        {
            if (obj == null) throw new ArgumentNullException(nameof(obj), $"No object given for table '{table}'.");
            if (obj["id"] is string id && id.Length > 0) return id;
            throw new InvalidOperationException($"An object for table '{table}' needs a non-empty string 'id'.");
        }

        static string StoredTopicOf(ReadOnlyMemory<byte> bytes)
        {
            string topic = NbJson.TopicOf(bytes.Span);
            return string.IsNullOrEmpty(topic) ? null : topic;
        }

        static string TopicOf(NbObject obj) => obj["topic"] is string topic && topic.Length > 0 ? topic : null;

        /// <summary>
        /// The puts and deletes that turn the stored database into this snapshot, by table and
        /// id. An object rewritten with the same data is not a change.
        /// </summary>
        public IReadOnlyList<NbEntry> Diff() => Diff(new Dictionary<string, TableChanges>());

        /// <summary><see cref="Diff()"/>, counting each table's creates, updates and deletes into <paramref name="counts"/>; an object moved to another topic is an update.</summary>
        public IReadOnlyList<NbEntry> Diff(Dictionary<string, TableChanges> counts)
        {
            var changes = new List<NbEntry>();
            foreach (var table in _tables.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                var c = new TableChanges(table.Name);
                foreach (int i in table.InIdOrder())
                {
                    var s = At(i);
                    if (!s.CurrentKey.HasValue)
                    {
                        if (!s.OriginalKey.HasValue) continue;
                        changes.Add(NbEntry.Delete(s.OriginalKey.Value));
                        c.Deletes++;
                    }
                    else if (!s.OriginalKey.HasValue)
                    {
                        changes.Add(CurrentEntry(s));
                        c.Creates++;
                    }
                    else if (!s.OriginalKey.Value.Equals(s.CurrentKey.Value))
                    {
                        changes.Add(NbEntry.Delete(s.OriginalKey.Value));
                        changes.Add(CurrentEntry(s));
                        c.Updates++;
                    }
                    else if (s.Changed)
                    {
                        changes.Add(CurrentEntry(s));
                        c.Updates++;
                    }
                }
                if (c.Creates + c.Updates + c.Deletes > 0) counts[table.Name] = c;
            }
            return changes;
        }

        /// <summary>What the database held at <paramref name="key"/> when it was read; null when the key was absent.</summary>
        public ReadOnlyMemory<byte>? OriginalAt(NbKey key)
        {
            var t = TableOf(key.Table, create: false);
            if (t != null && t.Slots.TryGetValue(key.Id, out int i) && At(i).OriginalKey is NbKey read && read.Equals(key)) return At(i).Original;
            return null;
        }

        /// <summary>Every object as it was read, before any migration.</summary>
        public IEnumerable<NbEntry> Originals()
        {
            for (int i = 0; i < _slotCount; i++)
                if (At(i).OriginalKey.HasValue) yield return new NbEntry(At(i).OriginalKey.Value, At(i).Original);
        }
    }
}
