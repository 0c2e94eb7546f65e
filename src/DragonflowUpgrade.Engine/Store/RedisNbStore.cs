using System;
using System.Runtime.CompilerServices;
using DragonflowUpgrade.Engine.Json;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A Dragonflow NB database in Redis, in the layout of Dragonflow's redis driver:
    /// key <c>{table.topic}.id</c> (topic empty when none), value the object's JSON text.
    /// Reads are SCAN plus batched MGET, writes pipelined batches of SET/DEL.
    /// </summary>
    public sealed class RedisNbStore : INbStore
    {
        internal const int BatchSize = 1000;
        const int BatchesInFlight = 8;
        const int ScanPageSize = 5000;

        readonly ConnectionMultiplexer _connection;
        readonly IDatabase _db;
        readonly IServer _server;

        RedisNbStore(ConnectionMultiplexer connection, int database, string location)
        {
            _connection = connection;
            _db = connection.GetDatabase(database);
            _server = connection.GetServer(connection.GetEndPoints()[0]);
            Location = location;
        }

        public string Location { get; }

        /// <summary>The underlying Redis database, for the parts of the engine that need atomic single-key operations (the upgrade lock).</summary>
        public IDatabase Database => _db;

        /// <summary>Opens <c>redis://[:password@]host:port[/db]</c>.</summary>
        public static RedisNbStore Open(Uri uri)
        {
            int port = uri.Port > 0 ? uri.Port : 6379;
            int database = 0;
            string path = uri.AbsolutePath.Trim('/');
            if (path.Length > 0 && !int.TryParse(path, out database))
                throw new NbStoreException($"'{Redact(uri)}': the path after host:port must be a Redis database number, not '{path}'.");
            var options = new ConfigurationOptions
            {
                EndPoints = { { uri.Host, port } },
                DefaultDatabase = database,
                AbortOnConnectFail = true,
                ConnectTimeout = 5000,
                SyncTimeout = 30000,
                AsyncTimeout = 30000,
                ConnectRetry = 1,
                AllowAdmin = true,
                // A lost connection fails the commands at once rather than queueing them for a reconnect:
                // an interrupted commit stops with a clear error and is resumed (Resume-DfMigration).
                BacklogPolicy = BacklogPolicy.FailFast,
            };
            if (!string.IsNullOrEmpty(uri.UserInfo))
            {
                string[] parts = Uri.UnescapeDataString(uri.UserInfo).Split(new[] { ':' }, 2);
                if (parts.Length == 2)
                {
                    if (parts[0].Length > 0) options.User = parts[0];
                    options.Password = parts[1];
                }
                else options.Password = parts[0];
            }
            string location = Redact(uri);
            try
            {
                return new RedisNbStore(ConnectionMultiplexer.Connect(options), database, location);
            }
            catch (RedisConnectionException e)
            {
                throw new NbStoreException($"Cannot reach the Redis NB database at {location}: {FirstLine(e.Message)} Check that redis-server runs there and the address is right.", e);
            }
        }

        static string Redact(Uri uri) =>
            $"{uri.Scheme}://{uri.Host}:{(uri.Port > 0 ? uri.Port : 6379)}{(uri.AbsolutePath.Trim('/').Length > 0 ? "/" + uri.AbsolutePath.Trim('/') : "")}";

        static string FirstLine(string s) => s.Split('\n')[0].Trim();

        /// <summary>Dragonflow's key for (table, topic, id).</summary>
        public static string FormatKey(NbKey key) => "{" + key.Table + "." + key.Topic + "}." + key.Id;

        /// <summary>Parses a Dragonflow key; false for keys that are not NB objects.</summary>
        [MethodImpl(Hot.Optimize)]
        public static bool TryParseKey(string text, out NbKey key, NameTable names = null)
        {
            key = default;
            if (text == null || text.Length < 5 || text[0] != '{') return false;
            int close = text.IndexOf('}');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != '.') return false;
            int dot = text.IndexOf('.', 1);
            if (dot < 0 || dot > close || dot == 1) return false;
            string table = text.Substring(1, dot - 1);
            string topic = text.Substring(dot + 1, close - dot - 1);
            if (names != null)
            {
                table = names.Share(table);
                topic = names.Share(topic);
            }
            string id = text.Substring(close + 2);
            key = new NbKey(table, topic, id);
            return true;
        }

        static string Pattern(string table) => table == null ? "{*" : "{" + EscapeGlob(table) + ".*";

        static string EscapeGlob(string s)
        {
            var sb = new System.Text.StringBuilder(s.Length);
            foreach (char c in s)
            {
                if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') sb.Append('\\');
                sb.Append(c);
            }
            return sb.ToString();
        }

        public IEnumerable<NbKey> ReadKeys(string table = null)
        {
            foreach (var batch in ScanBatches(table))
                foreach (var (key, _) in batch)
                    yield return key;
        }

        IEnumerable<List<(NbKey, RedisKey)>> ScanBatches(string table)
        {
            var batch = new List<(NbKey, RedisKey)>(BatchSize);
            var names = new NameTable();
            IEnumerable<RedisKey> keys;
            try { keys = _server.Keys(_db.Database, Pattern(table), ScanPageSize); }
            catch (RedisException e) { throw Failure("read", e); }
            using (var e = keys.GetEnumerator())
            {
                while (true)
                {
                    try { if (!e.MoveNext()) break; }
                    catch (RedisException ex) { throw Failure("read", ex); }
                    string text = e.Current;
                    if (!TryParseKey(text, out var key, names)) continue;
                    if (table != null && key.Table != table) continue;
                    batch.Add((key, e.Current));
                    if (batch.Count == BatchSize)
                    {
                        yield return batch;
                        batch = new List<(NbKey, RedisKey)>(BatchSize);
                    }
                }
            }
            if (batch.Count > 0) yield return batch;
        }

        public IEnumerable<NbEntry> Read(string table = null)
        {
            // Keep a few MGETs in flight while the scan goes on; yield in scan order.
            var inFlight = new Queue<(List<(NbKey, RedisKey)> Keys, Task<RedisValue[]> Values)>();
            foreach (var batch in ScanBatches(table))
            {
                inFlight.Enqueue((batch, _db.StringGetAsync(batch.Select(k => k.Item2).ToArray())));
                if (inFlight.Count >= BatchesInFlight)
                    foreach (var entry in Drain(inFlight.Dequeue())) yield return entry;
            }
            while (inFlight.Count > 0)
                foreach (var entry in Drain(inFlight.Dequeue())) yield return entry;
        }

        [MethodImpl(Hot.Optimize)]
        List<NbEntry> Drain((List<(NbKey, RedisKey)> Keys, Task<RedisValue[]> Values) batch)
        {
            RedisValue[] values;
            try { values = batch.Values.GetAwaiter().GetResult(); }
            catch (RedisException e) { throw Failure("read", e); }
            catch (TimeoutException e) { throw Failure("read", e); }
            var entries = new List<NbEntry>(values.Length);
            for (int i = 0; i < values.Length; i++)
            {
                if (values[i].IsNull) continue; // deleted between SCAN and MGET
                entries.Add(new NbEntry(batch.Keys[i].Item1, (byte[])values[i]));
            }
            return entries;
        }

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null)
        {
            // A run of puts is one MSET per batch, a run of deletes one DEL; commands on the
            // connection run in the order sent, so a delete and a put of one key keep theirs.
            int written = 0;
            var pending = new Queue<(int Count, Task Done)>();
            try
            {
                foreach (var run in Runs(changes))
                {
                    pending.Enqueue((run.Count, run[0].IsDelete
                        ? (Task)_db.KeyDeleteAsync(run.Select(e => (RedisKey)FormatKey(e.Key)).ToArray())
                        : _db.StringSetAsync(run.Select(e => new KeyValuePair<RedisKey, RedisValue>(FormatKey(e.Key), e.Value)).ToArray())));
                    if (pending.Count >= BatchesInFlight) Complete(pending.Dequeue());
                }
                while (pending.Count > 0) Complete(pending.Dequeue());
            }
            catch (RedisException e) { throw Failure("write", e); }
            catch (TimeoutException e) { throw Failure("write", e); }

            void Complete((int Count, Task Done) p)
            {
                p.Done.GetAwaiter().GetResult();
                written += p.Count;
                progress?.Report(written);
            }
        }

        // Consecutive changes of one kind, at most a batch at a time.
        static IEnumerable<List<NbEntry>> Runs(IEnumerable<NbEntry> changes)
        {
            var run = new List<NbEntry>(BatchSize);
            foreach (var e in changes)
            {
                if (run.Count == BatchSize || (run.Count > 0 && run[0].IsDelete != e.IsDelete))
                {
                    yield return run;
                    run = new List<NbEntry>(BatchSize);
                }
                run.Add(e);
            }
            if (run.Count > 0) yield return run;
        }

        internal static IEnumerable<List<T>> Chunk<T>(IEnumerable<T> items, int size)
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

        NbStoreException Failure(string what, Exception e) =>
            new NbStoreException($"Could not {what} the Redis NB database at {Location}: {FirstLine(e.Message)}", e);

        public void Dispose() => _connection.Dispose();
    }
}
