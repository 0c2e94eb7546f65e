using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Hostile stored keys and heartbeat rows: keys that are not UTF-8, Redis values of other
    /// types under Dragonflow-shaped keys, odd tables, topics and ids, heartbeat rows with times
    /// that are not times. Each case checks the error id, that the key is named, that the stored
    /// data is byte-for-byte as it was, that a read of keys, a read of objects and a backup agree,
    /// and that the password of the URI the store was opened with appears nowhere.
    /// </summary>
    public class StoredKeysHostileTests
    {
        const string Secret = "hostile-Secret-5e4f";
        static readonly byte[] Good = Encoding.UTF8.GetBytes("{\"id\": \"good\", \"topic\": \"t\"}");

        static byte[] Bytes(string ascii, params byte[] tail) => Encoding.ASCII.GetBytes(ascii).Concat(tail).ToArray();

        // A database of its own, opened as a user whose password is the test secret.
        static (string Uri, IDatabase Db, ConnectionMultiplexer Mux) SecretRedis()
        {
            string plain = TestRedis.NewDatabase();
            var mux = TestRedis.Connect();
            mux.GetServer(TestRedis.Endpoint).Execute("ACL", "SETUSER", "df-hostile", "on", ">" + Secret, "~*", "+@all");
            string db = plain.Substring(plain.LastIndexOf('/'));
            return ($"redis://df-hostile:{Secret}@{TestRedis.Endpoint}{db}", mux.GetDatabase(TestRedis.DbOf(plain)), mux);
        }

        // Every key of the database with what DUMP gives for it: type, value and encoding.
        static SortedDictionary<string, string> Raw(IDatabase db, ConnectionMultiplexer mux) =>
            new SortedDictionary<string, string>(mux.GetServer(TestRedis.Endpoint).Keys(db.Database, "*", pageSize: 1000)
                .ToDictionary(k => Convert.ToBase64String((byte[])k), k => Convert.ToBase64String(db.KeyDump(k))), StringComparer.Ordinal);

        static void NoSecret(Exception e)
        {
            Assert.DoesNotContain(Secret, e.ToString());
            if (e is DfException df)
            {
                Assert.DoesNotContain(Secret, df.Target ?? "");
                Assert.DoesNotContain(Secret, df.RecommendedAction ?? "");
            }
        }

        // A read of keys, a read of objects and a backup all refuse with the same error, naming the key; no backup file is left.
        static void EveryReadRefuses(string uri, string errorId, string shownKey)
        {
            string backup = Path.Combine(Path.GetTempPath(), "df-hostile-" + Guid.NewGuid().ToString("N") + ".jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            {
                foreach (var read in new Action[] { () => store.ReadKeys().ToList(), () => store.Read().ToList(), () => NbBackup.Write(store, backup) })
                {
                    var e = Assert.IsAssignableFrom<DfException>(Record.Exception(read));
                    Assert.Equal(errorId, e.ErrorId);
                    Assert.Contains(shownKey, e.Message);
                    Assert.Equal(shownKey, e.Target);
                    Assert.NotNull(e.RecommendedAction);
                    NoSecret(e);
                }
                // The store stays usable after a refusal: a read of another table works.
                Assert.Empty(store.Read("no-such-table"));
            }
            Assert.False(File.Exists(backup));
        }

        public static IEnumerable<object[]> RedisKeysNotUtf8 => new[]
        {
            new object[] { "invalid continuation in the id", Bytes("{lport.t}.bad", 0xc3, 0x28) },
            new object[] { "0xff in the table", Bytes("{lp", 0xff).Concat(Bytes("ort.t}.p1")).ToArray() },
            new object[] { "0xfe as the topic", Bytes("{lport.", 0xfe).Concat(Bytes("}.p1")).ToArray() },
            new object[] { "overlong '/'", Bytes("{lport.t}.", 0xc0, 0xaf) },
            new object[] { "an encoded surrogate", Bytes("{lport.t}.", 0xed, 0xa0, 0x80) },
            new object[] { "a truncated euro sign", Bytes("{lswitch.}.s", 0xe2, 0x82) },
            new object[] { "latin-1 text", Bytes("{lport.tenant}.caf", 0xe9) },
        };

        [Theory]
        [MemberData(nameof(RedisKeysNotUtf8))]
        public void Redis_key_not_utf8_is_refused_by_every_read(string what, byte[] key)
        {
            var (uri, db, mux) = SecretRedis();
            using (mux)
            {
                db.StringSet("{lport.t}.good", Good);
                db.StringSet(key, "{\"id\": \"x\"}");
                var before = Raw(db, mux);
                EveryReadRefuses(uri, "NbKeyNotUtf8", NbKeyException.Display(key));
                Assert.Equal(before, Raw(db, mux));
                Assert.NotEmpty(what);
            }
        }

        public static IEnumerable<object[]> RedisOtherTypes => new[]
        {
            new object[] { "list", "{lport.t}.l1", 0 },
            new object[] { "hash", "{lport.t}.h1", 0 },
            new object[] { "set", "{lswitch.}.s1", 0 },
            new object[] { "zset", "{lport.t}.z1", 0 },
            new object[] { "stream", "{chassis.}.c1", 0 },
            new object[] { "hash", "{lport.t}.among-many", 2500 },   // past the first batches of keys
            new object[] { "list", "{df_upgrade_log.}.m1", 0 },      // the module's own table
        };

        [Theory]
        [MemberData(nameof(RedisOtherTypes))]
        public void Redis_value_of_another_type_is_refused_by_every_read(string type, string key, int others)
        {
            var (uri, db, mux) = SecretRedis();
            using (mux)
            {
                db.StringSet("{lport.t}.good", Good);
                for (int i = 0; i < others; i += 500)
                    db.StringSet(Enumerable.Range(i, Math.Min(500, others - i)).Select(n => new KeyValuePair<RedisKey, RedisValue>($"{{lport.t}}.p{n}", "{}")).ToArray());
                switch (type)
                {
                    case "list": db.ListRightPush(key, "{\"id\": \"x\"}"); break;
                    case "hash": db.HashSet(key, "id", "x"); break;
                    case "set": db.SetAdd(key, "x"); break;
                    case "zset": db.SortedSetAdd(key, "x", 1); break;
                    case "stream": db.StreamAdd(key, "id", "x"); break;
                }
                var before = Raw(db, mux);
                EveryReadRefuses(uri, "NbValueWrongType", key);
                using (var store = NbStoreFactory.Open(uri))
                    Assert.Contains("a Redis " + type, Record.Exception(() => store.Read().ToList()).Message);
                Assert.Equal(before, Raw(db, mux));
            }
        }

        public static IEnumerable<object[]> OddButValidKeys => new[]
        {
            new object[] { "{lport.t}.id.with.dots", "lport", 1 },
            new object[] { "{lport.a.b}.x", "lport", 1 },                // a topic with a dot
            new object[] { "{lport.t}.{x.y}.z", "lport", 1 },
            new object[] { "{lport.t}.line\nbreak", "lport", 1 },
            new object[] { "{lport.t}.ünïcödé", "lport", 1 },
            new object[] { "{lport.t}. spaced ", "lport", 1 },
            new object[] { "{.t}.x", null, 0 },                         // no table: not an NB key
            new object[] { "{lport.t}x", "lport", 1 },                  // master's layout, read as the same object
            new object[] { "lport.t.x", null, 0 },
            new object[] { "{lport}.x", null, 0 },                      // no topic separator
        };

        [Theory]
        [MemberData(nameof(OddButValidKeys))]
        public void Odd_keys_count_the_same_in_keys_objects_and_a_backup(string key, string table, int count)
        {
            var (uri, db, mux) = SecretRedis();
            using (mux)
            {
                db.StringSet(key, "{\"id\": \"odd\"}");
                db.StringSet("{lswitch.}.s1", "{\"id\": \"s1\"}");
                var before = Raw(db, mux);
                string backup = Path.Combine(Path.GetTempPath(), "df-hostile-" + Guid.NewGuid().ToString("N") + ".jsonl");
                try
                {
                    using (var store = NbStoreFactory.Open(uri))
                    {
                        var keys = store.ReadKeys().ToList();
                        var objects = store.Read().ToList();
                        var info = NbBackup.Write(store, backup);
                        Assert.Equal(count + 1, keys.Count);
                        Assert.Equal(keys.OrderBy(k => k.ToString()), objects.Select(o => o.Key).OrderBy(k => k.ToString()));
                        Assert.Equal(count + 1, info.Objects);
                        if (table != null)   // FormatKey gives queens' layout, which the master-layout key "{lport.t}x" reads as too
                            Assert.Equal(key.Replace("}x", "}.x"), RedisNbStore.FormatKey(Assert.Single(objects, o => o.Key.Table == table).Key));
                        Assert.DoesNotContain(Secret, File.ReadAllText(backup));
                    }
                }
                finally { File.Delete(backup); }
                Assert.Equal(before, Raw(db, mux));
            }
        }

        static string Ago(double seconds) =>
            (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - seconds).ToString("R", CultureInfo.InvariantCulture);

        // (table, the time's JSON or null for none, expected: "invalid", "alive" or "down")
        public static IEnumerable<object[]> HeartbeatRows => new[]
        {
            new object[] { "service", "1e300", "invalid" },
            new object[] { "service", "9223372036854775807", "invalid" },
            new object[] { "listener", "-1e20", "invalid" },
            new object[] { "publisher", "253402300800", "invalid" },   // a second after the year 9999
            new object[] { "service", "\"soon\"", "invalid" },
            new object[] { "service", "\"NaN\"", "invalid" },
            new object[] { "listener", "\"Infinity\"", "invalid" },
            new object[] { "publisher", "true", "invalid" },
            new object[] { "service", "null", "down" },                // never reported in
            new object[] { "service", "{\"t\": 1}", "invalid" },
            new object[] { "listener", null, "down" },                  // never reported in
            new object[] { "service", "18446744073709551616", "invalid" },   // 2^64
            new object[] { "service", "1764000000000", "invalid" },          // epoch milliseconds
            new object[] { "service", "-1", "invalid" },                     // no heartbeat Dragonflow wrote, not "long ago"
            new object[] { "listener", "-5", "invalid" },
            new object[] { "publisher", "0", "down" },
            new object[] { "service", "AGO(0.5)", "alive" },          // fractional seconds
            new object[] { "listener", "\"AGO(3)\"", "invalid" },      // a number in a string: the field is a number
            new object[] { "service", "\"AGO(500)\"", "invalid" },
            new object[] { "service", "\"1764000000\"", "invalid" },
        };

        [Theory]
        [MemberData(nameof(HeartbeatRows))]
        public void Heartbeat_row_times(string table, string time, string expected)
        {
            var (uri, db, mux) = SecretRedis();
            using (mux)
            {
                string field = ControlPlaneCheck.TimeFieldOf(table);
                if (time != null && time.Contains("AGO("))
                {
                    int open = time.IndexOf("AGO(", StringComparison.Ordinal), close = time.IndexOf(')', open);
                    time = time.Substring(0, open) + Ago(double.Parse(time.Substring(open + 4, close - open - 4), CultureInfo.InvariantCulture)) + time.Substring(close + 1);
                }
                string topic = table == "listener" ? "listener_row-1" : "";
                db.StringSet($"{{{table}.{topic}}}.row-1", "{\"id\": \"row-1\"" + (time == null ? "" : $", \"{field}\": {time}") + "}");
                var before = Raw(db, mux);
                using (var store = NbStoreFactory.Open(uri))
                {
                    var e = Record.Exception(() => ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, force: false, out _));
                    switch (expected)
                    {
                        case "invalid":
                            var invalid = Assert.IsType<HeartbeatInvalidException>(e);
                            Assert.Equal("HeartbeatInvalid", invalid.ErrorId);
                            Assert.Equal($"{table}/row-1", invalid.Target);
                            Assert.Contains($"{table} row 'row-1'", invalid.Message);
                            Assert.Contains(field, invalid.Message);
                            Assert.Contains("-IgnoreLiveControlPlane", invalid.RecommendedAction);
                            Assert.IsType<HeartbeatInvalidException>(Record.Exception(() => ControlPlaneCheck.FindLive(store, ControlPlaneCheck.DefaultServiceDownTime)));
                            NoSecret(invalid);
                            break;
                        case "alive":
                            Assert.Equal("row-1", Assert.Single(Assert.IsType<ControlPlaneAliveException>(e).Live).Id);
                            NoSecret(e);
                            break;
                        default:
                            Assert.Null(e);
                            break;
                    }
                    // Forced (or a -WhatIf run), nothing is refused, and what would be is reported.
                    ControlPlaneCheck.Require(store, ControlPlaneCheck.DefaultServiceDownTime, force: true, out var unreadable);
                    if (expected == "invalid") Assert.Equal($"{table}/row-1", unreadable.Target);
                    else Assert.Null(unreadable);
                }
                Assert.Equal(before, Raw(db, mux));
            }
        }
    }

    [Collection(EtcdCollection.Name)]
    public class EtcdStoredKeysHostileTests
    {
        static byte[] Bytes(string ascii, params byte[] tail) => Encoding.ASCII.GetBytes(ascii).Concat(tail).ToArray();

        public static IEnumerable<object[]> EtcdKeysNotUtf8 => new[]
        {
            new object[] { Bytes("/lport/p", 0xff) },
            new object[] { Bytes("/lp", 0xc3, 0x28).Concat(Bytes("ort/p1")).ToArray() },
            new object[] { Bytes("/lport/", 0xc0, 0xaf) },
            new object[] { Bytes("/lport/", 0xed, 0xa0, 0x80) },
            new object[] { Bytes("/unique_key/lp", 0xe9) },
        };

        [Theory]
        [MemberData(nameof(EtcdKeysNotUtf8))]
        public void Etcd_key_not_utf8_is_refused_by_every_read(byte[] key)
        {
            string uri = TestEtcd.NewDatabase();
            TestEtcd.Put("/lport/good", "{\"id\": \"good\", \"topic\": \"t\"}");
            TestEtcd.PutBytes(key, "{\"id\": \"x\", \"topic\": \"t\"}");
            TestEtcd.PutBytes(Bytes("/", 0xff), "not an NB key: no id"); // skipped, as any key not /table/id
            var before = TestEtcd.All();
            long revision = TestEtcd.Revision();
            string shown = NbKeyException.Display(key);
            string backup = Path.Combine(Path.GetTempPath(), "df-hostile-" + Guid.NewGuid().ToString("N") + ".jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            {
                foreach (var read in new Action[] { () => store.ReadKeys().ToList(), () => store.Read().ToList(), () => NbBackup.Write(store, backup) })
                {
                    var e = Assert.IsType<NbKeyException>(Record.Exception(read));
                    Assert.Equal("NbKeyNotUtf8", e.ErrorId);
                    Assert.Equal(shown, e.Target);
                    Assert.Contains(shown, e.Message);
                    Assert.Contains(store.Location, e.Message);
                }
                Assert.Empty(store.Read("lswitch")); // still usable
            }
            Assert.False(File.Exists(backup));
            Assert.Equal(before, TestEtcd.All());
            Assert.Equal(revision, TestEtcd.Revision());
        }
    }
}
