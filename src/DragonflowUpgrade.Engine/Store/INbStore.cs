using System;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// An NB database. Reads stream whole tables in batches and writes take a whole batch of
    /// puts and deletes: there is deliberately no per-key get or set.
    /// </summary>
    public interface INbStore : IDisposable
    {
        /// <summary>Where the database is, fit to print: no passwords.</summary>
        string Location { get; }

        /// <summary>Every object of one table, or of all tables when <paramref name="table"/> is null.</summary>
        IEnumerable<NbEntry> Read(string? table = null);

        /// <summary>
        /// Every object of several tables (a table named twice is read once; a null or empty one is refused:
        /// <see cref="NbTables.Distinct"/>), read together where that is faster than table by table (Redis: one SCAN of the keyspace).
        /// </summary>
        IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables);

        /// <summary>Every key of one table, or of all tables, without the values.</summary>
        IEnumerable<NbKey> ReadKeys(string? table = null);

        /// <summary>Applies the puts and deletes in batches; <paramref name="progress"/> gets the count written so far.</summary>
        void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int>? progress = null);

        /// <summary>
        /// <see cref="Write"/>, each batch conditional: it is written only if every key it touches
        /// still holds what <paramref name="expected"/> gives for it (the bytes read before, or
        /// null for a key that was absent), compared in the same round trip as the write. A
        /// batch that finds another value writes nothing, and the store sends no batch after it
        /// (each master of a cluster stops on its own); once the batches under way are done,
        /// <see cref="NbConflictException"/> names the keys that changed. <paramref name="progress"/>
        /// gets the count written so far.
        /// </summary>
        void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int>? progress = null);

        /// <summary>What is particular to this kind of store: its upgrade lock, batch size, journal, key layout and default backups.</summary>
        NbStoreParts Parts { get; }
    }

    /// <summary>The tables of a read of several (<see cref="INbStore.ReadTables"/>).</summary>
    public static class NbTables
    {
        /// <summary>Each table once.</summary>
        /// <exception cref="ArgumentException">A table is null (which a read of one table takes for every table) or empty (which no object has).</exception>
        public static IReadOnlyCollection<string> Distinct(IReadOnlyCollection<string> tables)
        {
            if (tables.Any(string.IsNullOrEmpty)) throw new ArgumentException("A table to read is null or empty.", nameof(tables));
            return new HashSet<string>(tables, StringComparer.Ordinal);
        }
    }
}
