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
    // Checking the objects a migration is handed, on its own thread or a few batches ahead on another.
    public sealed partial class NbSnapshot
    {
        // A pass over a table reads from every object and mostly drops what it read. Where the processor reports
        // a large cache, the collector lets hundreds of MB of such garbage pile up before its first
        // collection; collecting the youngest generation every so many objects keeps a run's memory
        // near what it holds, at little cost, since little of what was parsed survives.
        const int ParsesPerCollection = 16384;
        int _parsed;

        // What checking an object's bytes gave: the object (or what else the text holds) and whether the text is as written, or the error.
        struct Parsed
        {
            public object? Value;
            public bool AsWritten;
            public Exception? Error;
        }

        // Touches nothing of the snapshot's: it may run on another thread. An object is checked here
        // and handed out unread: its members are read as the migration asks for them (NbObject).
        // Stored text checked as an object before (isChecked, its form) is not checked again: it
        // cannot have changed, and a later migration's pass over the same table then costs no checking.
        [MethodImpl(Hot.Optimize)]
        static Parsed Parse(NbKey key, ReadOnlyMemory<byte> bytes, Form isChecked)
        {
            if (isChecked != Form.NotRead) return new Parsed { Value = new NbObject(bytes), AsWritten = isChecked == Form.AsWritten };
            var parsed = new Parsed();
            try { parsed.Value = NbJson.Check(bytes.Span, out parsed.AsWritten) ? new NbObject(bytes) : NbJson.Parse(bytes.Span); }
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
            if (!changed && parsed.Value is NbObject) At(index).OriginalForm = parsed.AsWritten ? Form.AsWritten : Form.Other;
            return parsed.Value as NbObject ?? throw new InvalidOperationException(
                $"{key} holds {NbJson.KindOf(parsed.Value)}, not an object; table '{key.Table}' cannot be read as objects.");
        }

        // How long the parsing thread waits for the migration to take more before it leaves the
        // rest to the migration's thread; a pass left without being disposed ends it too.
        // Per snapshot, so that a test that shortens it changes no other snapshot.
        internal TimeSpan ParsingPatience { get; set; } = TimeSpan.FromSeconds(10);

        // Checks a table's objects on another thread, a few batches ahead of the migration going
        // through them: checking the text is much of a pass's work, and the second processor may be idle then.
        // When the next batch is not ready, the migration's thread checks one too, rather than wait.
        sealed class ParseAhead : IDisposable
        {
            public const int BatchSize = 256;
            const int BatchesAhead = 8;
            readonly (int Index, NbKey Key, ReadOnlyMemory<byte> Bytes, bool Changed, Form Checked)[] _live;
            readonly Parsed[] _parsed;
            readonly bool[] _done;  // by batch; set under the gate
            readonly int _batches;
            readonly object _gate = new object();
            readonly Task _worker;
            readonly TimeSpan _patience;
            int _claimed;  // batches claimed by either thread, in order
            int _taking;   // the batch the migration is on
            bool _stop;

            public ParseAhead((int, NbKey, ReadOnlyMemory<byte>, bool, Form)[] live, TimeSpan patience)
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
                    for (int i = batch * BatchSize; i < end; i++) _parsed[i] = NbSnapshot.Parse(_live[i].Key, _live[i].Bytes, _live[i].Checked);
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
    }
}
