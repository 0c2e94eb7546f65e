using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
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
    /// Reads and writes are for one thread at a time, and one at a time: while a read is being
    /// enumerated, another read or a write is refused.
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
        bool _reading;

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
                        catch (RedisConnectionException e) { throw Unreachable(Location, e, _options.Password); }
                    }
                    return _multiplexer.GetDatabase();  // the options' DefaultDatabase
                }
            }
        }

        /// <summary>Opens <c>redis://[[user]:password@]host:port[/db]</c>.</summary>
        public static RedisNbStore Open(NbDatabaseUri uri)
        {
            if (uri.Scheme != "redis") throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}' is not a Redis URI (redis://host:port/db).");
            var endpoint = uri.Endpoints[0];
            int database = uri.RedisDatabase;
            // Redis's own user, "default", is the one a password alone signs in as (and the only one before Redis 6).
            string user = uri.User == "default" ? null : uri.User, password = uri.Password;
            var options = new ConfigurationOptions
            {
                EndPoints = { { endpoint.Host, endpoint.Port } },
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
            string location = uri.Location;
            try
            {
                return new RedisNbStore(RespConnection.Open(endpoint.Host, endpoint.Port, user, password, database, ConnectTimeout), options, location);
            }
            catch (Exception e) when (e is SocketException || e is IOException || e is TimeoutException || e is RespErrorException)
            {
                throw Unreachable(location, e, password);
            }
        }

        // Redis's error may quote the AUTH command, password and all (AUTH renamed away, a proxy):
        // then the error carries the masked text only, not the exception that holds it.
        static NbStoreException Unreachable(string location, Exception e, string password)
        {
            string said = FirstLine(e.Message), scrubbed = NbDatabaseUri.Scrub(said, password);
            return new NbStoreException($"Cannot reach the Redis NB database at {location}: {scrubbed} Check that redis-server runs there, the address is right and so is the password, if any.",
                NbDatabaseUri.Scrub(e.ToString(), password) == e.ToString() ? e : null);
        }

        static string FirstLine(string s) => s.Split('\n')[0].Trim();

        /// <summary>Dragonflow's key for (table, topic, id).</summary>
        public static string FormatKey(NbKey key) => KeyPrefix(key) + key.Id;

        // What a key has before its id, "{table.topic}.".
        static string KeyPrefix(NbKey key) => "{" + key.Table + "." + key.Topic + "}.";

        // A table's keys share a few prefixes: a write makes each once rather than a key text per change.
        static Func<NbKey, string> KeyPrefixes()
        {
            var prefixes = new Dictionary<(string, string), string>();
            return key =>
            {
                if (!prefixes.TryGetValue((key.Table, key.Topic), out var prefix)) prefixes.Add((key.Table, key.Topic), prefix = KeyPrefix(key));
                return prefix;
            };
        }

        /// <summary>Why (table, topic, id) would not read back from <see cref="FormatKey"/>'s key as itself; null when it would.</summary>
        public static string KeyProblem(NbKey key)
        {
            if (string.IsNullOrEmpty(key.Table)) return "has no table";
            if (key.Table.IndexOfAny(TableStops) >= 0) return "has '.', '{' or '}' in its table";
            if (key.Topic != null && key.Topic.IndexOf('}') >= 0) return "has '}' in its topic";
            if (key.Id == null) return "has no id";
            return null;
        }

        static readonly char[] TableStops = { '.', '{', '}' };

        /// <summary>Parses a Dragonflow key from its bytes; false for keys that are not NB objects.</summary>
        /// <exception cref="DecoderFallbackException">The key has the shape of an NB key but is not UTF-8.</exception>
        [MethodImpl(Hot.Optimize)]
        public static bool TryParseKey(ReadOnlySpan<byte> utf8, out NbKey key, NameTable names)
        {
            key = default;
            // '{', '.' and '}' are single bytes in UTF-8, never part of another character's bytes.
            if (utf8.Length < 5 || utf8[0] != '{') return false;
            int close = utf8.IndexOf((byte)'}');
            if (close < 0 || close + 1 >= utf8.Length || utf8[close + 1] != '.') return false;
            int dot = utf8.Slice(1).IndexOf((byte)'.') + 1;
            if (dot <= 1 || dot > close) return false;
            string table = names.Share(utf8.Slice(1, dot - 1));
            string topic = names.Share(utf8.Slice(dot + 1, close - dot - 1));
            key = new NbKey(table, topic, NbJson.Utf8Text(utf8.Slice(close + 2)));
            return true;
        }

        static string Pattern(string table) => table == null ? "{*" : "{" + EscapeGlob(table) + ".*";

        static string EscapeGlob(string s)
        {
            var sb = new StringBuilder(s.Length);
            foreach (char c in s)
            {
                if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') sb.Append('\\');
                sb.Append(c);
            }
            return sb.ToString();
        }

        public IEnumerable<NbKey> ReadKeys(string table = null) => Pages(table, values: false).SelectMany(page => page.Keys);

        public IEnumerable<NbEntry> Read(string table = null) => Pages(table, values: true).SelectMany(page => page.Entries);

        // What one read has asked Redis for and not yet read back.
        sealed class ScanRead
        {
            public ScanRead(string table, bool values) { Table = table; Values = values; Pattern = RedisNbStore.Pattern(table); }
            public readonly string Table, Pattern;
            public readonly bool Values;
            public readonly NameTable Names = new NameTable();
            public readonly ByteArena Arena = new ByteArena();
            public readonly RespArguments Arguments = new RespArguments();
            public bool ScanPending;
            public int MgetsPending;
            public string NotStringsSha;  // a keys-only read's script, loaded once for its batches
            // Keys MGET answered nil for: deleted since the SCAN, or holding another type than a string.
            public readonly List<byte[]> Suspects = new List<byte[]>();
        }

        // The NB objects of a SCAN page at a time. Each SCAN goes out as soon as the cursor before
        // it is read, and a page's MGETs as soon as its keys are, so Redis scans and looks up
        // values while the client parses replies and the caller takes the page before. Replies
        // are still in flight while the caller has a page: until the read ends, the store
        // refuses another read or a write rather than mix their replies.
        IEnumerable<(List<NbKey> Keys, List<NbEntry> Entries)> Pages(string table, bool values)
        {
            NotWhileReading();
            _reading = true;
            var read = new ScanRead(table, values);
            try
            {
                var keys = Guard("read", () =>
                {
                    if (!values) read.NotStringsSha = LoadScript(NotStringsScript);
                    SendScan("0", read);
                    return NextPage(read);
                });
                while (true)
                {
                    var next = read.ScanPending ? Guard("read", () => NextPage(read)) : null;
                    var entries = Guard("read", () => values ? ReadValues(keys, read) : ReadTypes(keys, read));
                    if (next == null && read.Suspects.Count > 0) Guard("read", () => CheckSuspects(read));
                    yield return (keys, entries);
                    if (next == null) yield break;
                    keys = next;
                }
            }
            finally
            {
                Drain(read);
                _reading = false;
            }
        }

        // A read under way has replies in flight, which another command would take for its own.
        void NotWhileReading()
        {
            if (_reading) throw new InvalidOperationException($"The Redis NB database at {Location} is being read; finish that read before another read or a write.");
        }

        void SendScan(string cursor, ScanRead read)
        {
            _connection.Command("SCAN", cursor, "MATCH", read.Pattern, "COUNT", ScanPageSize.ToString(CultureInfo.InvariantCulture));
            _connection.Flush();
            read.ScanPending = true;
        }

        // Reads a SCAN reply, sending the next SCAN first, then the MGETs of the page's NB keys
        // (other keys are skipped). The keys go back to Redis as the bytes they came as.
        [MethodImpl(Hot.Optimize)]
        List<NbKey> NextPage(ScanRead read)
        {
            if (_connection.ReadArrayLength() != 2) throw new IOException("Redis answered SCAN with something other than a cursor and keys.");
            string cursor = NbJson.Utf8Text(_connection.ReadBulkBytes());
            read.ScanPending = false;
            if (cursor != "0") SendScan(cursor, read);
            long count = _connection.ReadArrayLength();
            var keys = new List<NbKey>((int)Math.Max(0, count));
            var arguments = read.Arguments;
            arguments.Clear();
            byte[] notUtf8 = null;
            for (long i = 0; i < count; i++)
            {
                var text = _connection.ReadBulkBytes();
                NbKey key;
                try
                {
                    if (!TryParseKey(text, out key, read.Names) || (read.Table != null && key.Table != read.Table)) continue;
                }
                catch (DecoderFallbackException)
                {
                    // Such a key could not be written back as it is: stop rather than lose the object
                    // (after the rest of the page, so that the connection stays in step).
                    notUtf8 = notUtf8 ?? text.ToArray();
                    continue;
                }
                keys.Add(key);
                arguments.Add(text);
            }
            if (notUtf8 != null) throw NbKeyException.NotUtf8(Location, notUtf8);
            // Values: MGET, which answers nil for a key of another type. Keys alone: the script
            // below, which answers with the keys that are not strings (a batch each, like MGET).
            for (int at = 0; at < keys.Count; at += BatchSize)
            {
                int batch = Math.Min(BatchSize, keys.Count - at);
                _connection.Array(batch + (read.Values ? 1 : 3));
                if (read.Values) _connection.Bulk("MGET");
                else
                {
                    _connection.Bulk("EVALSHA");
                    _connection.Bulk(read.NotStringsSha);
                    _connection.Bulk(batch.ToString(CultureInfo.InvariantCulture));
                }
                _connection.Bulks(arguments, at, batch);
                read.MgetsPending++;
            }
            _connection.Flush();
            return keys;
        }

        // Reads the replies a read left in flight when it ended early, so that the connection can be used again.
        void Drain(ScanRead read)
        {
            try
            {
                for (int n = (read.ScanPending ? 1 : 0) + read.MgetsPending; n > 0; n--) _connection.ReadReply();
            }
            catch (Exception e) when (e is IOException || e is TimeoutException || e is RespErrorException)
            {
                _connection.Dispose();
            }
        }

        [MethodImpl(Hot.Optimize)]
        List<NbEntry> ReadValues(List<NbKey> keys, ScanRead read)
        {
            var entries = new List<NbEntry>(keys.Count);
            for (int at = 0; at < keys.Count; at += BatchSize)
            {
                long count = _connection.ReadArrayLength();
                read.MgetsPending--;
                if (count != Math.Min(BatchSize, keys.Count - at)) throw new IOException("Redis answered MGET with another number of values than keys asked for.");
                for (int i = 0; i < count; i++)
                {
                    if (_connection.TryReadBulk(read.Arena, out var value)) entries.Add(new NbEntry(keys[at + i], value));
                    else read.Suspects.Add(Encoding.UTF8.GetBytes(FormatKey(keys[at + i]))); // deleted since the SCAN, or not a string
                }
            }
            return entries;
        }

        // Each key a string holds, or none: its positions (from 0) and types otherwise.
        const string NotStringsScript =
            "local r = {} for i, k in ipairs(KEYS) do local t = redis.call('TYPE', k)['ok'] " +
            "if t ~= 'string' then r[#r + 1] = i - 1 r[#r + 1] = t end end return r";

        // Loads a script into Redis' script cache; gives its SHA-1, for EVALSHA.
        string LoadScript(string script)
        {
            _connection.Command("SCRIPT", "LOAD", script);
            _connection.Flush();
            var reply = _connection.ReadReply();
            return reply as string ?? Encoding.ASCII.GetString((byte[])reply);
        }

        // The keys of a page without their values: those the script finds deleted since the SCAN are
        // dropped, one of another type is refused, as a read of the values refuses it.
        List<NbEntry> ReadTypes(List<NbKey> keys, ScanRead read)
        {
            var gone = new HashSet<int>();
            NbKeyException wrong = null;
            for (int at = 0; at < keys.Count; at += BatchSize)
            {
                var reply = (object[])_connection.ReadReply();
                read.MgetsPending--;
                for (int i = 0; i + 1 < reply.Length; i += 2)
                {
                    int index = at + (int)(long)reply[i];
                    string type = Encoding.UTF8.GetString((byte[])reply[i + 1]);
                    if (type == "none") gone.Add(index);
                    else wrong = wrong ?? NbKeyException.WrongType(Location, Encoding.UTF8.GetBytes(FormatKey(keys[index])), type);
                }
            }
            if (wrong != null) throw wrong;
            if (gone.Count > 0)
            {
                var left = keys.Where((k, i) => !gone.Contains(i)).ToList();
                keys.Clear();
                keys.AddRange(left);
            }
            return null;
        }

        // At the end of a read, when no reply is in flight any more: the type of each key MGET answered
        // nil for, in one pipeline. Deleted since the SCAN is fine; another type is refused.
        int CheckSuspects(ScanRead read)
        {
            foreach (var key in read.Suspects)
            {
                _connection.Array(2);
                _connection.Bulk("TYPE");
                _connection.Bulk(key);
            }
            _connection.Flush();
            NbKeyException wrong = null;
            foreach (var key in read.Suspects)
            {
                string type = (string)_connection.ReadReply();
                if (type != "none") wrong = wrong ?? NbKeyException.WrongType(Location, key, type);
            }
            if (wrong != null) throw wrong;
            return 0;
        }

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null)
        {
            // A run of puts is one MSET per batch, a run of deletes one DEL; Redis runs a
            // connection's commands in the order sent, so a delete and a put of one key keep theirs.
            NotWhileReading();
            var Prefix = KeyPrefixes();
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
                        _connection.Bulk(Prefix(e.Key), e.Key.Id);
                        if (!delete) _connection.Bulk(e.Value.Span);
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

        // One conditional batch: every key is checked first (flag '1': holds this value, else
        // absent; a value of another type differs from any), then, if none differs, each put
        // ('p') is a SET and each delete a DEL. Returns the 1-based positions that differ.
        const string CheckAndSetScript = @"
local f, n, bad = ARGV[1], #KEYS, {}
for i = 1, n do
  local v = redis.pcall('GET', KEYS[i])
  if string.byte(f, i) == 49 then
    if v ~= ARGV[1 + i] then bad[#bad + 1] = i end
  elseif v ~= false then bad[#bad + 1] = i end
end
if #bad > 0 then return bad end
for i = 1, n do
  if string.byte(f, n + i) == 112 then redis.call('SET', KEYS[i], ARGV[1 + n + i]) else redis.call('DEL', KEYS[i]) end
end
return bad";

        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int> progress = null)
        {
            // A script per batch: Redis runs it whole, so the check and the writes are atomic, and
            // the batches are pipelined as plain writes are.
            NotWhileReading();
            var Prefix = KeyPrefixes();
            int written = 0;
            var changed = new List<NbKey>();
            var inFlight = new Queue<List<NbEntry>>();
            var flags = new StringBuilder(2 * BatchSize);
            var olds = new List<ReadOnlyMemory<byte>?>(BatchSize);
            Guard("write", () =>
            {
                foreach (var batch in Chunk(changes, BatchSize))
                {
                    int n = batch.Count;
                    flags.Clear();
                    olds.Clear();
                    foreach (var e in batch)
                    {
                        var old = expected(e.Key);
                        olds.Add(old);
                        flags.Append(old.HasValue ? '1' : '0');
                    }
                    foreach (var e in batch) flags.Append(e.IsDelete ? 'd' : 'p');
                    _connection.Array(4 + 3 * n);
                    _connection.Bulk("EVAL");
                    _connection.Bulk(CheckAndSetScript);
                    _connection.Bulk(n.ToString(CultureInfo.InvariantCulture));
                    foreach (var e in batch) _connection.Bulk(Prefix(e.Key), e.Key.Id);
                    _connection.Bulk(flags.ToString());
                    foreach (var old in olds) _connection.Bulk(old.HasValue ? old.Value.Span : default);
                    foreach (var e in batch) _connection.Bulk(e.IsDelete ? default : e.Value.Span);
                    inFlight.Enqueue(batch);
                    if (inFlight.Count >= BatchesInFlight) Complete();
                }
                _connection.Flush();
                while (inFlight.Count > 0) Complete();
                return 0;
            });
            if (changed.Count > 0) throw new NbConflictException(Location, changed, written);

            void Complete()
            {
                _connection.Flush();
                var batch = inFlight.Dequeue();
                var bad = (object[])_connection.ReadReply();
                if (bad.Length == 0) written += batch.Count;
                foreach (long i in bad) changed.Add(batch[(int)i - 1].Key);
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
