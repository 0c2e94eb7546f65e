using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Hostile database URIs given to the engine: each is refused with its error id, a message that
    /// names the culprit, the test database as it was, and the password nowhere in the exception.
    /// In a row, {pw} is the password, whose {a} and {b} are random per run (a leak of part of it is
    /// caught too); {redis}, {etcd} and {etcdauth} are the test servers.
    /// </summary>
    [Collection(EtcdCollection.Name)]
    public class DatabaseUriHostileTests
    {
        public static IEnumerable<object[]> Cases => new[]
        {
            Row("one slash", "redis:/:{pw}@{redis}/0", "{a}{b}", "NbDatabaseUriInvalid", "two slashes"),
            Row("no host", "redis://:{pw}@", "{a}{b}", "NbDatabaseUriInvalid", "no host"),
            Row("port too big", "redis://:{pw}@h:99999/0", "{a}#{b}", "NbDatabaseUriInvalid", "'99999'"),
            Row("port with a sign", "redis://:{pw}@h:+1/0", "{a}{b}", "NbDatabaseUriInvalid", "'+1'"),
            Row("db not a number", "redis://:{pw}@h:1/zero", "{a}/{b}", "NbDatabaseUriInvalid", "'zero'"),
            Row("the password in a query", "redis://h:1/0?password={pw}", "{a}{b}", "NbDatabaseUriInvalid", "no query"),
            Row("the password in a fragment", "etcd://h:1#{pw}", "{a}{b}", "NbDatabaseUriInvalid", "fragment"),
            Row("bad escape", "redis://:{pw}@h:1/0", "{a}%x{b}", "NbDatabaseUriInvalid", "'%'"),
            Row("escape of no UTF-8", "etcd://root:{pw}@h:1", "{a}%80{b}", "NbDatabaseUriInvalid", "UTF-8"),
            Row("unknown scheme", "mongodb://u:{pw}@h:1", "{a}{b}", "NbDatabaseUriInvalid", "'mongodb'"),
            Row("a Windows path that is no .jsonl", "C:\\nb\\nb.json", "{a}{b}", "NbDatabaseUriInvalid", "neither"),
            Row("etcd password only", "etcd://:{pw}@h:1", "{a}{b}", "NbDatabaseUriInvalid", "user name and a password"),
            Row("etcd path", "etcd://root:{pw}@h:1/x", "{a}{b}", "NbDatabaseUriInvalid", "'/x'"),
            Row("redis unreachable", "redis://:{pw}@127.0.0.1:1/0", "{a}@{b}", "NbDatabaseUnavailable", "redis://127.0.0.1:1/0"),
            Row("etcd unreachable", "etcd://root:{pw}@127.0.0.1:1", "{a} {b}", "NbDatabaseUnavailable", "etcd://127.0.0.1:1"),
            Row("etcd wrong password", "etcd://root:{pw}@{etcdauth}", "{a}:{b}", "NbDatabaseUnavailable", "etcd://{etcdauth}"),
            Row("etcd wrong password, unicode", "etcd://root:{pw}@{etcdauth}", "{a}ü€{b}", "NbDatabaseUnavailable", "etcd://{etcdauth}"),
            Row("redis password where there is none", "redis://:{pw}@{redis}/{db}", "{a}?{b}", "NbDatabaseUnavailable", "redis://{redis}/{db}"),
            Row("redis unknown user", "redis://ghost:{pw}@{redis}/{db}", "{a}#{b}", "NbDatabaseUnavailable", "redis://{redis}/{db}"),
        };

        static object[] Row(string name, string uri, string password, string errorId, string culprit) => new object[] { name, uri, password, errorId, culprit };

        [Theory]
        [MemberData(nameof(Cases))]
        public void Is_refused_naming_the_culprit_without_the_password(string name, string uri, string password, string errorId, string culprit)
        {
            string a = Guid.NewGuid().ToString("N").Substring(0, 10), b = Guid.NewGuid().ToString("N").Substring(0, 10);
            string db = TestRedis.NewDatabase();
            int index = TestRedis.DbOf(db);
            string authEndpoint = TestEtcd.AuthEndpoint.Substring(TestEtcd.AuthEndpoint.LastIndexOf('@') + 1);
            string Fill(string s) => s.Replace("{redis}", TestRedis.Endpoint).Replace("{etcdauth}", authEndpoint).Replace("{etcd}", TestEtcd.Endpoint)
                                      .Replace("{db}", index.ToString()).Replace("{a}", a).Replace("{b}", b);
            string text = Fill(uri).Replace("{pw}", Fill(password));
            using (var mux = TestRedis.Connect())
            {
                var redis = mux.GetDatabase(index);
                redis.StringSet("{lport.t}.p1", "{\"id\":\"p1\"}");
                string before = Dump(mux, index);

                var e = Assert.ThrowsAny<Exception>(() => NbStoreFactory.Open(text).Dispose());

                string id = e is DfException df ? df.ErrorId : e is NbStoreException ? "NbDatabaseUnavailable" : e.GetType().Name;
                Assert.True(id == errorId, $"{name}: {id} rather than {errorId}: {e.Message}");
                Assert.Contains(Fill(culprit), e.Message);
                string everything = e.ToString() + (e as DfException)?.Target + (e as DfException)?.RecommendedAction;
                Assert.DoesNotContain(a, everything);
                Assert.DoesNotContain(b, everything);
                Assert.Equal(before, Dump(mux, index));
            }
        }

        static string Dump(ConnectionMultiplexer mux, int index) =>
            string.Join("\n", mux.GetServer(TestRedis.Endpoint).Keys(index).Select(k => k + "=" + mux.GetDatabase(index).StringGet(k)).OrderBy(s => s, StringComparer.Ordinal));

        [Theory]
        [InlineData("redis://:p#a/s?s@w:o@rd@h:7/3", null, "p#a/s?s@w:o@rd", "redis://:***@h:7/3", "redis://h:7/3")]
        [InlineData("redis://op:%25%3A%40%20%C3%A9@h", "op", "%:@ é", "redis://op:***@h", "redis://h:6379/0")]
        [InlineData("redis://secret@[::1]:6390/", null, "secret", "redis://***@[::1]:6390/", "redis://[::1]:6390/0")]
        [InlineData(" etcd://root:pa ss@a:1,b ", "root", "pa ss", "etcd://root:***@a:1,b", "etcd://a:1,b:2379")]
        [InlineData("ETCD://H", null, null, "ETCD://H", "etcd://h:2379")]
        [InlineData("etcd://A:1,a:1,B", null, null, "etcd://A:1,a:1,B", "etcd://a:1,b:2379")]
        public void Parses_passwords_with_any_character_and_prints_only_the_redacted_form(string text, string user, string password, string display, string location)
        {
            var uri = NbDatabaseUri.Parse(text);
            Assert.Equal(user, uri.User);
            Assert.Equal(password, uri.Password);
            Assert.Equal(display, uri.Display);
            Assert.Equal(display, uri.ToString());
            Assert.Equal(location, uri.Location);
        }

        [Theory]
        [InlineData("redis://h:6379", "redis://h:6379/0", true)]
        [InlineData("redis://H", "redis://h:6379/0", true)]
        [InlineData("redis://:pw@h:6379/", "redis://h/0", true)]
        [InlineData("redis://h:6379/0", "redis://h:6379/1", false)]
        [InlineData("redis://h:6379/0", "redis://h:6380/0", false)]
        [InlineData("etcd://a", "etcd://a,b", true)]
        [InlineData("etcd://B:2379,c", "etcd://a:2379,b", true)]
        [InlineData("etcd://a", "etcd://b", false)]
        [InlineData("etcd://a:2379", "redis://a:2379", false)]
        [InlineData("/nb/nb.jsonl", "/nb/nb.jsonl", true)]
        [InlineData("/nb/nb.jsonl", "redis://h", false)]
        [InlineData(null, "redis://h", false)]
        public void A_database_is_the_same_however_its_location_is_spelled(string a, string b, bool same)
        {
            Assert.Equal(same, NbDatabaseUri.SameDatabase(a, b));
            Assert.Equal(same, NbDatabaseUri.SameDatabase(b, a));
        }

        [Theory]
        [InlineData("redis://:pw@host:99999/0", "redis://:***@host:99999/0")]
        [InlineData("redis:/user:pw@host", "redis:/user:***@host")]
        [InlineData("user:pw@host", "user:***@host")]
        [InlineData("not a uri: pw@host", "not a uri:***@host")]
        [InlineData("redis://h/0?password=pw", "redis://h/0?password=***")]
        [InlineData("rediss://h/0?ca=/a.pem&pw&x=pw#pw", "rediss://h/0?ca=/a.pem&***&x=***#***")]
        [InlineData("redis://h/0#pw", "redis://h/0#***")]
        [InlineData("./nb@pw.jsonl", "./nb@pw.jsonl")]
        public void Redacts_whatever_may_be_a_password_even_when_the_value_does_not_parse(string text, string redacted)
        {
            Assert.Equal(redacted, NbDatabaseUri.Redact(text));
        }

        [Fact]
        public void A_masked_password_without_a_credential_is_refused_before_any_connection()
        {
            var e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open("redis://:***@127.0.0.1:1/0"));
            Assert.Equal("NbDatabaseCredentialMissing", e.ErrorId);
            Assert.Equal("redis://:***@127.0.0.1:1/0", e.Target);
        }

        [Fact]
        public void A_credential_for_a_file_is_refused_and_leaves_the_file_as_it_was()
        {
            string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".jsonl");
            try
            {
                var e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open(path, "root", "s3cret-" + path));
                Assert.Equal("NbDatabaseUriInvalid", e.ErrorId);
                Assert.Contains(path, e.Message);
                Assert.DoesNotContain("s3cret", e.ToString() + e.Target + e.RecommendedAction);
                Assert.False(System.IO.File.Exists(path));
            }
            finally { System.IO.File.Delete(path); }
        }

        [Fact]
        public void An_etcd_with_several_endpoints_is_opened_at_the_first_that_answers()
        {
            TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open($"etcd://127.0.0.1:1,{TestEtcd.Endpoint}"))
            {
                Assert.Equal($"etcd://127.0.0.1:1,{TestEtcd.Endpoint}", store.Location);
                Assert.Empty(store.ReadKeys("lport"));
            }
        }

        [Fact]
        public void A_store_opened_with_a_password_keeps_it_out_of_its_location()
        {
            using (var store = NbStoreFactory.Open("etcd://" + TestEtcd.AuthEndpoint))
                Assert.DoesNotContain("root:", store.Location);
            string password = TestEtcd.AuthEndpoint.Split('@')[0].Split(':')[1];
            using (var store = NbStoreFactory.Open("etcd://" + TestEtcd.AuthEndpoint.Split('@')[1], "root", password))
                Assert.DoesNotContain(password, store.Location);
        }
    }
}
