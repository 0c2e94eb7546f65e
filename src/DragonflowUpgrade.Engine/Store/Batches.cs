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
    }
}
