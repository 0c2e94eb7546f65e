using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A Dragonflow NB database in Redis, in the layouts of Dragonflow's redis driver:
    /// key <c>{table.topic}.id</c> up to queens, <c>{table.topic}id</c> on master (topic empty when
    /// none, see <see cref="RedisKeys"/>), value the object's JSON text. Reads take keys of either
    /// layout; writes use the layout in use (<see cref="NbStoreParts.UseKeyLayout"/>), and a
    /// conditional write moves an object out of the other layout. Reads are SCAN plus batched MGET, writes pipelined batches of MSET/DEL,
    /// both over a <see cref="RespConnection"/> of the store's own; the upgrade lock's single-key
    /// atomic commands go through StackExchange.Redis (<see cref="RedisLockSlot"/>), connected when
    /// first used. Reads and writes are for one thread at a time, and one at a time: while a read
    /// is being enumerated, another read or a write is refused.
    /// </summary>
    public sealed partial class RedisNbStore : INbStore
    {
        internal const int BatchSize = 1000;
        const int BatchesInFlight = 8;
        const int ScanPageSize = 5000;
        static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

        readonly RespConnection _connection;
        readonly ConfigurationOptions? _options;   // null for a cluster's master, whose cluster holds the lock
        readonly object _gate = new object();
        ConnectionMultiplexer? _multiplexer;
        bool _reading;
        Dictionary<NbKeyLayout, string>? _layoutsRead;  // what the read of every table that was the store's last command found (FindKeyLayouts)
        RedisKeys _layout = RedisKeys.Queens;
        volatile string? _tlsProblem;  // why StackExchange.Redis's TLS connection refused the server's certificate

        // A master of a Redis Cluster (RedisClusterNbStore): the slot of each key, and the master
        // and its slots for errors; both null for a single server, both set for a master. A cluster's
        // multi-key commands and scripts take keys of one slot only, so its batches are cut where the slot changes.
        readonly Func<NbKey, int>? _slotOf;
        readonly string? _master;
        readonly NbEndpoint _masterEndpoint;
        readonly string _logIndexKey, _checkAndSetScript, _logIndexRemoveScript;

        RedisNbStore(RespConnection connection, ConfigurationOptions? options, string location, Func<NbKey, int>? slotOf = null, string? master = null, NbEndpoint masterEndpoint = default)
        {
            _connection = connection;
            _options = options;
            Location = location;
            Parts = new RedisParts(this);
            _slotOf = slotOf;
            _master = master;
            _masterEndpoint = masterEndpoint;
            _logIndexKey = slotOf == null ? LogIndexKey : ClusterLogIndexKey;
            _checkAndSetScript = CheckAndSetScript.Replace(LogIndexKey, _logIndexKey);
            _logIndexRemoveScript = LogIndexRemoveScript.Replace(LogIndexKey, _logIndexKey);
        }

        /// <summary>A connection to one master of a Redis Cluster, whose keys go to it by <paramref name="slotOf"/>; a reply slower than <paramref name="replyTimeout"/> fails the operation.</summary>
        internal static RedisNbStore OpenClusterMaster(NbEndpoint endpoint, string? user, string? password, NbTls? tls, string location, Func<NbKey, int> slotOf, string master, TimeSpan replyTimeout)
            => new RedisNbStore(RespConnection.Open(endpoint.Host, endpoint.Port, user, password, 0, ConnectTimeout, tls, replyTimeout), null, location, slotOf, master, endpoint);

        public string Location { get; }

        public NbStoreParts Parts { get; }

        sealed class RedisParts : NbStoreParts
        {
            readonly RedisNbStore _store;
            public RedisParts(RedisNbStore store) { _store = store; }
            public override ILockSlot LockSlot(NbKey key) => new RedisLockSlot(_store.LockDatabase, key, _store.Location);
            public override NbKeyLayout KeyLayout => _store._layout;
            public override NbKeyLayout? KeyLayoutAt(string release) => RedisKeys.At(release);
            public override IReadOnlyDictionary<NbKeyLayout, string> FindKeyLayouts() => _store.FindKeyLayouts();
            public override void UseKeyLayout(NbKeyLayout layout) =>
                _store._layout = layout as RedisKeys ?? throw new ArgumentException($"'{layout}' is not a key layout of Redis.", nameof(layout));
            public override string BackupName => _store.Location;
        }

        // The database through StackExchange.Redis, for the lock's atomic single-key commands; it may be used from any thread.
        IDatabase LockDatabase()
        {
            lock (_gate)
            {
                if (_multiplexer == null)
                {
                    if (_options == null) throw new InvalidOperationException($"{_master} of the Redis Cluster at {Location} has no lock of its own: the cluster's store holds it.");
                    try { _multiplexer = ConnectionMultiplexer.Connect(_options); }
                    catch (RedisConnectionException e) when (_tlsProblem != null) { throw new NbCertificateException(Location, _tlsProblem, e); }
                    catch (RedisConnectionException e) { throw Unreachable(Location, e, _options.Password); }
                }
                return _multiplexer.GetDatabase();  // the options' DefaultDatabase
            }
        }

        /// <summary>Opens <c>redis://[[user]:password@]host:port[/db]</c>, or <c>rediss://</c> over TLS (see <see cref="NbTlsFiles"/>).</summary>
        public static RedisNbStore Open(NbDatabaseUri uri)
        {
            if (uri.Kind != "redis") throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}' is not a Redis URI (redis://host:port/db).");
            var endpoint = uri.Endpoints[0];
            int database = uri.RedisDatabase;
            string? user = UserOf(uri), password = uri.Password;
            string location = uri.Location;
            var tls = NbTls.Load(uri);
            RedisNbStore? store = null;
            var options = Options(uri, tls, (_, problem) => { if (store != null) store._tlsProblem = problem; });
            options.DefaultDatabase = database;
            try
            {
                store = new RedisNbStore(RespConnection.Open(endpoint.Host, endpoint.Port, user, password, database, ConnectTimeout, tls), options, location);
                return store;
            }
            catch (AuthenticationException e) { throw new NbCertificateException(location, e.Message, e); }
            catch (Exception e) when (e is SocketException || e is IOException || e is TimeoutException || e is RespErrorException)
            {
                throw Unreachable(location, e, password, tls != null);
            }
        }

        // Redis's own user, "default", is the one a password alone signs in as (and the only one before Redis 6).
        internal static string? UserOf(NbDatabaseUri uri) => uri.User == "default" ? null : uri.User;

        /// <summary>
        /// StackExchange.Redis's options for <paramref name="uri"/>'s endpoints, its user and password and
        /// TLS; a server certificate refused is told to <paramref name="refused"/> (the node, why).
        /// </summary>
        internal static ConfigurationOptions Options(NbDatabaseUri uri, NbTls? tls, Action<NbEndpoint, string> refused)
        {
            var options = new ConfigurationOptions
            {
                User = UserOf(uri),
                Password = uri.Password,
                AbortOnConnectFail = true,
                ConnectTimeout = (int)ConnectTimeout.TotalMilliseconds,
                SyncTimeout = 30000,
                AsyncTimeout = 30000,
                ConnectRetry = 1,
                // A lost connection fails the commands at once rather than queueing them for a reconnect.
                BacklogPolicy = BacklogPolicy.FailFast,
            };
            foreach (var e in uri.Endpoints) options.EndPoints.Add(e.Host, e.Port);
            // Ssl stays off: the tunnel starts TLS on each connection, checked against its own node.
            if (tls != null) options.Tunnel = new RedisTlsTunnel(tls, ConnectTimeout, refused);
            return options;
        }

        // Redis's error may quote the AUTH command, password and all (AUTH renamed away, a proxy):
        // then the error carries the masked text only, not the exception that holds it.
        internal static NbStoreException Unreachable(string location, Exception e, string? password, bool tls = false)
        {
            string said = FirstLine(e.Message), scrubbed = NbDatabaseUri.Scrub(said, password);
            return new NbStoreException($"Cannot reach the Redis NB database at {location}: {scrubbed} Check that redis-server runs there, the address is right and so is the password, if any" +
                (tls ? "; that it serves TLS on that port, and whether it asks for a client certificate (cert= and key=)." : "."),
                NbDatabaseUri.Scrub(e.ToString(), password) == e.ToString() ? e : null);
        }

        static string FirstLine(string s) => s.Split('\n')[0].Trim();

        /// <summary>Dragonflow's key for (table, topic, id) up to queens, <c>{table.topic}.id</c>.</summary>
        public static string FormatKey(NbKey key) => RedisKeys.Format(key);

        /// <summary>Why (table, topic, id) would not read back from <see cref="FormatKey"/>'s key as itself; null when it would.</summary>
        public static string? KeyProblem(NbKey key) => RedisKeys.Problem(key);

        /// <summary>Parses a Dragonflow key of either layout from its bytes; false for keys that are not NB objects.</summary>
        /// <exception cref="DecoderFallbackException">The key has the shape of an NB key but is not UTF-8.</exception>
        public static bool TryParseKey(ReadOnlySpan<byte> utf8, out NbKey key, NameTable names) => RedisKeys.TryParse(utf8, out key, names);

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int>? progress = null)
        {
            // A run of puts is one MSET per batch, a run of deletes one DEL; Redis runs a
            // connection's commands in the order sent, so a delete and a put of one key keep theirs.
            // Log rows also go in (or out of) the log's set of keys, in the same pipeline.
            CompleteLogIndex(changes);
            var Prefix = _layout.Prefixes();
            int written = 0;
            Pipeline(Runs(changes, _slotOf), run =>
            {
                bool delete = run[0].IsDelete;
                _connection.Array(1 + (delete ? run.Count : 2 * run.Count));
                _connection.Bulk(delete ? "DEL" : "MSET");
                foreach (var e in run)
                {
                    _connection.Bulk(Prefix(e.Key), e.Key.Id);
                    if (!delete) _connection.Bulk(e.Value.Span);
                }
                var logRows = run.Where(IsLogRow).ToList();
                if (logRows.Count == 0) return;
                if (delete)
                {
                    _connection.Array(3 + logRows.Count);
                    _connection.Bulk("EVAL");
                    _connection.Bulk(_logIndexRemoveScript);
                    _connection.Bulk(logRows.Count.ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    _connection.Array(2 + logRows.Count);
                    _connection.Bulk("SADD");
                    _connection.Bulk(_logIndexKey);
                }
                foreach (var e in logRows) _connection.Bulk(RedisKeys.Format(e.Key));   // the set holds the queens form
            }, run =>
            {
                _connection.ReadReply();
                if (run.Any(IsLogRow)) _connection.ReadReply();
                written += run.Count;
                progress?.Report(written);
            });
        }

        // One conditional batch of n objects: KEYS holds each object's key in the layout in use,
        // then its key in the other layout (the same key again when it has none). Every object
        // is checked first: where the run read it (flag '1'), each layout holds either its value
        // or nothing, and one holds it; where the run read none ('0'), neither holds anything. A
        // value of another type differs from any. The other layout is read by one MGET for the
        // batch, which reads such a value as absent, so an object neither read finds is asked for
        // there by GET. (A value of another type there beside the object is left for the next read
        // of the database to refuse, naming it.) Then, if none differs, each put ('p') is
        // a SET and each delete ('d') a DEL, and an object found in the other layout is deleted
        // there; a log row ('P', 'D': the client tells, so that the script makes no string per key,
        // which Lua would intern) goes in or out of the log's set by its key in the queens form,
        // whatever the layout. Returns the 1-based positions that differ. A 'c' after the flags
        // only checks: nothing is written.
        const string CheckAndSetScript = @"
local f, n, bad, other, touched = ARGV[1], #KEYS / 2, {}, {}, false
local byte, pcall, call, index = string.byte, redis.pcall, redis.call, '" + LogIndexKey + @"'
local at, others = {}, {}
for i = 1, n do
  if KEYS[n + i] ~= KEYS[i] then others[#others + 1] = KEYS[n + i]; at[i] = #others end
end
local there = #others > 0 and call('MGET', unpack(others)) or {}
for i = 1, n do
  local v, w = pcall('GET', KEYS[i]), at[i] and there[at[i]] or false
  if v == false and w == false and at[i] then w = pcall('GET', KEYS[n + i]) end
  other[i] = w ~= false
  if byte(f, i) == 49 then
    local read = ARGV[1 + i]
    if (v ~= false and v ~= read) or (w ~= false and w ~= read) or (v == false and w == false) then bad[#bad + 1] = i end
  elseif v ~= false or w ~= false then bad[#bad + 1] = i end
end
if #bad > 0 or byte(f, 2 * n + 1) == 99 then return bad end
for i = 1, n do
  local op = byte(f, n + i)
  if op == 112 or op == 80 then call('SET', KEYS[i], ARGV[1 + n + i]) else call('DEL', KEYS[i]) end
  if other[i] then call('DEL', KEYS[n + i]) end
  if op < 97 then
    touched = true
    call(op == 80 and 'SADD' or 'SREM', index, (string.gsub(KEYS[i], '^(%b{})%.?', '%1.', 1)))
  end
end
if touched and call('SCARD', index) == 1 then call('DEL', index) end
return bad";

        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int>? progress = null)
        {
            var changed = CheckAndSet(changes, expected, progress, checkOnly: false, out int written);
            if (changed.Count > 0) throw new NbConflictException(Location, changed, written);
        }

        /// <summary>The keys of <paramref name="changes"/> that do not hold what <paramref name="expected"/> gives, checked as <see cref="WriteIf"/> checks them; nothing is written.</summary>
        internal List<NbKey> Changed(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected) =>
            CheckAndSet(changes, expected, null, checkOnly: true, out _);

        List<NbKey> CheckAndSet(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int>? progress, bool checkOnly, out int written)
        {
            // A script per batch: Redis runs it whole, so the check and the writes are atomic, and
            // the batches are pipelined as plain writes are. Once a batch found a change, no
            // further batch is sent (a check sends them all, to name every key that changed).
            if (!checkOnly) CompleteLogIndex(changes);
            var layout = _layout;
            var Prefix = layout.Prefixes();
            int done = 0;
            var changed = new List<NbKey>();
            var flags = new StringBuilder(2 * BatchSize);
            var olds = new List<ReadOnlyMemory<byte>?>(BatchSize);
            Pipeline(_slotOf == null ? Batches.Chunk(changes, BatchSize) : Runs(changes, _slotOf, byKind: false), batch =>
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
                foreach (var e in batch) flags.Append(IsLogRow(e) ? (e.IsDelete ? 'D' : 'P') : (e.IsDelete ? 'd' : 'p'));
                if (checkOnly) flags.Append('c');
                _connection.Array(4 + 4 * n);
                _connection.Bulk("EVAL");
                _connection.Bulk(_checkAndSetScript);
                _connection.Bulk((2 * n).ToString(CultureInfo.InvariantCulture));
                foreach (var e in batch) _connection.Bulk(Prefix(e.Key), e.Key.Id);
                foreach (var e in batch)
                {
                    string? other = layout.OtherFormOf(e.Key);
                    if (other == null) _connection.Bulk(Prefix(e.Key), e.Key.Id);
                    else _connection.Bulk(other);
                }
                _connection.Bulk(flags.ToString());
                foreach (var old in olds) _connection.Bulk(old.HasValue ? old.Value.Span : default);
                foreach (var e in batch) _connection.Bulk(e.IsDelete || checkOnly ? default : e.Value.Span);
            }, batch =>
            {
                var bad = _connection.ReadArray();
                if (bad.Length == 0 && !checkOnly) done += batch.Count;
                foreach (var i in bad) changed.Add(batch[Position(i, 1, batch.Count, "EVAL") - 1].Key);
                progress?.Report(done);
            }, stopSending: checkOnly ? null : () => changed.Count > 0);
            written = done;
            return changed;
        }

        // Sends each batch as one command, pipelined: at most BatchesInFlight unanswered at a
        // time. <paramref name="complete"/> reads the reply of each batch, in the order sent.
        // Once <paramref name="stopSending"/> says so, the batches sent are finished and no more sent.
        void Pipeline(IEnumerable<List<NbEntry>> batches, Action<List<NbEntry>> send, Action<List<NbEntry>> complete, Func<bool>? stopSending = null)
        {
            NotWhileReading();
            var inFlight = new Queue<List<NbEntry>>();
            Guard("write", () =>
            {
                foreach (var batch in batches)
                {
                    if (stopSending?.Invoke() == true) break;
                    send(batch);
                    inFlight.Enqueue(batch);
                    if (inFlight.Count >= BatchesInFlight) Complete();
                }
                _connection.Flush();
                while (inFlight.Count > 0) Complete();
                return 0;
            });

            void Complete()
            {
                _connection.Flush();
                complete(inFlight.Dequeue());
            }
        }

        // A reply of another shape than the command returns: Guard reports it as the store's error, naming the server (not as a lost connection).
        static InvalidDataException UnexpectedReply(string command, string what) =>
            new InvalidDataException($"Redis answered {command} with something other than {what}.");

        // A key's position, from first to last, in a script's reply.
        static int Position(object? item, int first, int last, string command) =>
            item is long p && p >= first && p <= last ? (int)p : throw UnexpectedReply(command, $"positions of keys from {first} to {last}");

        T Guard<T>(string what, Func<T> operation)
        {
            try { return operation(); }
            // A cluster's master (_master set):
            catch (RespErrorException e) when (_master is string master && NbClusterChangedException.IsRedirect(e.Message))
            {
                _connection.Dispose();
                throw NbClusterChangedException.Redirected(Location, master, what, FirstLine(e.Message));
            }
            catch (IOException e) when (_master is string master)
            {
                _connection.Dispose();
                throw NbClusterChangedException.Lost(Location, master, what, FirstLine(e.Message), e);
            }
            catch (TimeoutException e) when (_master is string master)
            {
                _connection.Dispose();
                throw new NbClusterTimeoutException(Location, master, _masterEndpoint, what, FirstLine(e.Message), e);
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is TimeoutException || e is RespErrorException)
            {
                _connection.Dispose();  // replies may be left unread: the connection is out of step
                throw new NbStoreException($"Could not {what} the Redis NB database at {Location}{(_master == null ? "" : $", {_master}")}: {FirstLine(e.Message)}", e);
            }
        }

        // Consecutive changes of one kind (any kind unless byKind), and of one slot when slotOf is given, at most a batch at a time.
        static IEnumerable<List<NbEntry>> Runs(IEnumerable<NbEntry> changes, Func<NbKey, int>? slotOf, bool byKind = true)
        {
            var run = new List<NbEntry>(BatchSize);
            foreach (var e in changes)
            {
                if (run.Count == BatchSize || (run.Count > 0 && ((byKind && run[0].IsDelete != e.IsDelete) || (slotOf != null && slotOf(run[0].Key) != slotOf(e.Key)))))
                {
                    yield return run;
                    run = new List<NbEntry>(BatchSize);
                }
                run.Add(e);
            }
            if (run.Count > 0) yield return run;
        }

        public void Dispose()
        {
            _connection.Dispose();
            lock (_gate) _multiplexer?.Dispose();
        }
    }
}
