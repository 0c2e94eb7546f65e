using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// A real store (a test server's, or a file), wrapped so that a test reaches a point part way
    /// through a commit: after each write it pauses (so that a test can kill the process or stop
    /// the server there), or holds until the test lets it go on (so that a kill lands at a known
    /// write however loaded the machine is), and after a number of writes it fails the next one as
    /// a crash or a lost server would, writing nothing. Reads, the lock and the store's parts are the real store's.
    /// Also compiled by the Pester tests (SafetySupport.ps1) into the processes they kill.
    /// </summary>
    public sealed class SteppedStore : INbStore
    {
        readonly INbStore _store;
        readonly int _writesBeforeFailure;
        readonly TimeSpan _pause;
        readonly string _holdFolder;

        /// <param name="writesBeforeFailure">How many writes (plain or conditional) go through before every further one fails; -1: none fails.</param>
        /// <param name="pause">How long each write that went through is followed by a pause.</param>
        /// <param name="holdFolder">When given, after write N went through the store creates the file held-N
        /// in this folder and waits until the file go-N, or go-on (every further write goes on unheld), appears there.</param>
        public SteppedStore(INbStore store, int writesBeforeFailure = -1, TimeSpan pause = default, string holdFolder = null)
        {
            _store = store;
            _writesBeforeFailure = writesBeforeFailure;
            _pause = pause;
            _holdFolder = string.IsNullOrEmpty(holdFolder) ? null : holdFolder;   // PowerShell passes $null to a string as ''
        }

        /// <summary>What a failing write throws, given its message; by default the store's own error.</summary>
        public Func<string, Exception> Failure { get; set; } = message => new NbStoreException(message);

        /// <summary>How many writes went through.</summary>
        public int Writes { get; private set; }

        /// <summary>The tables each write that went through touched, in order.</summary>
        public List<HashSet<string>> TablesWritten { get; } = new List<HashSet<string>>();

        public string Location => _store.Location;
        public NbStoreParts Parts => _store.Parts;
        /// <summary>The table of each read asked for (null: every table), in order.</summary>
        public List<string> TablesRead { get; } = new List<string>();

        public IEnumerable<NbEntry> Read(string table = null)
        {
            TablesRead.Add(table);
            return ReadGate == null ? _store.Read(table) : Gated(_store.Read(table));
        }

        /// <summary>When set, a read hands out each object only once the test has released the gate for it.</summary>
        public SemaphoreSlim ReadGate { get; set; }

        /// <summary>How many objects reads through the gate handed out.</summary>
        public int ObjectsHanded => _handed;

        /// <summary>Whether the last read through the gate has ended (run to its end, left, or failed).</summary>
        public bool ReadEnded => _readEnded;

        volatile int _handed;
        volatile bool _readEnded;

        IEnumerable<NbEntry> Gated(IEnumerable<NbEntry> read)
        {
            _readEnded = false;
            try
            {
                foreach (var e in read)
                {
                    ReadGate.Wait();
                    _handed++;
                    yield return e;
                }
            }
            finally { _readEnded = true; }
        }

        public IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables)
        {
            TablesRead.AddRange(tables);
            return _store.ReadTables(tables);
        }

        public IEnumerable<NbKey> ReadKeys(string table = null)
        {
            TablesRead.Add(table);
            return _store.ReadKeys(table);
        }

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null) =>
            Step(changes, () => _store.Write(changes, progress));

        /// <summary>
        /// How many changes of a conditional write (a commit's, a restore's) go through as one write:
        /// a store is handed many batches at once, and a crash lands between them.
        /// </summary>
        public const int StepSize = 1000;

        /// <summary>How many changes each conditional write was handed, in order, before it was stepped.</summary>
        public List<int> ConditionalWrites { get; } = new List<int>();

        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int> progress = null)
        {
            ConditionalWrites.Add(changes.Count);
            var all = new List<NbEntry>(changes);
            int done = 0;
            do
            {
                var step = all.GetRange(done, Math.Min(StepSize, all.Count - done));
                int before = done;
                try { Step(step, () => _store.WriteIf(step, expected, progress == null ? null : new Offset(progress, before))); }
                catch (NbConflictException e) { throw new NbConflictException(Location, e.Keys, before + e.Written, inner: e); }
                done += step.Count;
            }
            while (done < all.Count);
        }

        // The store's count of one step, reported as the count of the whole write. (The engine's own
        // is internal: the Pester tests compile this file against the module.)
        sealed class Offset : IProgress<int>
        {
            readonly IProgress<int> _progress;
            readonly int _before;
            public Offset(IProgress<int> progress, int before) { _progress = progress; _before = before; }
            public void Report(int value) => _progress.Report(_before + value);
        }

        int _writing;  // writes under way: a store takes one at a time

        void Step(IReadOnlyCollection<NbEntry> changes, Action write)
        {
            if (Interlocked.Increment(ref _writing) > 1) throw new InvalidOperationException("A write was started while another was under way.");
            try { StepAlone(changes, write); }
            finally { Interlocked.Decrement(ref _writing); }
        }

        void StepAlone(IReadOnlyCollection<NbEntry> changes, Action write)
        {
            if (_writesBeforeFailure >= 0 && Writes >= _writesBeforeFailure)
                throw Failure($"Could not write {Location}: the test stopped its writes after {Writes}.");
            write();
            Writes++;
            var tables = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in changes) tables.Add(c.Key.Table);
            TablesWritten.Add(tables);
            if (_pause > TimeSpan.Zero) Thread.Sleep(_pause);
            if (_holdFolder != null)
            {
                File.WriteAllText(Path.Combine(_holdFolder, $"held-{Writes}"), "");
                string go = Path.Combine(_holdFolder, $"go-{Writes}"), goOn = Path.Combine(_holdFolder, "go-on");
                while (!File.Exists(go) && !File.Exists(goOn)) Thread.Sleep(5);
            }
        }

        public void Dispose() => _store.Dispose();
    }
}
