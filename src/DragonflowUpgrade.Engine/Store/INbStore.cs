using System;
using System.Collections.Generic;

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
        IEnumerable<NbEntry> Read(string table = null);

        /// <summary>Every key of one table, or of all tables, without the values.</summary>
        IEnumerable<NbKey> ReadKeys(string table = null);

        /// <summary>Applies the puts and deletes in batches; <paramref name="progress"/> gets the count written so far.</summary>
        void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null);
    }
}
