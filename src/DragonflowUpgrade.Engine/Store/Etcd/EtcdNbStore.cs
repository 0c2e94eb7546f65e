using System;
using DragonflowUpgrade.Engine.Json;
using System.Collections.Generic;
using System.Linq;
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
    public sealed partial class EtcdNbStore : INbStore
    {
        internal const int PageSize = 5000;
        internal const int MaxTxnOps = 128;
        const int MaxTxnBytes = 1 << 20;
        const int TxnsInFlight = EtcdGateway.RequestsInFlight;

        readonly EtcdGateway _gateway;

        EtcdNbStore(EtcdGateway gateway)
        {
            _gateway = gateway;
            Parts = new EtcdParts(gateway);
        }

        /// <summary><c>etcd://host:port[,host:port…]</c>, without the user and password.</summary>
        public string Location => _gateway.Location;

        public NbStoreParts Parts { get; }

        /// <summary>The member (host:port) requests go to now.</summary>
        internal string Serving => _gateway.Serving.ToString();

        sealed class EtcdParts : NbStoreParts
        {
            readonly EtcdGateway _gateway;
            public EtcdParts(EtcdGateway gateway) { _gateway = gateway; }
            public override ILockSlot LockSlot(NbKey key) => new EtcdLockSlot(_gateway, key);
            public override NbKeyLayout KeyLayout => EtcdKeys.Layout;
            public override string BackupName => _gateway.Location;
        }

        /// <summary>
        /// Opens <c>etcd://[user:password@]host:port[,host:port…]</c> (port 2379 when none is given),
        /// or <c>etcds://</c> over HTTPS (see <see cref="NbTlsFiles"/>):
        /// the first endpoint that answers, and the next one whenever that one stops answering
        /// (see <see cref="EtcdGateway"/>). With a user, it signs in through the gateway
        /// (<c>/v3/auth/authenticate</c>) and signs in again when the token expires.
        /// </summary>
        public static EtcdNbStore Open(NbDatabaseUri uri)
        {
            if (uri.Kind != "etcd") throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}' is not an etcd URI (etcd://host:port).");
            var gateway = new EtcdGateway(uri.Endpoints, uri.Location, uri.User, uri.Password, NbTls.Load(uri));
            try
            {
                if (gateway.HasUser) gateway.Authenticate();
                // A read of one key (the upgrade lock's): it proves that the gateway answers and the user may read.
                gateway.Call("/v3/kv/range", w =>
                {
                    w.WriteBase64String("key", Utf8("/" + ModuleTables.Prefix + "lock/lock"));
                    w.WriteBoolean("keys_only", true);
                }, "reach").Dispose();
            }
            catch
            {
                gateway.Dispose();
                throw;
            }
            return new EtcdNbStore(gateway);
        }

        static byte[] Utf8(string s) => EtcdKeys.Utf8(s);

        /// <summary>Dragonflow's key for (table, topic, id): <c>/table/id</c>; the topic is not part of it.</summary>
        public static string FormatKey(NbKey key) => EtcdKeys.Format(key);

        /// <summary>Why (table, id) would not read back from <see cref="FormatKey"/>'s key as itself; null when it would. The topic is not in the key.</summary>
        public static string? KeyProblem(NbKey key) => EtcdKeys.Problem(key);

        /// <summary>
        /// Parses a Dragonflow key and takes the topic from the value; false for keys that are
        /// not NB objects (not <c>/table/id</c> with a table and an id).
        /// </summary>
        public static bool TryParseKey(string? text, byte[] value, out NbKey key, NameTable? names = null) => EtcdKeys.TryParse(text, value, out key, names);

        public IEnumerable<NbKey> ReadKeys(string? table = null)
        {
            // The topic is in the value, so keys alone cannot be read.
            foreach (var e in Read(table)) yield return e.Key;
        }

        /// <summary>A range read per table: each table's keys are one range already.</summary>
        public IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables) => NbTables.Distinct(tables).SelectMany(t => Read(t));

        public IEnumerable<NbEntry> Read(string? table = null)
        {
            byte[] start = Utf8(table == null ? "/" : "/" + table + "/");
            byte[] end = EtcdKeys.PrefixEnd(start);
            long revision = 0;
            var names = new NameTable();
            Task<(List<NbEntry> Entries, byte[]? Next, long Revision)>? page = RangeAsync(start, end, revision, names);
            while (page != null)
            {
                var (entries, next, rev) = _gateway.Await(page, "read");
                revision = rev;
                // Ask for the next page before handing this one out.
                page = next == null ? null : RangeAsync(next, end, revision, names);
                // A table's range holds the keys of ids with '/' of the table its name starts: "/lport/x/1" is in "lport/x"'s.
                foreach (var e in entries)
                    if (table == null || e.Key.Table == table) yield return e;
            }
        }

        // One page of a read, the key the next page starts at (null: this is the last), and the revision read.
        async Task<(List<NbEntry> Entries, byte[]? Next, long Revision)> RangeAsync(byte[] key, byte[] end, long revision, NameTable names)
        {
            using (var doc = await _gateway.CallAsync("/v3/kv/range", w =>
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
                byte[]? last = null;
                if (root.TryGetProperty("kvs", out var kvs))
                {
                    foreach (var kv in kvs.EnumerateArray())
                    {
                        last = kv.GetProperty("key").GetBytesFromBase64();
                        byte[] value = kv.TryGetProperty("value", out var v) ? v.GetBytesFromBase64() : Array.Empty<byte>();
                        if (EtcdKeys.TryParse(KeyText(last), value, out var nbKey, names))
                            entries.Add(new NbEntry(nbKey, value));
                    }
                }
                bool more = root.TryGetProperty("more", out var m) && m.ValueKind == JsonValueKind.True;
                return (entries, more && last != null ? EtcdKeys.After(last) : null, rev);
            }
        }

        // The text of a key read back. A key of the shape /table/id that is not UTF-8 is refused:
        // read leniently, its object would be written back under another key, beside the original.
        string? KeyText(byte[] key)
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
        public void Dispose() => _gateway.Dispose();
    }
}
