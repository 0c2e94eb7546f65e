using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// What every NB store does alike, one case per store of <see cref="Safe.StoresAndTls"/> (the file
    /// and the test servers). What is particular to one store (its key layout, its lock, its server's
    /// errors) is tested in that store's own class. They empty whole servers (the clusters, etcd): they run with the safety tests.
    /// </summary>
    [Collection(SafetyCollection.Name)]
    public class EveryStoreTests
    {
        static NbEntry Entry(string table, string topic, string id, string json) => new NbEntry(new NbKey(table, topic, id), Safe.Json(json));

        [Theory]
        [MemberData(nameof(Safe.StoresAndTls), MemberType = typeof(Safe))]
        public void A_table_read_does_not_include_tables_whose_name_starts_the_same(string kind)
        {
            string uri = Safe.NewDatabase(kind, new[]
            {
                Entry("lport", null, "a", "{}"),
                Entry("lport_binding", null, "b", "{}"),
                Entry("lportx", null, "c", "{}"),
            });
            using (var store = NbStoreFactory.Open(uri))
            {
                Assert.Equal(new[] { "a" }, store.Read("lport").Select(e => e.Key.Id));
                Assert.Equal(new[] { "a" }, store.ReadKeys("lport").Select(k => k.Id));
            }
        }

        [Theory]
        [MemberData(nameof(Safe.StoresAndTls), MemberType = typeof(Safe))]
        public void Several_tables_read_together_are_their_objects_and_no_others(string kind)
        {
            // Tables whose names hold a glob's characters, and tables that a pattern of their
            // characters matches too (Redis reads several tables in one SCAN of such a pattern).
            var wanted = new[] { "service", "listener", "publisher", "a]b", "a^b", "a-c", "a\\b", "b[x", "a*b", "a?b", "serv" };
            var others = new[] { "lervice", "services", "pub", "ab", "a_b", "aXb", "b[", "a]", "c]b" };
            string uri = Safe.NewDatabase(kind, wanted.Concat(others)
                .SelectMany(t => new[] { Entry(t, "t1", "x1", "{\"id\": \"x1\"}"), Entry(t, null, "x2", "{\"id\": \"x2\"}") }).ToList());
            using (var store = NbStoreFactory.Open(uri))
            {
                var each = wanted.SelectMany(t => store.Read(t)).Select(e => e.Key.ToString()).OrderBy(k => k, StringComparer.Ordinal).ToList();
                Assert.Equal(2 * wanted.Length, each.Count);
                Assert.Equal(each, store.ReadTables(wanted).Select(e => e.Key.ToString()).OrderBy(k => k, StringComparer.Ordinal));
            }
        }

        [Theory]
        [MemberData(nameof(Safe.StoresAndTls), MemberType = typeof(Safe))]
        public void Writes_and_reads_back_thousands_of_objects_in_batches(string kind)
        {
            // More than two pages of the stores that read in pages (etcd's ranges, Redis's SCAN: 5,000 keys), many write batches.
            int count = EtcdNbStore.PageSize * 2 + 500;
            var entries = Enumerable.Range(0, count)
                .Select(i => Entry(i % 2 == 0 ? "lport" : "lswitch", "t" + (i % 3), "id" + i, $"{{\"id\": \"id{i}\", \"topic\": \"t{i % 3}\"}}"))
                .ToList();
            string uri = Safe.NewDatabase(kind, Array.Empty<NbEntry>());
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(entries);
                var read = store.Read().ToDictionary(e => e.Key);
                Assert.Equal(count, read.Count);
                Assert.All(entries, e => Assert.Equal(e.Value.ToArray(), read[e.Key].Value.ToArray()));
                Assert.Equal(count / 2, store.Read("lport").Count());
                Assert.Equal(count / 2, store.ReadKeys("lswitch").Count());
            }
        }

        // Keys no store's layout holds (on etcd, "/lport" and "lport/x" are near misses of /table/id).
        static readonly string[] OtherKeys = { "unrelated", "lport/x", "/lport" };

        /// <summary>Writes and reads a key of the store's server as another application would; null where the store has no keys of its own (a file).</summary>
        static (Action<string, string> Put, Func<string, string> Get)? Raw(string kind, string uri)
        {
            switch (kind)
            {
                case "redis":
                case "redis-cluster":
                    return (
                        (k, v) => { using (var mux = Connect(kind, uri)) Db(mux, kind, uri).StringSet(k, v); },
                        k => { using (var mux = Connect(kind, uri)) return Db(mux, kind, uri).StringGet(k); });
                case "etcd":
                    return ((k, v) => TestEtcd.Put(k, v), k => TestEtcd.Get(k).Value);
                default:
                    return null;   // the TLS servers and the etcd cluster: the same code as the plain single servers
            }
        }

        static ConnectionMultiplexer Connect(string kind, string uri) =>
            kind == "redis" ? TestRedis.Connect() : ConnectionMultiplexer.Connect(TestRedisCluster.Configuration);

        static IDatabase Db(ConnectionMultiplexer mux, string kind, string uri) => kind == "redis" ? mux.GetDatabase(TestRedis.DbOf(uri)) : mux.GetDatabase();

        [Theory]
        [MemberData(nameof(Safe.StoresAndTls), MemberType = typeof(Safe))]
        public void Deletes_remove_keys_and_keys_outside_the_layout_are_neither_read_nor_touched(string kind)
        {
            string uri = Safe.NewDatabase(kind, Array.Empty<NbEntry>());
            var raw = Raw(kind, uri);
            foreach (var k in OtherKeys) raw?.Put(k, "x");
            using (var store = NbStoreFactory.Open(uri))
            {
                var p = Entry("lport", "t", "p", "{\"id\": \"p\", \"topic\": \"t\"}");
                var slashed = Entry("lport", null, "a/b", "{\"id\": \"a/b\"}");
                store.Write(new[] { p, slashed });
                Assert.Equal(new[] { "a/b", "p" }, store.Read().Select(e => e.Key.Id).OrderBy(i => i, StringComparer.Ordinal));
                store.Write(new[] { NbEntry.Delete(p.Key), NbEntry.Delete(slashed.Key) });
                Assert.Empty(store.Read());
                Assert.Empty(store.ReadKeys());
            }
            if (raw != null) Assert.All(OtherKeys, k => Assert.Equal("x", raw.Value.Get(k)));
        }

        [Theory]
        [MemberData(nameof(Safe.StoresAndTls), MemberType = typeof(Safe))]
        public void Puts_and_deletes_of_one_key_in_one_write_take_effect_in_their_order(string kind)
        {
            string uri = Safe.NewDatabase(kind, new[] { Entry("lport", "t", "c", "{\"v\": 1}") });
            using (var store = NbStoreFactory.Open(uri))
            {
                var a = new NbKey("lport", "t", "a");
                var b = new NbKey("lport", "t", "b");
                var c = new NbKey("lport", "t", "c");
                // A store may send puts and deletes in runs (Redis's MSET and DEL) or per key (etcd's transactions): their order must survive that.
                store.Write(new[] { new NbEntry(a, Safe.Json("{\"v\": 1}")), NbEntry.Delete(a), new NbEntry(a, Safe.Json("{\"v\": 2}")),
                                    new NbEntry(b, Safe.Json("{\"v\": 1}")), new NbEntry(b, Safe.Json("{\"v\": 2}")), NbEntry.Delete(b),
                                    NbEntry.Delete(c), new NbEntry(c, Safe.Json("{\"v\": 3}")) });
                var read = store.Read().OrderBy(e => e.Key.Id, StringComparer.Ordinal).ToList();
                Assert.Equal(new[] { "a", "c" }, read.Select(e => e.Key.Id));
                Assert.Equal(new[] { "{\"v\": 2}", "{\"v\": 3}" }, read.Select(e => Encoding.UTF8.GetString(e.Value.Span)));
            }
        }

        [Theory]
        [MemberData(nameof(Safe.StoresAndTls), MemberType = typeof(Safe))]
        public void Values_are_read_back_byte_for_byte(string kind)
        {
            // As Dragonflow and others store them: odd spacing, escapes, text that is not ASCII, a float, a bare counter.
            var entries = new[]
            {
                Entry("lport", "t1", "p1", "{\"id\":\"p1\",  \"topic\": \"t1\", \"ips\": [\"10.0.0.1\"], \"x\": 1.0, \"name\": \"caf\\u00e9 \u00fc\"}"),
                Entry("lswitch", "t1", "s1", "{ \"id\": \"s1\", \"topic\": \"t1\", \"mtu\": 1450.0 }"),
                Entry("unique_key", null, "lport", "7"),
            };
            string uri = Safe.NewDatabase(kind, entries);
            using (var store = NbStoreFactory.Open(uri))
            {
                var read = store.Read().OrderBy(e => e.Key.Table, StringComparer.Ordinal).ToList();
                Assert.Equal(entries.Select(e => e.Key), read.Select(e => e.Key));
                for (int i = 0; i < entries.Length; i++) Assert.Equal(entries[i].Value.ToArray(), read[i].Value.ToArray());
            }
        }

        /// <summary><paramref name="uri"/> with <paramref name="authority"/> (user:password@hosts) in place of its own.</summary>
        static string WithAuthority(string uri, string authority)
        {
            int start = uri.IndexOf("//", StringComparison.Ordinal) + 2;
            int end = uri.IndexOfAny(new[] { '/', '?' }, start);
            return uri.Substring(0, start) + authority + (end < 0 ? "" : uri.Substring(end));
        }

        [Theory]
        [MemberData(nameof(Safe.Servers), MemberType = typeof(Safe))]
        public void An_unreachable_server_is_a_clear_error_naming_it_and_not_the_password(string kind)
        {
            string uri = WithAuthority(Safe.NewDatabase(kind, Array.Empty<NbEntry>()), "ops:s3cret@127.0.0.1:1");
            var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open(uri).Dispose());
            Assert.Equal("NbDatabaseUnavailable", e.ErrorId);
            Assert.Contains(NbDatabaseUri.Parse(uri).Location, e.Message);
            Assert.DoesNotContain("s3cret", e.ToString());
        }

        /// <summary>The test servers that sign users in (Redis's ACL users, the etcd with authentication).</summary>
        public static TheoryData<string> SigningIn => new TheoryData<string> { "redis", "redis-cluster", "etcd" };

        /// <summary>A user of the <paramref name="kind"/> test server: its URI with a given password, the right password, and how to remove the user.</summary>
        static (Func<string, string> UriWith, string Right, Action Remove) User(string kind)
        {
            string user = "df-test-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            const string right = "right-password";
            switch (kind)
            {
                case "redis":
                {
                    string uri = TestRedis.NewDatabase();
                    void Acl(params object[] args) { using (var mux = TestRedis.Connect()) mux.GetServer(TestRedis.Endpoint).Execute("ACL", args); }
                    Acl("SETUSER", user, "on", ">" + right, "~*", "+@all");
                    return (p => WithAuthority(uri, $"{user}:{p}@{TestRedis.Endpoint}"), right, () => Acl("DELUSER", user));
                }
                case "redis-cluster":
                {
                    string uri = TestRedisCluster.NewDatabase();
                    void Acl(params object[] args)
                    {
                        using (var mux = ConnectionMultiplexer.Connect(TestRedisCluster.Configuration))
                            foreach (var node in mux.GetServers()) node.Execute("ACL", args);
                    }
                    Acl("SETUSER", user, "on", ">" + right, "~*", "+@all");
                    string nodes = uri.Substring(uri.IndexOf("//", StringComparison.Ordinal) + 2);
                    return (p => WithAuthority(uri, $"{user}:{p}@{nodes}"), right, () => Acl("DELUSER", user));
                }
                default:
                {
                    // The etcd with authentication: root and its password.
                    string[] credentialAndEndpoint = TestEtcd.AuthEndpoint.Split('@');
                    string password = credentialAndEndpoint[0].Split(':')[1];
                    return (p => $"etcd://root:{p}@{credentialAndEndpoint[1]}", password, () => { });
                }
            }
        }

        [Theory]
        [MemberData(nameof(SigningIn))]
        public void A_password_is_sent_and_shown_nowhere_and_a_wrong_one_is_a_clear_error_that_does_not_show_it(string kind)
        {
            var (uriWith, right, remove) = User(kind);
            try
            {
                string table = "t" + Guid.NewGuid().ToString("N");
                using (var store = NbStoreFactory.Open(uriWith(right)))
                {
                    Assert.DoesNotContain(right, store.Location);
                    Assert.DoesNotContain("@", store.Location);
                    store.Write(new[] { Entry(table, null, "a", "{}") });
                    Assert.Single(store.Read(table));
                    store.Write(new[] { NbEntry.Delete(new NbKey(table, null, "a")) });
                }
                string wrong = uriWith("Wr0ngPassw0rd");
                var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open(wrong).Dispose());
                Assert.Contains(NbDatabaseUri.Parse(wrong).Location, e.Message);
                Assert.Contains("password", e.Message);
                Assert.DoesNotContain("Wr0ngPassw0rd", e.ToString());
            }
            finally { remove(); }
        }
    }
}
