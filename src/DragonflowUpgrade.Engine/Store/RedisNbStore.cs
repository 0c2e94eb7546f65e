using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using DragonflowUpgrade.Engine.Json;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A Dragonflow NB database in Redis, in the layout of Dragonflow's redis driver:
    /// key <c>{table.topic}.id</c> (topic empty when none), value the object's JSON text.
    /// Reads are SCAN plus batched MGET, writes pipelined batches of MSET/DEL, both over a
    /// <see cref="RespConnection"/> of the store's own; the upgrade lock's single-key atomic
    /// commands go through StackExchange.Redis (<see cref="Database"/>), connected when first used.
    /// Reads and writes are for one thread at a time.
    /// </summary>
    public sealed class RedisNbStore : INbStore
    {
        internal const int BatchSize = 1000;
        const int BatchesInFlight = 8;
        const int ScanPageSize = 5000;
        static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

        readonly RespConnection _connection;
        readonly ConfigurationOptions _options;
        readonly object _gate = new object();
        ConnectionMultiplexer _multiplexer;

        RedisNbStore(RespConnection connection, ConfigurationOptions options, string location)
        {
            _connection = connection;
            _options = options;
            Location = location;
        }

        public string Location { get; }

        /// <summary>The database through StackExchange.Redis, for atomic single-key commands (the upgrade lock). It may be used from any thread.</summary>
        public IDatabase Database
        {
            get
            {
                lock (_gate)
                {
                    if (_multiplexer == null)
                    {
                        try { _multiplexer = ConnectionMultiplexer.Connect(_options); }
                        catch (RedisConnectionException e) { throw Unreachable(Location, e); }
                    }
                    return _multiplexer.GetDatabase();  // the options' DefaultDatabase
                }
            }
        }

        /// <summary>Opens <c>redis://[:password@]host:port[/db]</c>.</summary>
        public static RedisNbStore Open(Uri uri)
        {
            int port = uri.Port > 0 ? uri.Port : 6379;
            int database = 0;
            string path = uri.AbsolutePath.Trim('/');
            if (path.Length > 0 && !int.TryParse(path, out database))
                throw new NbStoreException($"'{Redact(uri)}': the path after host:port must be a Redis database number, not '{path}'.");
            string user = null, password = null;
            if (!string.IsNullOrEmpty(uri.UserInfo))
            {
                string[] parts = Uri.UnescapeDataString(uri.UserInfo).Split(new[] { ':' }, 2);
                if (parts.Length == 2)
                {
                    if (parts[0].Length > 0) user = parts[0];
                    password = parts[1];
                }
                else password = parts[0];
            }
            var options = new ConfigurationOptions
            {
                EndPoints = { { uri.Host, port } },
                DefaultDatabase = database,
                User = user,
                Password = password,
                AbortOnConnectFail = true,
                ConnectTimeout = (int)ConnectTimeout.TotalMilliseconds,
                SyncTimeout = 30000,
                AsyncTimeout = 30000,
                ConnectRetry = 1,
                // A lost connection fails the commands at once rather than queueing them for a reconnect.
                BacklogPolicy = BacklogPolicy.FailFast,
            };
            string location = Redact(uri);
            try
            {
                return new RedisNbStore(RespConnection.Open(uri.Host, port, user, password, database, ConnectTimeout), options, location);
            }
            catch (Exception e) when (e is SocketException || e is IOException || e is TimeoutException || e is RespErrorException)
            {
                throw Unreachable(location, e);
            }
        }

        static NbStoreException Unreachable(string location, Exception e) =>
            new NbStoreException($"Cannot reach the Redis NB database at {location}: {FirstLine(e.Message)} Check that redis-server runs there, the address is right and so is the password, if any.", e);

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

        public IEnumerable<NbKey> ReadKeys(string table = null) => Pages(table, values: false).SelectMany(page => page.Keys);

        public IEnumerable<NbEntry> Read(string table = null) => Pages(table, values: true).SelectMany(page => page.Entries);

        // The NB objects of a SCAN page at a time. The MGETs of a page go out with the SCAN for
        // the next one, so Redis scans on while the values are read; all of a page's replies are
        // read before it is handed out, so the connection is idle whenever the caller has it.
        IEnumerable<(List<NbKey> Keys, List<NbEntry> Entries)> Pages(string table, bool values)
        {
            var names = new NameTable();
            string pattern = Pattern(table);
            var (cursor, keys) = Guard("read", () =>
            {
                SendScan("0", pattern);
                _connection.Flush();
                return ReadScan(table, names);
            });
            while (true)
            {
                var (entries, next) = Guard("read", () =>
                {
                    if (values)
                        foreach (var batch in Chunk(keys, BatchSize))
                        {
                            _connection.Array(batch.Count + 1);
                            _connection.Bulk("MGET");
                            // Formatted again rather than kept from the SCAN reply: keeping the texts measured ~10 MB more peak memory.
                            foreach (var key in batch) _connection.Bulk(FormatKey(key));
                        }
                    if (cursor != "0") SendScan(cursor, pattern);
                    _connection.Flush();
                    var read = values ? ReadValues(keys) : null;
                    return (read, cursor != "0" ? ReadScan(table, names) : ("0", null));
                });
                yield return (keys, entries);
                if (cursor == "0") yield break;
                (cursor, keys) = next;
            }
        }

        void SendScan(string cursor, string pattern) =>
            _connection.Command("SCAN", cursor, "MATCH", pattern, "COUNT", ScanPageSize.ToString(CultureInfo.InvariantCulture));

        // A SCAN reply: the next cursor and the page's NB keys (others are skipped).
        [MethodImpl(Hot.Optimize)]
        (string Cursor, List<NbKey> Keys) ReadScan(string table, NameTable names)
        {
            if (_connection.ReadArrayLength() != 2) throw new IOException("Redis answered SCAN with something other than a cursor and keys.");
            string cursor = _connection.ReadBulkText(out _);
            long count = _connection.ReadArrayLength();
            var keys = new List<NbKey>((int)Math.Max(0, count));
            for (long i = 0; i < count; i++)
            {
                string text = _connection.ReadBulkText(out bool utf8);
                if (!TryParseKey(text, out var key, names) || (table != null && key.Table != table)) continue;
                // Such a key could not be written back as it is: stop rather than lose the object.
                if (!utf8) throw new InvalidDataException($"The key '{text}' is not UTF-8 text, as every Dragonflow key is. Rename or delete it, then run again.");
                keys.Add(key);
            }
            return (cursor, keys);
        }

        [MethodImpl(Hot.Optimize)]
        List<NbEntry> ReadValues(List<NbKey> keys)
        {
            var entries = new List<NbEntry>(keys.Count);
            for (int at = 0; at < keys.Count; at += BatchSize)
            {
                long count = _connection.ReadArrayLength();
                if (count != Math.Min(BatchSize, keys.Count - at)) throw new IOException("Redis answered MGET with another number of values than keys asked for.");
                for (int i = 0; i < count; i++)
                {
                    var value = _connection.ReadBulk();
                    if (value != null) entries.Add(new NbEntry(keys[at + i], value)); // null: deleted between SCAN and MGET
                }
            }
            return entries;
        }

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null)
        {
            // A run of puts is one MSET per batch, a run of deletes one DEL; Redis runs a
            // connection's commands in the order sent, so a delete and a put of one key keep theirs.
            int written = 0;
            var inFlight = new Queue<int>();
            Guard("write", () =>
            {
                foreach (var run in Runs(changes))
                {
                    bool delete = run[0].IsDelete;
                    _connection.Array(1 + (delete ? run.Count : 2 * run.Count));
                    _connection.Bulk(delete ? "DEL" : "MSET");
                    foreach (var e in run)
                    {
                        _connection.Bulk(FormatKey(e.Key));
                        if (!delete) _connection.Bulk(e.Value);
                    }
                    inFlight.Enqueue(run.Count);
                    if (inFlight.Count >= BatchesInFlight) Complete();
                }
                _connection.Flush();
                while (inFlight.Count > 0) Complete();
                return 0;
            });

            void Complete()
            {
                _connection.Flush();
                _connection.ReadReply();
                written += inFlight.Dequeue();
                progress?.Report(written);
            }
        }

        T Guard<T>(string what, Func<T> operation)
        {
            try { return operation(); }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is TimeoutException || e is RespErrorException)
            {
                _connection.Dispose();  // replies may be left unread: the connection is out of step
                throw new NbStoreException($"Could not {what} the Redis NB database at {Location}: {FirstLine(e.Message)}", e);
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

        public void Dispose()
        {
            _connection.Dispose();
            _multiplexer?.Dispose();
        }
    }
}
