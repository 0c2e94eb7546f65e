using System;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>The etcd tests share one key space: they run one at a time, each on an emptied etcd.</summary>
    [CollectionDefinition(Name)]
    public sealed class EtcdCollection
    {
        public const string Name = "Etcd";
    }

    /// <summary>
    /// The test etcd started by build.ps1 (DF_TEST_ETCD; DF_TEST_ETCD_AUTH for the one with
    /// authentication), seen from outside the module through the JSON gateway.
    /// </summary>
    static class TestEtcd
    {
        static readonly HttpClient Http = new HttpClient(new HttpClientHandler { UseProxy = false });

        public static string Endpoint =>
            Environment.GetEnvironmentVariable("DF_TEST_ETCD")
            ?? throw new InvalidOperationException("DF_TEST_ETCD is not set: run the tests through 'build.ps1 Test', which starts etcd.");

        /// <summary>root:password@host:port of the etcd with authentication enabled.</summary>
        public static string AuthEndpoint =>
            Environment.GetEnvironmentVariable("DF_TEST_ETCD_AUTH")
            ?? throw new InvalidOperationException("DF_TEST_ETCD_AUTH is not set: run the tests through 'build.ps1 Test', which starts etcd.");

        /// <summary>Deletes every key and returns the database's URI.</summary>
        public static string NewDatabase()
        {
            Call("kv/deleterange", new { key = B64("\0"), range_end = B64("\0") });
            return "etcd://" + Endpoint;
        }

        /// <summary>The value of a key, or null; its lease (0 when none).</summary>
        public static (string Value, long Lease) Get(string key)
        {
            var r = Call("kv/range", new { key = B64(key) });
            if (!r.TryGetProperty("kvs", out var kvs) || kvs.GetArrayLength() == 0) return (null, 0);
            var kv = kvs[0];
            string value = kv.TryGetProperty("value", out var v) ? Encoding.UTF8.GetString(v.GetBytesFromBase64()) : "";
            long lease = kv.TryGetProperty("lease", out var l) ? long.Parse(l.GetString()) : 0;
            return (value, lease);
        }

        public static void Put(string key, string value, long lease = 0) =>
            Call("kv/put", new { key = B64(key), value = B64(value), lease = lease.ToString() });

        /// <summary>Puts a value given as bytes (not necessarily UTF-8).</summary>
        public static void PutValue(string key, byte[] value) =>
            Call("kv/put", new { key = B64(key), value = Convert.ToBase64String(value) });

        /// <summary>Puts a key given as bytes (not necessarily UTF-8).</summary>
        public static void PutBytes(byte[] key, string value) =>
            Call("kv/put", new { key = Convert.ToBase64String(key), value = B64(value) });

        /// <summary>Every key and value, base64, in key order.</summary>
        public static string[] All()
        {
            var r = Call("kv/range", new { key = B64("\0"), range_end = B64("\0") });
            if (!r.TryGetProperty("kvs", out var kvs)) return Array.Empty<string>();
            var all = new System.Collections.Generic.List<string>();
            foreach (var kv in kvs.EnumerateArray())
                all.Add(kv.GetProperty("key").GetString() + "=" + (kv.TryGetProperty("value", out var v) ? v.GetString() : ""));
            return all.ToArray();
        }

        public static long GrantLease(int seconds) => long.Parse(Call("lease/grant", new { TTL = seconds }).GetProperty("ID").GetString());

        /// <summary>The seconds a lease has left, as etcd says.</summary>
        public static long LeaseTtl(long lease) => long.Parse(Call("lease/timetolive", new { ID = lease.ToString() }).GetProperty("TTL").GetString());

        /// <summary>The store's revision: it goes up by one per write request (put, delete or transaction).</summary>
        public static long Revision() => long.Parse(Call("kv/range", new { key = B64("\0") }).GetProperty("header").GetProperty("revision").GetString());

        static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

        static JsonElement Call(string path, object body)
        {
            var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
            using (var response = Http.PostAsync($"http://{Endpoint}/v3/{path}", content).GetAwaiter().GetResult())
            {
                string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"etcd {path}: {text}");
                using (var doc = JsonDocument.Parse(text)) return doc.RootElement.Clone();
            }
        }
    }
}
