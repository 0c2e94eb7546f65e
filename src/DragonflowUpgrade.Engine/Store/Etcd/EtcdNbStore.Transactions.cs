using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading.Tasks;

namespace DragonflowUpgrade.Engine.Store
{
    // The writes: transactions of puts and deletes, plain or comparing each key first, several in flight.
    public sealed partial class EtcdNbStore
    {
        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int>? progress = null)
        {
            var (written, _) = Send(Transactions(Collapse(changes)), TxnAsync, changes.Count, progress);
            if (written < changes.Count) progress?.Report(changes.Count);
        }

        // Sends the transactions, TxnsInFlight at a time; each answers with the keys that differed
        // from what it expected (then it wrote nothing). Every request sent finishes before this
        // returns or throws, so none is left running behind the caller.
        (int Written, List<NbKey> Changed) Send(IEnumerable<List<(string Key, NbEntry Change)>> transactions,
            Func<List<(string Key, NbEntry Change)>, Task<List<NbKey>>> send, int total, IProgress<int>? progress)
        {
            int written = 0;
            var changed = new List<NbKey>();
            var pending = new Queue<(int Count, Task<List<NbKey>> Done)>();
            Exception? failure = null;
            try
            {
                foreach (var txn in transactions)
                {
                    if (changed.Count > 0) break;   // a transaction found a change: finish those sent, send no more
                    pending.Enqueue((txn.Count, send(txn)));
                    if (pending.Count >= TxnsInFlight) Complete(pending.Dequeue());
                }
            }
            catch (NbStoreException e) { failure = e; }
            while (pending.Count > 0)
            {
                try { Complete(pending.Dequeue()); }
                catch (NbStoreException e) { failure = failure ?? e; }
            }
            if (failure != null) throw failure;
            return (written, changed);

            void Complete((int Count, Task<List<NbKey>> Done) p)
            {
                var differ = _gateway.Await(p.Done, "write");
                if (differ.Count == 0) written += p.Count;
                changed.AddRange(differ);
                progress?.Report(Math.Min(written, total));
            }
        }

        /// <summary>One change per etcd key, in first-seen order (see the class's remarks on topics).</summary>
        static List<(string Key, NbEntry Change)> Collapse(IReadOnlyCollection<NbEntry> changes)
        {
            var index = new Dictionary<string, int>(changes.Count, StringComparer.Ordinal);
            var ops = new List<(string Key, NbEntry Change)>(changes.Count);
            foreach (var c in changes)
            {
                string key = EtcdKeys.Format(c.Key);
                if (!index.TryGetValue(key, out int i)) { index.Add(key, ops.Count); ops.Add((key, c)); continue; }
                var earlier = ops[i].Change;
                if (c.IsDelete && !earlier.IsDelete && !string.Equals(earlier.Key.Topic, c.Key.Topic, StringComparison.Ordinal)) continue;
                ops[i] = (key, c);
            }
            return ops;
        }

        static IEnumerable<List<(string Key, NbEntry Change)>> Transactions(List<(string Key, NbEntry Change)> ops,
            Dictionary<string, ReadOnlyMemory<byte>?>? olds = null)
        {
            var txn = new List<(string, NbEntry)>(MaxTxnOps);
            long bytes = 0;
            foreach (var op in ops)
            {
                long size = op.Key.Length + op.Change.Value.Length + 16 + (olds != null && olds[op.Key] is ReadOnlyMemory<byte> old ? old.Length + op.Key.Length + 16 : 0);
                if (txn.Count == MaxTxnOps || (txn.Count > 0 && bytes + size > MaxTxnBytes))
                {
                    yield return txn;
                    txn = new List<(string, NbEntry)>(MaxTxnOps);
                    bytes = 0;
                }
                txn.Add(op);
                bytes += size;
            }
            if (txn.Count > 0) yield return txn;
        }

        Task<List<NbKey>> TxnAsync(List<(string Key, NbEntry Change)> txn)
        {
            string what = txn.Count == 1 ? $"write {txn[0].Key} to" : "write";
            return _gateway.Checked(async () =>
            {
                using (await _gateway.CallAsync("/v3/kv/txn", w => WriteOps(w, "success", txn), what, resendable: false).ConfigureAwait(false)) { }
                return new List<NbKey>();
            }, () => AppliedAsync(txn), new List<NbKey>());
        }

        /// <summary>Whether every key of <paramref name="txn"/> holds what it writes (a delete: the key is absent), read in one transaction.</summary>
        async Task<bool> AppliedAsync(List<(string Key, NbEntry Change)> txn)
        {
            using (var doc = await _gateway.CallAsync("/v3/kv/txn", w => WriteReads(w, "success", txn), "read back a write to").ConfigureAwait(false))
                return HoldsTargets(doc.RootElement, txn);
        }

