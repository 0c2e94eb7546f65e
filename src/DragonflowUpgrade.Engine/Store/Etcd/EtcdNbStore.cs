using System;
using DragonflowUpgrade.Engine.Json;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A Dragonflow NB database in etcd v3, in the layout of Dragonflow's etcd driver: key
    /// <c>/table/id</c>, value the object's JSON text (the <c>unique_key</c> counters are
    /// <c>/unique_key/table</c> holding the number as text). It speaks to etcd's JSON gateway
    /// (<c>/v3/kv/range</c>, <c>/v3/kv/txn</c>; etcd 3.4 or newer) over plain HTTP.
    /// <para>
    /// The key has no topic. An object's topic is read from its value: the <c>"topic"</c>
    /// string of a JSON object, else none; the module's own tables (<c>df_upgrade_*</c>) never
    /// have one. So two keys that differ only by topic are one etcd key: in one
    /// <see cref="Write"/>, a put wins over a delete of the same table and id under another
    /// topic (an object that moved topic), and otherwise the later change to a key wins.
    /// </para>
    /// <para>
    /// Reads are range requests over the prefix <c>/table/</c> (all tables: <c>/</c>), a page
    /// of <see cref="PageSize"/> keys at a time, every page at the revision of the first, so a
    /// read is one consistent view. Writes are transactions of at most <see cref="MaxTxnOps"/>
    /// puts and deletes (etcd's default <c>--max-txn-ops</c>) and about 1 MiB (under its
    /// default <c>--max-request-bytes</c>), several in flight.
    /// </para>
    /// </summary>
    public sealed class EtcdNbStore : INbStore
    {
        internal const int PageSize = 5000;
        internal const int MaxTxnOps = 128;
        const int MaxTxnBytes = 1 << 20;
        const int TxnsInFlight = 4;
        const int DefaultPort = 2379;
        static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

        readonly HttpClient _http;
        readonly string _user, _password;
        volatile string _token;

        EtcdNbStore(HttpClient http, string location, string user, string password)
        {
            _http = http;
            Location = location;
            _user = user;
            _password = password;
        }

        /// <summary><c>etcd://host:port[,host:port…]</c>, without the user and password.</summary>
        public string Location { get; }

        /// <summary>
        /// Opens <c>etcd://[user:password@]host:port[,host:port…]</c> (port 2379 when none is given):
        /// the first endpoint that answers. With a user, it signs in through the gateway
        /// (<c>/v3/auth/authenticate</c>) and signs in again when the token expires.
        /// </summary>
        public static EtcdNbStore Open(NbDatabaseUri uri)
        {
            if (uri.Scheme != "etcd") throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}' is not an etcd URI (etcd://host:port).");
            NbStoreException failure = null;
            foreach (var endpoint in uri.Endpoints)
            {
                try { return Open(endpoint, uri.Location, uri.User, uri.Password); }
                catch (NbStoreException e) { failure = e; }
            }
            throw failure;
        }

        static EtcdNbStore Open(NbEndpoint endpoint, string location, string user, string password)
        {
            var handler = new HttpClientHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None };
            try { handler.MaxConnectionsPerServer = TxnsInFlight + 4; }
            catch (PlatformNotSupportedException) { }
            var http = new HttpClient(handler) { BaseAddress = new Uri($"http://{endpoint}/"), Timeout = RequestTimeout };
            var store = new EtcdNbStore(http, location, user, password);
            try
            {
                if (user != null) store.Authenticate();
                // A read of one key (the upgrade lock's): it proves that the gateway answers and the user may read.
                store.Call("/v3/kv/range", w =>
                {
                    w.WriteBase64String("key", Utf8("/" + ModuleTables.Prefix + "lock/lock"));
                    w.WriteBoolean("keys_only", true);
                }, "reach").Dispose();
            }
            catch
            {
                store.Dispose();
                throw;
            }
            return store;
        }

        /// <summary>Dragonflow's key for (table, topic, id): <c>/table/id</c>; the topic is not part of it.</summary>
        public static string FormatKey(NbKey key) => "/" + key.Table + "/" + key.Id;

        /// <summary>Why (table, id) would not read back from <see cref="FormatKey"/>'s key as itself; null when it would. The topic is not in the key.</summary>
        public static string KeyProblem(NbKey key)
        {
            if (string.IsNullOrEmpty(key.Table)) return "has no table";
            if (key.Table.IndexOf('/') >= 0) return "has '/' in its table";
            if (string.IsNullOrEmpty(key.Id)) return "has no id";
            return null;
        }

        /// <summary>
        /// Parses a Dragonflow key and takes the topic from the value; false for keys that are
        /// not NB objects (not <c>/table/id</c> with a table and an id).
        /// </summary>
        public static bool TryParseKey(string text, byte[] value, out NbKey key, NameTable names = null)
        {
            key = default;
            if (text == null || text.Length < 3 || text[0] != '/') return false;
            int slash = text.IndexOf('/', 1);
            if (slash <= 1) return false;  // an empty id is read, for StoredValue to refuse as on any store
            string table = text.Substring(1, slash - 1);
            string topic = ModuleTables.IsModuleTable(table) ? null : NbJson.TopicOf(value);
            if (names != null)
            {
                table = names.Share(table);
                topic = names.Share(topic);
            }
            key = new NbKey(table, topic, text.Substring(slash + 1));
            return true;
        }

        public IEnumerable<NbKey> ReadKeys(string table = null)
        {
            // The topic is in the value, so keys alone cannot be read.
            foreach (var e in Read(table)) yield return e.Key;
        }

        public IEnumerable<NbEntry> Read(string table = null)
        {
            byte[] start = Utf8(table == null ? "/" : "/" + table + "/");
            byte[] end = PrefixEnd(start);
            long revision = 0;
            var names = new NameTable();
            var page = RangeAsync(start, end, revision, names);
            while (page != null)
            {
                var (entries, more, lastKey, rev) = Await(page, "read");
                revision = rev;
                // Ask for the next page before handing this one out.
                page = more ? RangeAsync(After(lastKey), end, revision, names) : null;
                foreach (var e in entries) yield return e;
            }
        }

        async Task<(List<NbEntry> Entries, bool More, byte[] LastKey, long Revision)> RangeAsync(byte[] key, byte[] end, long revision, NameTable names)
        {
            using (var doc = await CallAsync("/v3/kv/range", w =>
            {
                w.WriteBase64String("key", key);
                w.WriteBase64String("range_end", end);
                w.WriteNumber("limit", PageSize);
                if (revision > 0) w.WriteNumber("revision", revision);
            }, "read").ConfigureAwait(false))
            {
                var root = doc.RootElement;
                long rev = revision > 0 ? revision : Revision(root);
                var entries = new List<NbEntry>();
                byte[] last = null;
                if (root.TryGetProperty("kvs", out var kvs))
                {
                    foreach (var kv in kvs.EnumerateArray())
                    {
                        last = kv.GetProperty("key").GetBytesFromBase64();
                        byte[] value = kv.TryGetProperty("value", out var v) ? v.GetBytesFromBase64() : Array.Empty<byte>();
                        if (TryParseKey(KeyText(last), value, out var nbKey, names))
                            entries.Add(new NbEntry(nbKey, value));
                    }
                }
                bool more = last != null && root.TryGetProperty("more", out var m) && m.ValueKind == JsonValueKind.True;
                return (entries, more, last, rev);
            }
        }

        // The text of a key read back. A key of the shape /table/id that is not UTF-8 is refused:
        // read leniently, its object would be written back under another key, beside the original.
        string KeyText(byte[] key)
        {
            try { return Json.NbJson.Utf8Text(key); }
            catch (DecoderFallbackException)
            {
                int slash = key.Length > 0 && key[0] == '/' ? Array.IndexOf(key, (byte)'/', 1) : -1;
                if (slash > 1 && slash < key.Length - 1) throw NbKeyException.NotUtf8(Location, key);
                return null; // not an NB key: skipped like any other
            }
        }

        static long Revision(JsonElement root) =>
            root.TryGetProperty("header", out var h) && h.TryGetProperty("revision", out var r) && long.TryParse(r.GetString(), out long rev) ? rev : 0;

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null)
        {
            var ops = Collapse(changes);
            int written = 0;
            var pending = new Queue<(int Count, Task Done)>();
            Exception failure = null;
            try
            {
                foreach (var txn in Transactions(ops))
                {
                    pending.Enqueue((txn.Count, TxnAsync(txn)));
                    if (pending.Count >= TxnsInFlight) Complete(pending.Dequeue());
                }
            }
            catch (NbStoreException e) { failure = e; }
            // Let every request sent finish before reporting, so none is left running behind the caller.
            while (pending.Count > 0)
            {
                try { Complete(pending.Dequeue()); }
                catch (NbStoreException e) { failure = failure ?? e; }
            }
            if (failure != null) throw failure;
            if (written < changes.Count) progress?.Report(changes.Count);

            void Complete((int Count, Task Done) p)
            {
                Await(p.Done, "write");
                written += p.Count;
                progress?.Report(Math.Min(written, changes.Count));
            }
        }

        /// <summary>One change per etcd key, in first-seen order (see the class's remarks on topics).</summary>
        static List<(string Key, NbEntry Change)> Collapse(IReadOnlyCollection<NbEntry> changes)
        {
            var index = new Dictionary<string, int>(changes.Count, StringComparer.Ordinal);
            var ops = new List<(string Key, NbEntry Change)>(changes.Count);
            foreach (var c in changes)
            {
                string key = FormatKey(c.Key);
                if (!index.TryGetValue(key, out int i)) { index.Add(key, ops.Count); ops.Add((key, c)); continue; }
                var earlier = ops[i].Change;
                if (c.IsDelete && !earlier.IsDelete && !string.Equals(earlier.Key.Topic, c.Key.Topic, StringComparison.Ordinal)) continue;
                ops[i] = (key, c);
            }
            return ops;
        }

        static IEnumerable<List<(string Key, NbEntry Change)>> Transactions(List<(string Key, NbEntry Change)> ops,
            Dictionary<string, ReadOnlyMemory<byte>?> olds = null)
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

        async Task TxnAsync(List<(string Key, NbEntry Change)> txn)
        {
            string what = txn.Count == 1 ? $"write {txn[0].Key} to" : "write";
            using (await CallAsync("/v3/kv/txn", w => WriteOps(w, "success", txn), what).ConfigureAwait(false)) { }
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
                    w.WriteBase64String("key", Utf8(key));
                }
                else
                {
                    w.WriteStartObject("request_put");
                    w.WriteBase64String("key", Utf8(key));
                    w.WriteBase64String("value", change.Value.Span);
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }

        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int> progress = null)
        {
            var ops = Collapse(changes);
            // An etcd key is one object whatever its topic: it was expected to hold what any of the keys collapsed into it held.
            var olds = new Dictionary<string, ReadOnlyMemory<byte>?>(ops.Count, StringComparer.Ordinal);
            foreach (var c in changes)
            {
                string key = FormatKey(c.Key);
                var old = expected(c.Key);
                if (!olds.TryGetValue(key, out var seen) || (!seen.HasValue && old.HasValue)) olds[key] = old;
            }
            int written = 0;
            var changed = new List<NbKey>();
            var pending = new Queue<(int Count, Task<List<NbKey>> Done)>();
            Exception failure = null;
            try
            {
                foreach (var txn in Transactions(ops, olds))
                {
                    pending.Enqueue((txn.Count, TxnIfAsync(txn, olds)));
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
            if (changed.Count > 0) throw new NbConflictException(Location, changed, written);
            progress?.Report(written);

            void Complete((int Count, Task<List<NbKey>> Done) p)
            {
                var differ = Await(p.Done, "write");
                if (differ.Count == 0) written += p.Count;
                changed.AddRange(differ);
                progress?.Report(Math.Min(written, changes.Count));
            }
        }

        // A transaction comparing each key's value (or, for a key expected absent, that it was
        // never created) before the writes; when a comparison fails it reads the keys instead,
        // to name those that differ.
        async Task<List<NbKey>> TxnIfAsync(List<(string Key, NbEntry Change)> txn, Dictionary<string, ReadOnlyMemory<byte>?> olds)
        {
            using (var doc = await CallAsync("/v3/kv/txn", w =>
            {
                w.WriteStartArray("compare");
                foreach (var (key, _) in txn)
                {
                    var old = olds[key];
                    w.WriteStartObject();
                    w.WriteBase64String("key", Utf8(key));
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
                w.WriteStartArray("failure");
                foreach (var (key, _) in txn)
                {
                    w.WriteStartObject();
                    w.WriteStartObject("request_range");
                    w.WriteBase64String("key", Utf8(key));
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }, "write").ConfigureAwait(false))
            {
                var root = doc.RootElement;
                var differ = new List<NbKey>();
                if (root.TryGetProperty("succeeded", out var s) && s.ValueKind == JsonValueKind.True) return differ;
                var responses = root.GetProperty("responses");
                int i = 0;
                foreach (var r in responses.EnumerateArray())
                {
                    var (key, change) = txn[i++];
                    byte[] now = r.TryGetProperty("response_range", out var range) && range.TryGetProperty("kvs", out var kvs) && kvs.GetArrayLength() > 0
                        ? (kvs[0].TryGetProperty("value", out var v) ? v.GetBytesFromBase64() : Array.Empty<byte>()) : null;
                    var old = olds[key];
                    if (now == null ? old.HasValue : !old.HasValue || !old.Value.Span.SequenceEqual(now)) differ.Add(change.Key);
                }
                return differ;
            }
        }

        // ---- Single-key operations, for the upgrade lock only (see UpgradeLock). ----

        /// <summary>The text value of one key, or null when it is absent.</summary>
        internal string ReadValue(string key)
        {
            using (var doc = Call("/v3/kv/range", w => w.WriteBase64String("key", Utf8(key)), "read the upgrade lock of"))
            {
                if (!doc.RootElement.TryGetProperty("kvs", out var kvs) || kvs.GetArrayLength() == 0) return null;
                var kv = kvs[0];
                return kv.TryGetProperty("value", out var v) ? Encoding.UTF8.GetString(v.GetBytesFromBase64()) : "";
            }
        }

        /// <summary>
        /// Puts <paramref name="value"/> at <paramref name="key"/> under a new lease of
        /// <paramref name="ttl"/>, in one transaction, only if the key is absent
        /// (<paramref name="expected"/> null) or holds <paramref name="expected"/>. The lease the
        /// key had before is revoked; so is the new one when nothing was put.
        /// </summary>
        internal bool PutIf(string key, string expected, string value, TimeSpan ttl)
        {
            long lease = GrantLease(ttl);
            bool done = false;
            try
            {
                long previous = Swap(key, expected, w =>
                {
                    w.WriteStartObject("request_put");
                    w.WriteBase64String("key", Utf8(key));
                    w.WriteBase64String("value", Utf8(value));
                    w.WriteString("lease", lease.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                }, out done);
                if (done && previous != 0) RevokeLease(previous);
                return done;
            }
            finally
            {
                if (!done) RevokeLease(lease);
            }
        }

        /// <summary>Deletes <paramref name="key"/> only if it holds <paramref name="expected"/>, and revokes its lease.</summary>
        internal bool DeleteIf(string key, string expected)
        {
            long previous = Swap(key, expected, w =>
            {
                w.WriteStartObject("request_delete_range");
                w.WriteBase64String("key", Utf8(key));
                w.WriteEndObject();
            }, out bool done);
            if (done && previous != 0) RevokeLease(previous);
            return done;
        }

        /// <summary>A transaction: if the key is absent (or holds <paramref name="expected"/>), read its lease, then <paramref name="op"/>. Returns that lease.</summary>
        long Swap(string key, string expected, Action<Utf8JsonWriter> op, out bool succeeded)
        {
            using (var doc = Call("/v3/kv/txn", w =>
            {
                w.WriteStartArray("compare");
                w.WriteStartObject();
                w.WriteBase64String("key", Utf8(key));
                if (expected == null)
                {
                    w.WriteString("target", "CREATE");
                    w.WriteString("result", "EQUAL");
                    w.WriteString("create_revision", "0");
                }
                else
                {
                    w.WriteString("target", "VALUE");
                    w.WriteString("result", "EQUAL");
                    w.WriteBase64String("value", Utf8(expected));
                }
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteStartArray("success");
                w.WriteStartObject();
                w.WriteStartObject("request_range");
                w.WriteBase64String("key", Utf8(key));
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject();
                op(w);
                w.WriteEndObject();
                w.WriteEndArray();
            }, "use the upgrade lock of"))
            {
                var root = doc.RootElement;
                succeeded = root.TryGetProperty("succeeded", out var s) && s.ValueKind == JsonValueKind.True;
                if (!succeeded) return 0;
                foreach (var r in root.GetProperty("responses").EnumerateArray())
                    if (r.TryGetProperty("response_range", out var range) && range.TryGetProperty("kvs", out var kvs) && kvs.GetArrayLength() > 0 &&
                        kvs[0].TryGetProperty("lease", out var l) && long.TryParse(l.GetString(), out long id))
                        return id;
                return 0;
            }
        }

        long GrantLease(TimeSpan ttl)
        {
            long seconds = Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
            using (var doc = Call("/v3/lease/grant", w => w.WriteNumber("TTL", seconds), "use the upgrade lock of"))
            {
                if (doc.RootElement.TryGetProperty("ID", out var id) && long.TryParse(id.GetString(), out long lease)) return lease;
                throw new NbStoreException($"Could not use the upgrade lock of the etcd NB database at {Location}: etcd granted no lease.");
            }
        }

        /// <summary>Best effort: a lease not revoked expires by itself, and it holds no key that matters any more.</summary>
        void RevokeLease(long lease)
        {
            try { Call("/v3/lease/revoke", w => w.WriteString("ID", lease.ToString(System.Globalization.CultureInfo.InvariantCulture)), "revoke a lease of").Dispose(); }
            catch (NbStoreException) { }
        }

        // ---- The gateway ----

        void Authenticate()
        {
            using (var doc = Send("/v3/auth/authenticate", w =>
            {
                w.WriteString("name", _user);
                w.WriteString("password", _password);
            }, "sign in to", withToken: false).GetAwaiter().GetResult())
            {
                if (!doc.RootElement.TryGetProperty("token", out var token) || token.GetString().Length == 0)
                    throw new NbStoreException($"Could not sign in to the etcd NB database at {Location}: etcd gave no token (is authentication enabled there?).");
                _token = token.GetString();
            }
        }

        JsonDocument Call(string path, Action<Utf8JsonWriter> body, string what) => Await(CallAsync(path, body, what), what);

        async Task<JsonDocument> CallAsync(string path, Action<Utf8JsonWriter> body, string what)
        {
            try { return await Send(path, body, what, withToken: true).ConfigureAwait(false); }
            catch (TokenExpiredException) when (_user != null)
            {
                // Tokens expire (simple tokens after --auth-token-ttl idle seconds): sign in again, once.
                Authenticate();
                return await Send(path, body, what, withToken: true).ConfigureAwait(false);
            }
        }

        sealed class TokenExpiredException : NbStoreException
        {
            public TokenExpiredException(string message) : base(message) { }
        }

        async Task<JsonDocument> Send(string path, Action<Utf8JsonWriter> body, string what, bool withToken)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                body(w);
                w.WriteEndObject();
            }
            using (var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/')))
            {
                request.Content = new ByteArrayContent(buffer.GetBuffer(), 0, (int)buffer.Length);
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                string token = _token;
                if (withToken && token != null) request.Headers.TryAddWithoutValidation("Authorization", token);
                HttpResponseMessage response;
                try { response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false); }
                catch (HttpRequestException e)
                {
                    throw new NbStoreException($"Cannot reach the etcd NB database at {Location}: {Innermost(e)} Check that etcd runs there and the address is right.", e);
                }
                catch (TaskCanceledException e)
                {
                    throw new NbStoreException($"The etcd NB database at {Location} did not answer within {RequestTimeout.TotalSeconds:0} s ({path}).", e);
                }
                using (response)
                {
                    byte[] content = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        try { return JsonDocument.Parse(content); }
                        catch (JsonException e)
                        {
                            throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: its gateway answered {path} with something that is not JSON ({e.Message}).", e);
                        }
                    }
                    // A gateway or proxy may echo the request, sign-in password and all.
                    string message = NbDatabaseUri.Scrub(GatewayMessage(content), _password);
                    if (response.StatusCode == HttpStatusCode.Unauthorized && withToken && _user != null && message.Contains("token"))
                        throw new TokenExpiredException(message);
                    if (response.StatusCode == HttpStatusCode.NotFound && !IsJson(content))
                        message = $"its gateway has no {path} (etcd 3.4 or newer is needed, serving clients on that port)";
                    else if (message.Contains("user name is empty") || message.Contains("invalid auth token"))
                        message += " (this etcd has authentication enabled: give etcd://user:password@host:port)";
                    else if (message.Contains("too large") || message.Contains("larger than max"))
                        message += " (etcd's --max-request-bytes, 1.5 MiB unless set, bounds one object)";
                    throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: {message} (HTTP {(int)response.StatusCode}).");
                }
            }
        }

        /// <summary>The gateway's error message (<c>{"error":..,"message":..,"code":..}</c>), or the start of the body.</summary>
        static string GatewayMessage(byte[] content)
        {
            try
            {
                using (var doc = JsonDocument.Parse(content))
                    if (doc.RootElement.ValueKind == JsonValueKind.Object)
                        foreach (var name in new[] { "message", "error" })
                            if (doc.RootElement.TryGetProperty(name, out var m) && m.ValueKind == JsonValueKind.String && m.GetString().Length > 0)
                                return m.GetString();
            }
            catch (JsonException) { }
            string text = Encoding.UTF8.GetString(content, 0, Math.Min(content.Length, 200)).Trim();
            return text.Split('\n')[0].Trim();
        }

        static bool IsJson(byte[] content)
        {
            try { using (JsonDocument.Parse(content)) return true; }
            catch (JsonException) { return false; }
        }

        static string Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            string m = e.Message.Trim();
            return m.EndsWith(".") ? m : m + ".";
        }

        T Await<T>(Task<T> task, string what)
        {
            Await((Task)task, what);
            return task.Result;
        }

        void Await(Task task, string what)
        {
            try { task.GetAwaiter().GetResult(); }
            catch (NbStoreException) { throw; }
            catch (Exception e) when (e is JsonException || e is InvalidOperationException || e is KeyNotFoundException || e is FormatException)
            {
                throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: its gateway's answer was not what etcd v3 sends ({e.Message}).", e);
            }
        }

        static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        /// <summary>The first key after <paramref name="key"/>: the key with a zero byte appended.</summary>
        static byte[] After(byte[] key)
        {
            var next = new byte[key.Length + 1];
            Buffer.BlockCopy(key, 0, next, 0, key.Length);
            return next;
        }

        /// <summary>The end of the range of keys that start with <paramref name="prefix"/> (its last byte plus one).</summary>
        static byte[] PrefixEnd(byte[] prefix)
        {
            var end = (byte[])prefix.Clone();
            for (int i = end.Length - 1; i >= 0; i--)
            {
                if (end[i] < 0xff) { end[i]++; Array.Resize(ref end, i + 1); return end; }
            }
            return new byte[] { 0 }; // every key
        }

        public void Dispose() => _http.Dispose();
    }
}
