using System;
using System.IO;
using System.Linq;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// The TLS test servers build.ps1 starts: a Redis (DF_TEST_REDIS_TLS) and an etcd
    /// (DF_TEST_ETCD_TLS), both asking for a client certificate, with certificates made at test
    /// time in DF_TEST_TLS (a CA, a server certificate for 127.0.0.1 only, a client certificate,
    /// and another CA that signed neither).
    /// </summary>
    static class TestTls
    {
        static int _nextDb = 10;

        static string Env(string name) => Environment.GetEnvironmentVariable(name)
            ?? throw new InvalidOperationException($"{name} is not set: run the tests through 'build.ps1 Test', which starts the TLS test servers.");

        public static string File(string name) => Path.Combine(Env("DF_TEST_TLS"), name);

        public static string Redis => Env("DF_TEST_REDIS_TLS");
        public static string Etcd => Env("DF_TEST_ETCD_TLS");

        /// <summary>The query that gives the CA (<paramref name="ca"/>) and the client certificate.</summary>
        public static string Query(string ca = "ca.pem", bool client = true) =>
            $"?ca={Uri.EscapeDataString(File(ca))}" + (client ? $"&cert={Uri.EscapeDataString(File("client.pem"))}&key={Uri.EscapeDataString(File("client.key"))}" : "");

        /// <summary>A database of the TLS Redis no other test uses (the server starts empty each run).</summary>
        public static string NewRedisDatabase(string host = null) =>
            $"rediss://{host ?? Redis}/{Interlocked.Increment(ref _nextDb)}";
    }

    public class TlsStoreTests
    {
        static readonly NbKey Port = new NbKey("lport", "t", "p1");
        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

        static void WritesReadsAndLocks(string uri)
        {
#if ENGINE_NETSTANDARD
            // Windows PowerShell's build cannot read a PEM key: it says so, naming what to do.
            var refused = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open(uri));
            Assert.Contains("a client certificate (cert= and key=) needs PowerShell 7", refused.Message);
            return;
#endif
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(new[] { new NbEntry(Port, Json("{\"id\": \"p1\"}")) });
                Assert.Equal("{\"id\": \"p1\"}", Encoding.UTF8.GetString(store.Read("lport").Single().Value.ToArray()));
                using (UpgradeLock.Acquire(store, "tls test"))
                    Assert.Equal("tls test", UpgradeLock.Read(store).Purpose);
                Assert.Null(UpgradeLock.Read(store));
            }
        }

        [Fact]
        public void Redis_over_tls_with_the_ca_and_a_client_certificate_reads_writes_and_locks() =>
            WritesReadsAndLocks(TestTls.NewRedisDatabase() + TestTls.Query());

        [Fact]
        public void Etcd_over_https_with_the_ca_and_a_client_certificate_reads_writes_and_locks()
        {
            string uri = $"etcds://{TestTls.Etcd}{TestTls.Query()}";
#if !ENGINE_NETSTANDARD
            using (var store = NbStoreFactory.Open(uri))
                store.Write(store.Read().Select(e => NbEntry.Delete(e.Key)).ToList());
#endif
            WritesReadsAndLocks(uri);
        }

        [Theory]
        [InlineData("rediss")]
        [InlineData("etcds")]
        public void A_server_certificate_from_another_ca_is_refused_saying_so(string scheme)
        {
            string uri = scheme == "rediss" ? TestTls.NewRedisDatabase() : $"etcds://{TestTls.Etcd}";
            // The server's certificate is checked before the client's is asked for.
            var e = Assert.Throws<NbCertificateException>(() => NbStoreFactory.Open(uri + TestTls.Query("other-ca.pem", client: false)).Dispose());
            Assert.Equal("NbDatabaseCertificateRejected", e.ErrorId);
            Assert.Contains("is not signed by the CA in " + TestTls.File("other-ca.pem"), e.Message);
            Assert.Contains(scheme == "rediss" ? TestTls.Redis : TestTls.Etcd, e.Message);
        }

        [Theory]
        [InlineData("rediss")]
        [InlineData("etcds")]
        public void A_host_name_the_certificate_does_not_list_is_refused_saying_so(string scheme)
        {
            // The server's certificate names 127.0.0.1 only.
            string port = (scheme == "rediss" ? TestTls.Redis : TestTls.Etcd).Split(':')[1];
            string uri = scheme == "rediss" ? TestTls.NewRedisDatabase("localhost:" + port) : $"etcds://localhost:{port}";
            var e = Assert.Throws<NbCertificateException>(() => NbStoreFactory.Open(uri + TestTls.Query(client: false)).Dispose());
            Assert.Contains("does not name the host 'localhost'", e.Message);
        }

        [Fact]
        public void An_expired_certificate_of_the_ca_given_is_refused_for_its_date_alone()
        {
            // A CA and a server certificate it signed that expired yesterday, made here: the CA given
            // by file is an unknown root to the machine, which the check allows, so its being
            // self-signed is not a reason to name.
            using (var caKey = RSA.Create(2048))
            using (var serverKey = RSA.Create(2048))
            {
                var caRequest = new CertificateRequest("CN=df test expired CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
                using (var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30)))
                {
                    var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                    using (var server = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1), new byte[] { 1, 2, 3, 4 }))
                    {
                        string caFile = Path.Combine(Path.GetTempPath(), "df-expired-ca-" + Guid.NewGuid().ToString("N") + ".pem");
                        System.IO.File.WriteAllText(caFile, "-----BEGIN CERTIFICATE-----\n" +
                            Convert.ToBase64String(ca.RawData, Base64FormattingOptions.InsertLineBreaks) + "\n-----END CERTIFICATE-----\n");
                        try
                        {
                            var tls = NbTls.Load(NbDatabaseUri.Parse($"rediss://127.0.0.1:1/0?ca={caFile}"));
                            string problem = tls.Problem("127.0.0.1", server, SslPolicyErrors.RemoteCertificateChainErrors);
                            Assert.StartsWith("the server's certificate (CN=127.0.0.1) does not verify: ", problem);
                            Assert.Contains("expired", problem);
                            Assert.DoesNotContain("self-signed", problem);
                            Assert.DoesNotContain(";", problem);
                        }
                        finally { System.IO.File.Delete(caFile); }
                    }
                }
            }
        }

        [Fact]
        public void Redis_asking_for_a_client_certificate_that_is_not_given_is_a_clear_error()
        {
            var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open(TestTls.NewRedisDatabase() + TestTls.Query(client: false)).Dispose());
            Assert.Equal("NbDatabaseUnavailable", e.ErrorId);
            Assert.Contains(TestTls.Redis, e.Message);
            Assert.Contains("client certificate (cert= and key=)", e.Message);
        }

        [Fact]
        public void A_tls_file_that_is_missing_or_not_pem_is_named_before_anything_is_sent()
        {
            string missing = Path.Combine(Path.GetTempPath(), "df-no-such-" + Guid.NewGuid().ToString("N") + ".pem");
            var e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open($"rediss://127.0.0.1:1/0?ca={missing}"));
            Assert.Equal("NbDatabaseUriInvalid", e.ErrorId);
            Assert.Contains($"the file {missing} (ca=) is unusable", e.Message);

            // A key given as the CA: named by its path, its contents never shown.
            e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open($"rediss://127.0.0.1:1/0?ca={TestTls.File("client.key")}"));
            Assert.Contains("holds no PEM certificate", e.Message);
            string key = System.IO.File.ReadAllText(TestTls.File("client.key"));
            string body = key.Split('\n')[1];
            Assert.DoesNotContain(body, e.ToString());
        }

        [Fact]
        public void A_tls_file_that_is_a_pipe_or_a_key_that_is_not_the_certificates_is_named_before_anything_is_sent()
        {
            string pipe = Path.Combine(Path.GetTempPath(), "df-pipe-" + Guid.NewGuid().ToString("N") + ".pem");
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", pipe)) mkfifo.WaitForExit();
            try
            {
                // Reading the pipe would wait for a writer: a test that hangs is a failure here.
                var open = System.Threading.Tasks.Task.Run(() => Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open($"rediss://127.0.0.1:1/0?ca={pipe}")));
                Assert.True(open.Wait(TimeSpan.FromSeconds(60)), "opening a store whose ca= is a pipe did not end");
                Assert.Contains($"the file {pipe} (ca=) is unusable: it is not a regular file", open.Result.Message);
            }
            finally { System.IO.File.Delete(pipe); }

            var e = Assert.Throws<NbDatabaseUriException>(() =>
                NbStoreFactory.Open($"rediss://127.0.0.1:1/0?ca={TestTls.File("ca.pem")}&cert={TestTls.File("client.pem")}&key={TestTls.File("server.key")}"));
            Assert.Equal("NbDatabaseUriInvalid", e.ErrorId);
