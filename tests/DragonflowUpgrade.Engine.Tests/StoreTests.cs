using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    public class RedisKeyTests
    {
        [Theory]
        [InlineData("lport", "tenant1", "p1", "{lport.tenant1}.p1")]
        [InlineData("chassis", null, "host-1", "{chassis.}.host-1")]
        [InlineData("unique_key", null, "lport", "{unique_key.}.lport")]
        public void Keys_use_dragonflows_layout(string table, string topic, string id, string expected)
        {
            var key = new NbKey(table, topic, id);
            Assert.Equal(expected, RedisNbStore.FormatKey(key));
            Assert.True(RedisNbStore.TryParseKey(System.Text.Encoding.UTF8.GetBytes(expected), out var parsed, new NameTable()));
            Assert.Equal(key, parsed);
        }

        [Theory]
        [InlineData("lport", "tenant1", "p1", "{lport.tenant1}p1")]
        [InlineData("chassis", null, "host-1", "{chassis.}host-1")]
        [InlineData("unique_key", null, "lport", "{unique_key.}lport")]
        public void Keys_in_the_layout_of_dragonflows_master_read_as_the_same_objects(string table, string topic, string id, string stored)
        {
            Assert.True(RedisNbStore.TryParseKey(Encoding.UTF8.GetBytes(stored), out var parsed, new NameTable()));
            Assert.Equal(new NbKey(table, topic, id), parsed);
        }

        [Theory]
        [InlineData("plain")]
        [InlineData("{lport.t}")]
        [InlineData("{.t}.p1")]
        [InlineData("{lport}.p1")]
        public void Keys_of_other_shapes_are_not_nb_objects(string text)
        {
            Assert.False(RedisNbStore.TryParseKey(System.Text.Encoding.UTF8.GetBytes(text), out _, new NameTable()));
        }
    }

    public class RedisStoreTests
    {
        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        static NbEntry LogRow(string id) => new NbEntry(new NbKey("schema_migration_log", null, id), Json($"{{\"id\": \"{id}\", \"kind\": \"migration\"}}"));

        [Fact]
        public void The_migration_log_is_read_from_its_own_keys_without_scanning_the_keyspace()
        {
            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
                store.Write(new[] { LogRow("m1"), LogRow("m2"), new NbEntry(new NbKey("lport", "t", "p1"), Json("{\"id\": \"p1\"}")) });
            using (var mux = TestRedis.Connect())
            {
                // A key that any scan of the keyspace stops at: a log read that scanned would fail on it.
                mux.GetDatabase(TestRedis.DbOf(uri)).StringSet(Encoding.ASCII.GetBytes("{lport.t}.bad").Concat(new byte[] { 0xc3, 0x28 }).ToArray(), "{}");
                using (var store = NbStoreFactory.Open(uri))
                {
                    Assert.Equal(new[] { "m1", "m2" }, Migrations.MigrationLog.Read(store).Select(r => r.Id).OrderBy(id => id));
                    Assert.Throws<NbKeyException>(() => store.Read("lport").ToList());
                }
            }
        }

        [Fact]
        public void Log_rows_written_before_the_log_kept_its_set_of_keys_are_still_read_after_the_next_write()
        {
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                // As an earlier version of the module left them: the rows alone.
                db.StringSet("{schema_migration_log.}.old1", "{\"id\": \"old1\"}");
                db.StringSet("{schema_migration_log.}.old2", "{\"id\": \"old2\"}");
                using (var store = NbStoreFactory.Open(uri))
                {
                    Assert.Equal(new[] { "old1", "old2" }, store.Read("schema_migration_log").Select(e => e.Key.Id).OrderBy(id => id));
                    store.Write(new[] { LogRow("new") });
                }
                using (var store = NbStoreFactory.Open(uri))
                {
                    Assert.Equal(new[] { "new", "old1", "old2" }, store.Read("schema_migration_log").Select(e => e.Key.Id).OrderBy(id => id));
                    // A conditional delete takes the row out of the set too; a row deleted by hand is skipped.
                    store.WriteIf(new[] { NbEntry.Delete(new NbKey("schema_migration_log", null, "old1")) }, k => Json("{\"id\": \"old1\"}"));
                    db.KeyDelete("{schema_migration_log.}.old2");
                    Assert.Equal(new[] { "new" }, store.Read("schema_migration_log").Select(e => e.Key.Id));
                    Assert.Equal(new[] { "", "{schema_migration_log.}.new" },
                        db.SetMembers("{df_upgrade_log_index}").Select(m => (string)m).Where(m => m != "{schema_migration_log.}.old2").OrderBy(m => m, StringComparer.Ordinal));
                }
            }
        }

        [Fact]
        public void Values_larger_than_the_connection_buffers_are_written_and_read_whole()
        {
            string uri = TestRedis.NewDatabase();
            // 1 MB values span many reads and sends of the connection's 256 KB buffers.
            var big = Enumerable.Range(0, 3).Select(i => new NbEntry(new NbKey("lport", "t", "big" + i),
                Json("{\"blob\": \"" + new string((char)('a' + i), 1 << 20) + "\"}"))).ToList();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(big);
                var read = store.Read().OrderBy(e => e.Key.Id).ToList();
                Assert.Equal(big.Select(e => e.Key), read.Select(e => e.Key));
                for (int i = 0; i < big.Count; i++) Assert.Equal(big[i].Value.ToArray(), read[i].Value.ToArray());
            }
        }

        [Fact]
        public void A_read_left_early_leaves_the_store_usable_and_a_write_or_read_during_a_read_is_refused()
        {
            string uri = TestRedis.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                // More than two SCAN pages, so that replies are in flight whenever a page is handed out.
                var entries = Enumerable.Range(0, 12000)
                    .Select(i => new NbEntry(new NbKey("lport", "t", "p" + i), Json($"{{\"id\": \"p{i}\"}}"))).ToList();
                store.Write(entries);
                Assert.Equal(10, store.Read().Take(10).Count());
                Assert.Equal(5001, store.ReadKeys().Take(5001).Count());

                var change = new[] { new NbEntry(new NbKey("lport", "t", "p0"), Json("{\"id\": \"p0\", \"changed\": true}")) };
                foreach (var e in store.Read())
                {
                    var write = Assert.Throws<InvalidOperationException>(() => store.Write(change));
                    Assert.Contains("being read", write.Message);
                    Assert.Contains(uri.Substring("redis://".Length), write.Message);
                    Assert.Throws<InvalidOperationException>(() => store.Read().First());
                    break;
                }
                Assert.Equal(12000, store.Read().Count());
                Assert.DoesNotContain(store.Read(), e => Encoding.UTF8.GetString(e.Value.Span).Contains("changed"));
                store.Write(change);
                Assert.Contains(store.Read(), e => Encoding.UTF8.GetString(e.Value.Span).Contains("changed"));
            }
        }

        [Fact]
        public void A_server_that_goes_away_during_a_read_is_a_clear_error_naming_it()
        {
            // A redis-server of the test's own, killed part way through a read.
            var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            free.Start();
            int port = ((System.Net.IPEndPoint)free.LocalEndpoint).Port;
            free.Stop();
            using (var server = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("redis-server",
                $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no") { RedirectStandardOutput = true }))
            {
                try
                {
                    NbStore(port).Dispose();  // waits for the server to listen
                    using (var store = NbStoreFactory.Open($"redis://127.0.0.1:{port}/0"))
                    {
                        store.Write(Enumerable.Range(0, 30000)
                            .Select(i => new NbEntry(new NbKey("lport", "t", "p" + i), Json($"{{\"id\": \"p{i}\", \"pad\": \"{new string('x', 200)}\"}}"))).ToList());
                        int seen = 0;
                        var e = Assert.Throws<NbStoreException>(() =>
                        {
                            foreach (var entry in store.Read())
                                if (++seen == 1)
                                {
                                    server.Kill();
                                    server.WaitForExit();
                                }
                        });
                        Assert.InRange(seen, 1, 29999);
                        Assert.Contains($"Could not read the Redis NB database at redis://127.0.0.1:{port}/0", e.Message);
                        var again = Assert.Throws<NbStoreException>(() => store.Read().ToList());
                        Assert.Contains("lost", again.Message);
                    }
                }
                finally
                {
                    if (!server.HasExited) server.Kill();
                }
            }

            static INbStore NbStore(int port)
            {
                for (int attempt = 0; ; attempt++)
                {
                    try { return NbStoreFactory.Open($"redis://127.0.0.1:{port}/0"); }
                    catch (NbStoreException) when (attempt < 50) { System.Threading.Thread.Sleep(100); }
                }
            }
        }

        [Fact]
        public void Table_and_topic_names_that_are_not_ascii_are_read_as_written()
        {
            string uri = TestRedis.NewDatabase();
            var keys = Enumerable.Range(0, 300).Select(i => new NbKey(i % 2 == 0 ? "lport" : "lpört", i % 3 == 0 ? "tenänt-ü" : "tenant", "p" + i)).ToList();
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(keys.Select(k => new NbEntry(k, Json("{}"))).ToList());
                Assert.Equal(keys.OrderBy(k => k.ToString()), store.Read().Select(e => e.Key).OrderBy(k => k.ToString()));
                Assert.Equal(150, store.ReadKeys("lpört").Count());
            }
        }

        [Fact]
        public void A_key_that_is_not_utf8_is_an_error_naming_it_and_other_keys_are_left_alone()
        {
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            {
                var db = mux.GetDatabase(TestRedis.DbOf(uri));
                db.StringSet("{lport.t}.p1", "{\"id\": \"p1\"}");
                db.StringSet(new byte[] { 0xff, 0x00, 0x01 }, "another application's binary key");
                using (var store = NbStoreFactory.Open(uri))
                    Assert.Equal(new[] { "p1" }, store.Read().Select(e => e.Key.Id));

                db.StringSet(Encoding.ASCII.GetBytes("{lport.t}.bad").Concat(new byte[] { 0xc3, 0x28 }).ToArray(), "{}");
                using (var store = NbStoreFactory.Open(uri))
                {
                    var e = Assert.Throws<NbKeyException>(() => store.Read().ToList());
                    Assert.Equal("NbKeyNotUtf8", e.ErrorId);
                    Assert.Contains("{lport.t}.bad\\xC3(", e.Message);
                    Assert.Contains("not UTF-8", e.Message);
                }
            }
        }

        [Fact]
        public void A_user_name_and_password_with_a_colon_are_escaped_in_the_uri_and_sent_whole()
        {
            string uri = TestRedis.NewDatabase();
            string user = "df-test-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ":x";
            using (var mux = TestRedis.Connect())
            {
                var server = mux.GetServer(TestRedis.Endpoint);
                server.Execute("ACL", "SETUSER", user, "on", ">pass:word", "~*", "+@all");
                try
                {
                    string db = uri.Substring(uri.LastIndexOf('/'));
                    using (var store = NbStoreFactory.Open($"redis://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString("pass:word")}@{TestRedis.Endpoint}{db}"))
                    {
                        store.Write(new[] { new NbEntry(new NbKey("lport", "t", "p1"), Json("{\"id\": \"p1\"}")) });
                        Assert.Single(store.Read());
                    }
                }
                finally { server.Execute("ACL", "DELUSER", user); }
            }
        }

        [Fact]
        public void A_server_that_is_not_redis_is_a_clear_error_naming_it()
        {
            // The test etcd answers HTTP, not RESP.
            var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open($"redis://{TestEtcd.Endpoint}/0"));
            Assert.Contains(TestEtcd.Endpoint, e.Message);
            Assert.Contains("does not answer as Redis does", e.Message);
        }

        [Fact]
        public void A_server_that_never_accepts_is_given_up_after_the_connect_timeout()
        {
            // A listener whose queue is full: the kernel drops further connection attempts unanswered.
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start(0);
            int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            var queued = Enumerable.Range(0, 3).Select(_ => new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp)).ToList();
            try
            {
                foreach (var s in queued) _ = s.ConnectAsync(System.Net.IPAddress.Loopback, port);
                System.Threading.Thread.Sleep(200);
                var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open($"redis://127.0.0.1:{port}/0"));
                Assert.Contains($"127.0.0.1:{port}", e.Message);
                Assert.Contains("no answer within 5 s", e.Message);
            }
            finally
            {
                foreach (var s in queued) s.Dispose();
                listener.Stop();
            }
        }
    }

    public class NameTableTests
    {
        [Fact]
        public void A_name_read_as_bytes_is_one_shared_string_and_bytes_that_are_not_utf8_are_an_error()
        {
            var names = new NameTable();
            var first = names.Share(Encoding.UTF8.GetBytes("lport"));
            Assert.Equal("lport", first);
            Assert.Same(first, names.Share(Encoding.UTF8.GetBytes("lport")));
            Assert.Same(first, names.Share("lport"));
            Assert.Equal("tenänt", names.Share(Encoding.UTF8.GetBytes("tenänt")));
            Assert.Same(names.Share(Encoding.UTF8.GetBytes("tenänt")), names.Share(Encoding.UTF8.GetBytes("tenänt")));
            Assert.Equal("", names.Share(ReadOnlySpan<byte>.Empty));
            Assert.Throws<DecoderFallbackException>(() => names.Share(new byte[] { 0x6c, 0xc3, 0x28 }));
        }
    }

    public class ByteArenaTests
    {
        [Fact]
        public void Values_get_rooms_of_their_own_that_keep_their_bytes()
        {
            var arena = new ByteArena();
            var values = Enumerable.Range(0, 5000).Select(i => Enumerable.Repeat((byte)i, i % 700).ToArray())
                .Append(new byte[300_000]).Append(Enumerable.Repeat((byte)7, 2_000_000).ToArray()).ToList();
            var kept = values.Select(v => arena.Copy(v)).ToList();
            for (int i = 0; i < values.Count; i++) Assert.True(kept[i].Span.SequenceEqual(values[i]), $"value {i} changed");
        }
    }

    public class FileStoreTests : IDisposable
    {
        readonly string _dir = Directory.CreateTempSubdirectory("df-file-store-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        // The plain file is one case of EveryStoreTests; compressed, it is the file store's own.
        [Fact]
        public void A_compressed_file_round_trips_values_byte_for_byte()
        {
            string path = Path.Combine(_dir, "nb.jsonl.gz");
            var entries = new[]
            {
                new NbEntry(new NbKey("lport", "t1", "p1"), Json("{\"id\": \"p1\", \"ips\": [\"10.0.0.1\"], \"x\": 1.0}")),
                new NbEntry(new NbKey("unique_key", null, "lport"), Json("7")),
            };
            using (var store = new FileNbStore(path, create: true)) store.Write(entries);
            using (var store = new FileNbStore(path))
            {
                var read = store.Read().ToList();
                Assert.Equal(entries.Select(e => e.Key), read.Select(e => e.Key));
                Assert.Equal(entries.Select(e => Encoding.UTF8.GetString(e.Value.Span)), read.Select(e => Encoding.UTF8.GetString(e.Value.Span)));
            }
        }

        [Fact]
        public void A_write_keeps_the_order_of_the_file_and_leaves_no_temporary_file()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(path,
                "{\"table\":\"b\",\"topic\":null,\"id\":\"1\",\"value\":{\"id\": \"1\"}}\n" +
                "{\"table\":\"a\",\"topic\":\"t\",\"id\":\"2\",\"value\":{\"id\": \"2\"}}\n");
            using (var store = new FileNbStore(path))
                store.Write(new[] { new NbEntry(new NbKey("a", "t", "2"), Json("{\"id\": \"2\", \"n\": 1}")), new NbEntry(new NbKey("c", null, "3"), Json("{}")) });
            var lines = File.ReadAllLines(path);
            Assert.Equal(4, lines.Length);
            Assert.Equal($"{{\"header\":{{\"module_objects\":0,\"object_bytes\":{lines.Skip(1).Sum(l => l.Length + 1)}}}}}", lines[0]);
            Assert.StartsWith("{\"table\":\"b\"", lines[1]);
            Assert.Contains("\"n\": 1", lines[2]);
            Assert.StartsWith("{\"table\":\"c\"", lines[3]);
            Assert.Single(Directory.GetFiles(_dir));
        }

        // The header counts the lines' bytes without formatting them: names that JSON or HTML escaping changes must count as written.
        [Fact]
        public void The_headers_byte_count_is_the_object_lines_whatever_their_names_hold()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            var odd = new[] { "plain", "a<b>&'+`c", "quote\"back\\slash", "caf\u00e9 \u4e2d", "tab\tnew\nline\u0001", "emoji\ud83d\ude00", "/slash:colon" };
            using (var store = new FileNbStore(path, create: true))
                store.Write(odd.SelectMany(n => new[] { new NbEntry(new NbKey(n, n, n), Json("{\"id\": 1}")), new NbEntry(new NbKey("schema_migration_log", null, n), Json("{}")) }).ToList());
            var bytes = File.ReadAllBytes(path);
            int headerEnd = Array.IndexOf(bytes, (byte)'\n') + 1;
            var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(0, headerEnd)).RootElement.GetProperty("header");
            Assert.Equal(bytes.Length - headerEnd, header.GetProperty("object_bytes").GetInt64());
            Assert.Equal(odd.Length, header.GetProperty("module_objects").GetInt32());
            Assert.Equal(2 * odd.Length, new FileNbStore(path).Read().Count());
        }

        static NbEntry Entry(string table, string id) => new NbEntry(new NbKey(table, null, id), Json($"{{\"id\": \"{id}\"}}"));

        // A file's text with a line added at its end (ASCII), its header's byte count made to fit, as if the module had written it.
        static string Lengthened(string text, string line) =>
            Regex.Replace(text, "\"object_bytes\":(\\d+)", m => $"\"object_bytes\":{long.Parse(m.Groups[1].Value) + line.Length}") + line;

        static string Ids(IEnumerable<NbEntry> entries) => string.Join(" ", entries.Select(e => e.Key.Table + "/" + e.Key.Id));

        [Fact]
        public void The_modules_objects_are_written_first_and_a_read_of_them_reads_no_further()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(path,
                "{\"table\":\"lport\",\"topic\":null,\"id\":\"p1\",\"value\":{}}\n" +
                "{\"table\":\"schema_migration_log\",\"topic\":null,\"id\":\"baseline\",\"value\":{}}\n" +
                "{\"table\":\"lswitch\",\"topic\":null,\"id\":\"s1\",\"value\":{}}\n");
            using (var store = new FileNbStore(path))
                store.Write(new[] { Entry("df_upgrade_commit", "last-run"), Entry("lport", "p2"), Entry("schema_migration_log", "m1") });
            Assert.StartsWith("{\"header\":{\"module_objects\":3,\"object_bytes\":", File.ReadLines(path).First());
            Assert.Equal("schema_migration_log/baseline df_upgrade_commit/last-run schema_migration_log/m1 lport/p1 lswitch/s1 lport/p2", Ids(new FileNbStore(path).Read()));

            // A line that is no object after the module's, the header's byte count made to fit: a read of their
            // tables does not reach it; any other read does.
            File.WriteAllText(path, Lengthened(File.ReadAllText(path), "not a line of the format\n"));
            using (var store = new FileNbStore(path))
            {
                Assert.Equal("schema_migration_log/baseline schema_migration_log/m1", Ids(store.Read("schema_migration_log")));
                Assert.Equal(new[] { "last-run" }, store.ReadKeys("df_upgrade_commit").Select(k => k.Id));
                Assert.Equal("schema_migration_log/baseline df_upgrade_commit/last-run schema_migration_log/m1",
                    Ids(store.ReadTables(new[] { "df_upgrade_commit", "schema_migration_log" })));
                Assert.Contains("line 8", Assert.Throws<NbFileInvalidException>(() => store.Read("lport").ToList()).Message);
                Assert.Contains("line 8", Assert.Throws<NbFileInvalidException>(() => store.ReadTables(new[] { "schema_migration_log", "lport" }).ToList()).Message);
                Assert.Contains("line 8", Assert.Throws<NbFileInvalidException>(() => store.Write(new[] { Entry("schema_migration_log", "m2") })).Message);
            }
        }

        // With a byte order mark before the header, none of the module's objects and a line more, the header's byte count made to fit.
        [Fact]
        public void A_read_of_the_modules_objects_stops_after_them()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            using (var store = new FileNbStore(path, create: true)) store.Write(Enumerable.Range(0, 3000).Select(i => Entry("lport", "p" + i)).ToList());
            // Damage past the file buffer's first read (64 KiB of lines), which only a whole read meets.
            File.WriteAllBytes(path, new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Json(Lengthened(File.ReadAllText(path), "[]\n"))).ToArray());
            using (var store = new FileNbStore(path))
            {
                Assert.Equal("", Ids(store.Read("schema_migration_log")));
                Assert.Empty(store.ReadTables(new[] { "df_upgrade_run" }));
                Assert.Contains("line 3002", Assert.Throws<NbFileInvalidException>(() => store.Read().ToList()).Message);
            }
        }

        // gzip's trailer holds the length of its last member only: the file written twice over, one copy after
        // the other, ends as the header's count says; and a byte past the first read changed, which only a
        // whole read meets. A compressed file is read whole, for the module's objects too.
        [Theory]
        [InlineData("written twice over", "line 3003: holds a header, which only the file's first line may hold, as gzip files joined one after another")]
        [InlineData("a byte changed", "gzip")]
        public void A_compressed_file_is_read_whole_for_the_modules_objects_too(string change, string says)
        {
            string path = Path.Combine(_dir, "nb.jsonl.gz");
            using (var store = new FileNbStore(path, create: true))
                store.Write(Enumerable.Range(0, 3000).Select(i => Entry("lport", "p" + i)).Append(Entry("schema_migration_log", "m1")).ToList());
            var bytes = File.ReadAllBytes(path);
            if (change == "a byte changed") bytes[bytes.Length * 9 / 10] ^= 0xFF;
            else bytes = bytes.Concat(bytes).ToArray();
            File.WriteAllBytes(path, bytes);
            using (var store = new FileNbStore(path))
            {
                Assert.Contains(says, Assert.Throws<NbFileInvalidException>(() => store.Read("schema_migration_log").ToList()).Message);
                Assert.Contains(says, Assert.Throws<NbFileInvalidException>(() => store.ReadTables(new[] { "df_upgrade_run" }).ToList()).Message);
            }
            Assert.Equal(bytes, File.ReadAllBytes(path));
        }

        // As a module that did not count its objects writes them, at the end; or cut short, or edited by hand (a line moved to the module's tables).
        [Theory]
        [InlineData("a log row added at the end")]
        [InlineData("cut short")]
        [InlineData("a table edited")]
        public void A_file_changed_since_the_module_wrote_it_is_read_whole_for_the_modules_objects_too(string change)
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            using (var store = new FileNbStore(path, create: true))
                store.Write(Enumerable.Range(0, 3000).Select(i => Entry("lport", "p" + i)).Append(Entry("schema_migration_log", "m1")).ToList());
            string text = File.ReadAllText(path);
            File.WriteAllText(path,
                change == "cut short" ? text.Substring(0, text.Length - 20) :
                change == "a table edited" ? text.Replace("{\"table\":\"lport\",\"topic\":null,\"id\":\"p2999\"", "{\"table\":\"schema_migration_log\",\"topic\":null,\"id\":\"p2999\"") :
                text + "{\"table\":\"schema_migration_log\",\"topic\":null,\"id\":\"m2\",\"value\":{}}\n");
            using (var store = new FileNbStore(path))
            {
                if (change == "cut short") Assert.Contains("line 3002", Assert.Throws<NbFileInvalidException>(() => store.Read("schema_migration_log").ToList()).Message);
                else Assert.Equal(change == "a table edited" ? "schema_migration_log/m1 schema_migration_log/p2999" : "schema_migration_log/m1 schema_migration_log/m2", Ids(store.Read("schema_migration_log")));
            }
        }

        static string Run(string command, params string[] args)
        {
            var start = new System.Diagnostics.ProcessStartInfo(command) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            using (var p = System.Diagnostics.Process.Start(start)!)
            {
                string output = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, $"{command} failed");
                return output;
            }
        }

        // Its mode; and its owner and group, where this user may give them (root, as the test machines run).
        [Theory]
        [InlineData("600")]
        [InlineData("640")]
        public void A_write_keeps_the_files_permissions_and_owner(string mode)
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            using (var store = new FileNbStore(path, create: true)) store.Write(new[] { Entry("lport", "p1") });
            File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(mode, 8));
            bool root = Run("id", "-u") == "0";
            if (root) Run("chown", "65534:65534", path);
            string before = Run("stat", "-c", "%a %u:%g", path);
            using (var store = new FileNbStore(path)) store.Write(new[] { Entry("lport", "p2") });
            Assert.Equal(before, Run("stat", "-c", "%a %u:%g", path));
            Assert.StartsWith(mode, before);
            Assert.Equal(2, new FileNbStore(path).Read().Count());
        }

        [Fact]
        public void A_file_whose_header_has_a_checksum_is_read_whole_even_for_the_modules_objects()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            NbBackup.Write(new[] { Entry("lport", "p1") }, "redis://127.0.0.1:1/3", path);
            using (var store = new FileNbStore(path)) store.Write(new[] { Entry("schema_migration_log", "m1") });
            using (var store = new FileNbStore(path))
            {
                Assert.Equal("schema_migration_log/m1 lport/p1", Ids(store.Read()));
                Assert.Equal(2, store.ReadHeader()!.Value.GetProperty("objects").GetInt32());
                Assert.Equal(1, store.ReadHeader()!.Value.GetProperty("module_objects").GetInt32());
            }
            File.AppendAllText(path, "{\"table\":\"lport\",\"topic\":null,\"id\":\"p9\",\"value\":{}}\n");
            using (var store = new FileNbStore(path))
                Assert.Contains("holds 3 objects but its header says 2", Assert.Throws<NbFileInvalidException>(() => store.Read("schema_migration_log").ToList()).Message);
        }

        [Theory]
        [InlineData("{\"table\":\"lport\",\"topic\":null,\"id\":\"p1\"}", "'value' is missing")]
        [InlineData("{\"table\":\"lport\",\"topic\":null,\"value\":{}}", "'id' must be a string")]
        [InlineData("{\"table\":\"lport\",\"topic\":3,\"id\":\"p\",\"value\":{}}", "'topic' must be a string or null")]
        [InlineData("{\"table\":\"lport\",", "not valid JSON")]
        [InlineData("[1,2]", "must be a JSON object")]
        public void A_malformed_line_is_an_error_naming_the_file_and_line(string bad, string why)
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(path, "{\"table\":\"a\",\"topic\":null,\"id\":\"1\",\"value\":{}}\n" + bad + "\n");
            using (var store = new FileNbStore(path))
            {
                var e = Assert.Throws<NbFileInvalidException>(() => store.Read().ToList());
                Assert.Equal("NbFileInvalid", e.ErrorId);
                Assert.Contains(path + ", line 2", e.Message);
                Assert.Contains(why, e.Message);
            }
        }

        [Fact]
        public void A_path_that_is_not_a_jsonl_file_is_refused()
        {
            var e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open(Path.Combine(_dir, "nb.json")));
            Assert.Equal("NbDatabaseUriInvalid", e.ErrorId);
            Assert.Contains(".jsonl", e.Message);
        }
    }
}
