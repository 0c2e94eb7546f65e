using System;
using System.Collections.Generic;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Splitting a sequence into batches.</summary>
    static class Batches
    {
        /// <summary>Consecutive items, <paramref name="size"/> at a time (the last batch may be smaller).</summary>
        public static IEnumerable<List<T>> Chunk<T>(IEnumerable<T> items, int size)
        {
            var chunk = new List<T>(size);
            foreach (var item in items)
            {
                chunk.Add(item);
                if (chunk.Count == size)
                {
                    yield return chunk;
                    chunk = new List<T>(size);
                }
            }
            if (chunk.Count > 0) yield return chunk;
        }

        /// <summary>
        /// Writes <paramref name="changes"/> by <see cref="INbStore.WriteIf"/> in the store's rounds
        /// (<see cref="NbStoreParts.WriteRound"/>), telling <paramref name="written"/> how many are written as the
        /// store's batches finish. A conflict's count of changes written covers every round.
        /// </summary>
        internal static void WriteIfInRounds(INbStore store, IReadOnlyList<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, Action<int> written)
        {
            int done = 0;
            var progress = new ReportTo<int>(n => written(done + n));
            foreach (var round in Chunk(changes, store.Parts.WriteRound(changes.Count)))
            {
                try { store.WriteIf(round, expected, progress); }
                catch (NbConflictException e) when (done > 0) { throw new NbConflictException(store.Location, e.Keys, done + e.Written, inner: e); }
                done += round.Count;
                written(done);
            }
        }
    }
}