        // The values of the keys read by a transaction's range requests, in the order of txn.
        static byte[]? RangeValue(JsonElement response) =>
            response.TryGetProperty("response_range", out var range) && range.TryGetProperty("kvs", out var kvs) && kvs.GetArrayLength() > 0
                ? (kvs[0].TryGetProperty("value", out var v) ? v.GetBytesFromBase64() : Array.Empty<byte>()) : null;

        // Whether the range responses of root show every key of txn holding what txn writes.
        static bool HoldsTargets(JsonElement root, List<(string Key, NbEntry Change)> txn)
        {
            int i = 0;
            foreach (var r in root.GetProperty("responses").EnumerateArray())
            {
                var change = txn[i++].Change;
                byte[]? now = RangeValue(r);
                if (change.IsDelete ? now != null : now == null || !change.Value.Span.SequenceEqual(now)) return false;
            }
            return i == txn.Count;
        }

        // A branch of a transaction that reads every key of it.
        static void WriteReads(Utf8JsonWriter w, string branch, List<(string Key, NbEntry Change)> txn)
        {
            w.WriteStartArray(branch);
            foreach (var (key, _) in txn)
            {
                w.WriteStartObject();
                w.WriteStartObject("request_range");
                w.WriteBase64String("key", EtcdKeys.Utf8(key));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }

        static void WriteOps(Utf8JsonWriter w, string branch, List<(string Key, NbEntry Change)> txn)
        {
            w.WriteStartArray(branch);
            foreach (var (key, change) in txn)
            {
                w.WriteStartObject();
                if (change.IsDelete)
                {
                    w.WriteStartObject("request_delete_range");
                    w.WriteBase64String("key", EtcdKeys.Utf8(key));
                }
                else
                {
                    w.WriteStartObject("request_put");
                    w.WriteBase64String("key", EtcdKeys.Utf8(key));
                    w.WriteBase64String("value", change.Value.Span);
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }

        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int>? progress = null)
        {
            var ops = Collapse(changes);
            // An etcd key is one object whatever its topic: it was expected to hold what any of the keys collapsed into it held.
            var olds = new Dictionary<string, ReadOnlyMemory<byte>?>(ops.Count, StringComparer.Ordinal);
            foreach (var c in changes)
            {
                string key = EtcdKeys.Format(c.Key);
                var old = expected(c.Key);
                if (!olds.TryGetValue(key, out var seen) || (!seen.HasValue && old.HasValue)) olds[key] = old;
            }
            var (written, changed) = Send(Transactions(ops, olds), txn => TxnIfAsync(txn, olds), changes.Count, progress);
            if (changed.Count > 0) throw new NbConflictException(Location, changed, written);
            progress?.Report(written);
        }

        // A transaction comparing each key's value (or, for a key expected absent, that it was
        // never created) before the writes; when a comparison fails it reads the keys instead,
        // to name those that differ.
        // An answer lost is read back before the transaction is sent again (which its comparisons still guard).
        Task<List<NbKey>> TxnIfAsync(List<(string Key, NbEntry Change)> txn, Dictionary<string, ReadOnlyMemory<byte>?> olds) =>
            _gateway.Checked(() => TxnIfOnceAsync(txn, olds), () => AppliedAsync(txn), new List<NbKey>());

        async Task<List<NbKey>> TxnIfOnceAsync(List<(string Key, NbEntry Change)> txn, Dictionary<string, ReadOnlyMemory<byte>?> olds)
        {
            using (var doc = await _gateway.CallAsync("/v3/kv/txn", w =>
            {
                w.WriteStartArray("compare");
                foreach (var (key, _) in txn)
                {
                    var old = olds[key];
                    w.WriteStartObject();
                    w.WriteBase64String("key", EtcdKeys.Utf8(key));
                    w.WriteString("result", "EQUAL");
                    if (old.HasValue)
                    {
                        w.WriteString("target", "VALUE");
                        w.WriteBase64String("value", old.Value.Span);
                    }
                    else
                    {
                        w.WriteString("target", "CREATE");
                        w.WriteString("create_revision", "0");
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                WriteOps(w, "success", txn);
                WriteReads(w, "failure", txn);
            }, "write", resendable: false).ConfigureAwait(false))
            {
                var root = doc.RootElement;
                var differ = new List<NbKey>();
                if (root.TryGetProperty("succeeded", out var s) && s.ValueKind == JsonValueKind.True) return differ;
                // Every key already holding what this writes: the transaction was applied once before,
                // its first answer lost (a connection that HTTP sent it on again died after sending it).
                if (HoldsTargets(root, txn)) return differ;
                var responses = root.GetProperty("responses");
                int i = 0;
                foreach (var r in responses.EnumerateArray())
                {
                    var (key, change) = txn[i++];
                    byte[]? now = RangeValue(r);
                    var old = olds[key];
                    if (now == null ? old.HasValue : !old.HasValue || !old.Value.Span.SequenceEqual(now)) differ.Add(change.Key);
                }
                return differ;
            }
        }
    }
}