#if ENGINE_NETSTANDARD
            Assert.Contains("needs PowerShell 7", e.Message);   // this build reads no PEM key at all
#else
            Assert.Contains($"the file {TestTls.File("client.pem")} (cert=) is unusable", e.Message);
#endif
        }
    }

    public class TlsUriTests
    {
        [Fact]
        public void A_tls_uri_names_its_files_in_the_query_and_shows_their_paths_but_not_the_password()
        {
            var uri = NbDatabaseUri.Parse("rediss://op:p%40ss@h:7/2?ca=/etc/df/ca.pem&CERT=/etc/df/my%20client.pem&key=/etc/df/client.key");
            Assert.True(uri.UsesTls);
            Assert.Equal("redis", uri.Kind);
            Assert.Equal("p@ss", uri.Password);
            Assert.Equal(("/etc/df/ca.pem", "/etc/df/my client.pem", "/etc/df/client.key"), (uri.TlsFiles.CaFile, uri.TlsFiles.CertFile, uri.TlsFiles.KeyFile));
            Assert.Equal("rediss://op:***@h:7/2?ca=/etc/df/ca.pem&CERT=/etc/df/my%20client.pem&key=/etc/df/client.key", uri.Display);
            Assert.Equal("rediss://h:7/2", uri.Location);

            var etcd = NbDatabaseUri.Parse("etcds://a,b:2380");
            Assert.Equal(("etcd", true, null), (etcd.Kind, etcd.UsesTls, etcd.TlsFiles.CaFile));
            Assert.Equal("etcds://a:2379,b:2380", etcd.Location);
            Assert.False(NbDatabaseUri.SameDatabase("etcds://a", "etcd://a"));
        }

        [Theory]
        [InlineData("redis://h/0?ca=/ca.pem", "no query or fragment", "rediss://host:port?ca=FILE")]
        [InlineData("rediss://h/0?ca=/ca.pem&password=s3cret", "takes only ca=FILE, cert=FILE and key=FILE", null)]
        [InlineData("rediss://h/0?s3cret", "takes only ca=FILE, cert=FILE and key=FILE", null)]
        [InlineData("etcds://h?ca=", "ca= names no file", null)]
        [InlineData("etcds://h?ca=/a&ca=/b", "ca= is given twice", null)]
        [InlineData("etcds://h?cert=/c.pem", "key= is missing", null)]
        [InlineData("rediss://h/0?ca=/ca.pem#s3cret", "no fragment", null)]
        public void A_query_that_is_not_tls_files_is_refused_saying_what_it_takes(string text, string problem, string hint)
        {
            var e = Assert.Throws<NbDatabaseUriException>(() => NbDatabaseUri.Parse(text));
            Assert.Equal("NbDatabaseUriInvalid", e.ErrorId);
            Assert.Contains(problem, e.Message);
            if (hint != null) Assert.Contains(hint, e.Message);
            Assert.DoesNotContain("s3cret", e.ToString());
        }
    }
}
