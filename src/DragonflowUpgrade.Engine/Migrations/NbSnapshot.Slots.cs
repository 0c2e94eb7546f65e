using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Migrations
{
    // The slots: one per object ever seen, holding its stored bytes and, once changed, its new ones.
    public sealed partial class NbSnapshot
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
            // The form of the bytes when they are the original and were checked as an object before, else NotRead.
            public Form Checked => Changed ? Form.NotRead : OriginalForm;
        }

        // Whether the original is exactly what NbJson writes for its data, as what Dragonflow
        // wrote always is: then a rewrite that comes out different changed the data. Known once
        // the original has been checked as an object.
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

            int[]? _inIdOrder;
        }

        // The bytes of the objects the run changes, kept to its end like those it read.
        readonly ByteArena _written = new ByteArena();
        readonly Dictionary<string, Table> _tables = new Dictionary<string, Table>(StringComparer.Ordinal);
        // Slots in fixed-size chunks: growing never copies the slots already there.
        const int ChunkBits = 10;
        readonly List<Slot[]> _chunks = new List<Slot[]>();
        int _slotCount;
        string? _lastTable, _lastId;
        int _lastRead = -1;  // the slot of the object handed out last
        [MethodImpl(Hot.Optimize)]
        public void AddOriginal(NbEntry e)
        {
            var table = TableOf(e.Key.Table);
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

        // The table, added when it is new.
        Table TableOf(string table)
        {
            var t = ExistingTable(table);
            if (t == null) _tables.Add(table, t = new Table(table));
            return t;
        }

        // The table, or null when it has never had an object.
        Table? ExistingTable(string table)
        {
            if (string.IsNullOrEmpty(table)) throw new ArgumentException("A table name is needed.");
            return _tables.TryGetValue(table, out var t) ? t : null;
        }

        /// <summary>The live object of <paramref name="table"/> with <paramref name="id"/>, or -1.</summary>
        int Find(string table, string id)
        {
            // The object read last is the one most often written next, in a pass over a table: no lookup for it.
            if (_lastRead >= 0 && At(_lastRead).CurrentKey is NbKey last && last.Id == id && last.Table == table) return _lastRead;
            var t = ExistingTable(table);
            return t != null && id != null && t.Slots.TryGetValue(id, out int i) && At(i).CurrentKey.HasValue ? i : -1;
        }
        // The live objects of a table as they are now, in id order.
        (int Index, NbKey Key, ReadOnlyMemory<byte> Bytes, bool Changed, Form Checked)[] Live(string table)
        {
            var t = ExistingTable(table);
            if (t == null) return Array.Empty<(int, NbKey, ReadOnlyMemory<byte>, bool, Form)>();
            var order = t.InIdOrder();
            var live = new List<(int, NbKey, ReadOnlyMemory<byte>, bool, Form)>(order.Length);
            foreach (int i in order)
            {
                ref Slot s = ref At(i);
                if (s.CurrentKey.HasValue) live.Add((i, s.CurrentKey.Value, s.Bytes, s.Changed, s.Checked));
            }
            return live.ToArray();
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
    }
}
