using System;
using System.Text;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The upgrade lock in etcd: one key, under a lease of the lock's time to live so that it
    /// expires by itself. Created in a transaction that compares its create revision with 0;
    /// replaced (under a new lease, the old one revoked) and deleted in transactions that compare
    /// its value with what the caller read.
    /// </summary>
    sealed class EtcdLockSlot : ILockSlot
    {
        readonly EtcdGateway _gateway;
        readonly string _key;

        public EtcdLockSlot(EtcdGateway gateway, NbKey key)
        {
            _gateway = gateway;
            _key = EtcdKeys.Format(key);
        }

        public string Where => $"{Location} key {_key}";

        string Location => _gateway.Location;

        public bool TryCreate(string value, TimeSpan ttl) => PutIf(_key, null, value, ttl);
        public string? Read() => ReadValue(_key);
        public bool Replace(string expected, string value, TimeSpan ttl) => PutIf(_key, expected, value, ttl);
        public bool Delete(string expected) => DeleteIf(_key, expected);

        /// <summary>The text value of one key, or null when it is absent.</summary>
        string? ReadValue(string key)
        {
            using (var doc = _gateway.Call("/v3/kv/range", w => w.WriteBase64String("key", EtcdKeys.Utf8(key)), "read the upgrade lock of"))
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
        bool PutIf(string key, string? expected, string value, TimeSpan ttl)
        {
            long lease = GrantLease(ttl);
            bool done = false;
            try
            {
                long previous = Swap(key, expected, value, w =>
                {
                    w.WriteStartObject("request_put");
                    w.WriteBase64String("key", EtcdKeys.Utf8(key));
                    w.WriteBase64String("value", EtcdKeys.Utf8(value));
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
        bool DeleteIf(string key, string expected)
        {
            long previous = Swap(key, expected, null, w =>
            {
                w.WriteStartObject("request_delete_range");
                w.WriteBase64String("key", EtcdKeys.Utf8(key));
                w.WriteEndObject();
            }, out bool done);
            if (done && previous != 0) RevokeLease(previous);
            return done;
        }

        /// <summary>
        /// A transaction: if the key is absent (or holds <paramref name="expected"/>), read its lease,
        /// then <paramref name="op"/>, which puts <paramref name="putValue"/> (null: deletes the key).
        /// Returns that lease. When its answer is lost, the key is read back: holding what the
        /// transaction writes, it was applied (its old lease unknown, 0, left to expire); holding
        /// what was expected, the transaction is sent again; anything else, someone else changed it.
        /// </summary>
        long Swap(string key, string? expected, string? putValue, Action<Utf8JsonWriter> op, out bool succeeded)
        {
            for (int tries = 1; ; tries++)
            {
                try { return SwapOnce(key, expected, op, out succeeded); }
                catch (EtcdOutcomeUnknownException) when (tries <= 3)
                {
                    string? now = ReadValue(key);
                    succeeded = now == putValue;
                    if (succeeded || now != expected) return 0;
                }
            }
        }

        long SwapOnce(string key, string? expected, Action<Utf8JsonWriter> op, out bool succeeded)
        {
            using (var doc = _gateway.Call("/v3/kv/txn", w =>
            {
                w.WriteStartArray("compare");
                w.WriteStartObject();
                w.WriteBase64String("key", EtcdKeys.Utf8(key));
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
                    w.WriteBase64String("value", EtcdKeys.Utf8(expected));
                }
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteStartArray("success");
                w.WriteStartObject();
                w.WriteStartObject("request_range");
                w.WriteBase64String("key", EtcdKeys.Utf8(key));
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject();
                op(w);
                w.WriteEndObject();
                w.WriteEndArray();
            }, "use the upgrade lock of", resendable: false))
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
            using (var doc = _gateway.Call("/v3/lease/grant", w => w.WriteNumber("TTL", seconds), "use the upgrade lock of"))
            {
                if (doc.RootElement.TryGetProperty("ID", out var id) && long.TryParse(id.GetString(), out long lease)) return lease;
                throw new NbStoreException($"Could not use the upgrade lock of the etcd NB database at {Location}: etcd granted no lease.");
            }
        }

        /// <summary>Best effort: a lease not revoked expires by itself, and it holds no key that matters any more.</summary>
        void RevokeLease(long lease)
        {
            try { _gateway.Call("/v3/lease/revoke", w => w.WriteString("ID", lease.ToString(System.Globalization.CultureInfo.InvariantCulture)), "revoke a lease of").Dispose(); }
            catch (NbStoreException) { }
        }
    }
}
