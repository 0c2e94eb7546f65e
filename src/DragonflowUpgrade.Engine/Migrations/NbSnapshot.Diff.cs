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
    // The difference between the stored database and the snapshot, and what the database held.
    public sealed partial class NbSnapshot
    {
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
                    if (!(s.CurrentKey is NbKey current))
                    {
                        if (!(s.OriginalKey is NbKey gone)) continue;
                        changes.Add(NbEntry.Delete(gone));
                        c.Deletes++;
                    }
                    else if (!(s.OriginalKey is NbKey original))
                    {
                        changes.Add(new NbEntry(current, s.Bytes));
                        c.Creates++;
                    }
                    else if (!original.Equals(current))
                    {
                        changes.Add(NbEntry.Delete(original));
                        changes.Add(new NbEntry(current, s.Bytes));
                        c.Updates++;
                    }
                    else if (s.Changed)
                    {
                        changes.Add(new NbEntry(current, s.Bytes));
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
            var t = ExistingTable(key.Table);
            if (t != null && t.Slots.TryGetValue(key.Id, out int i) && At(i).OriginalKey is NbKey read && read.Equals(key)) return At(i).Original;
            return null;
        }

        /// <summary><see cref="AllEntries"/>, each with whether it is exactly as it was read: same key, same bytes.</summary>
        internal IEnumerable<(NbEntry Entry, bool AsRead)> AllEntriesAsRead() =>
            _tables.Keys.OrderBy(t => t, StringComparer.Ordinal).ToList().SelectMany(Live)
                .Select(x => (new NbEntry(x.Key, x.Bytes), !x.Changed && At(x.Index).OriginalKey is NbKey read && read.Equals(x.Key)));

        /// <summary>
        /// The tables in which anything was created, changed, moved or deleted; and among them those
        /// in which an id read is no longer live (deleted), which references may have pointed to.
        /// </summary>
        internal (ISet<string> Touched, ISet<string> LostIds) TouchedTables()
        {
            var touched = new HashSet<string>(StringComparer.Ordinal);
            var lost = new HashSet<string>(StringComparer.Ordinal);
            foreach (var table in _tables.Values)
                foreach (int i in table.Slots.Values)
                {
                    ref Slot s = ref At(i);
                    if (s.OriginalKey.HasValue && !s.CurrentKey.HasValue) lost.Add(table.Name);
                    if (s.Changed || !Nullable.Equals(s.OriginalKey, s.CurrentKey)) touched.Add(table.Name);
                }
            touched.UnionWith(lost);
            return (touched, lost);
        }

        /// <summary>
        /// Every object as it was read, before any migration: the slots there are now, which another
        /// thread may go through while migrations run. An original is never changed once read; the
        /// slots added later lie past the count taken now, in a chunk the list may put elsewhere.
        /// </summary>
        public IEnumerable<NbEntry> Originals() => OriginalsIn(_chunks.ToArray(), _slotCount);

        static IEnumerable<NbEntry> OriginalsIn(Slot[][] chunks, int count)
        {
            for (int i = 0; i < count; i++)
            {
                var chunk = chunks[i >> ChunkBits];
                int at = i & ((1 << ChunkBits) - 1);
                if (chunk[at].OriginalKey is NbKey key) yield return new NbEntry(key, chunk[at].Original);
            }
        }
    }
}
