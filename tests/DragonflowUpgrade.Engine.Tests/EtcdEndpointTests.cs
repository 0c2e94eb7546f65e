using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// A loopback TCP relay in front of the test etcd, standing for a member that dies: it can be
    /// stopped between requests, or made to pass the next request on and then die before the answer
    /// comes back (the write applied, its outcome unknown to the client).
    /// </summary>
    sealed class DyingRelay : IDisposable
    {
        readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        readonly string _host;
        readonly int _port;
        readonly List<TcpClient> _open = new List<TcpClient>();
        int _requests;

        public DyingRelay(string target)
        {
            _host = target.Split(':')[0];
            _port = int.Parse(target.Split(':')[1]);
            _listener.Start();
            Task.Run(AcceptLoop);
        }

        public string Endpoint => "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port;

        /// <summary>How many reads from the client the relay passed on.</summary>
        public int Requests => Volatile.Read(ref _requests);

        /// <summary>
        /// Set to n: after passing n more answers back from etcd, the relay dies at the next one
        /// instead of passing it back (an answer is one read: etcd's are small). -1: never.
        /// </summary>
        public int AnswersBeforeDying = -1;

        async Task AcceptLoop()
        {
            while (true)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(); }
                catch (Exception) { return; }
                var upstream = new TcpClient();
                try { await upstream.ConnectAsync(_host, _port); }
                catch (Exception) { client.Dispose(); upstream.Dispose(); continue; }
                lock (_open) { _open.Add(client); _open.Add(upstream); }
                _ = Pump(client, upstream, toServer: true);
                _ = Pump(upstream, client, toServer: false);
            }
        }

        async Task Pump(TcpClient from, TcpClient to, bool toServer)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int n = await from.GetStream().ReadAsync(buffer, 0, buffer.Length);
                    if (n == 0) break;
                    if (toServer) Interlocked.Increment(ref _requests);
                    else if (Interlocked.Decrement(ref AnswersBeforeDying) == -1) { Dispose(); return; }
                    await to.GetStream().WriteAsync(buffer, 0, n);
                }
            }
            catch (Exception) { }
            from.Dispose();
            to.Dispose();
        }

        /// <summary>Stops listening and drops every connection: the member is dead.</summary>
        public void Dispose()
        {
            _listener.Stop();
            lock (_open)
            {
                foreach (var c in _open) c.Dispose();
                _open.Clear();
            }
        }
    }

    [Collection(EtcdCollection.Name)]
    public class EtcdEndpointTests
    {
        static readonly NbKey P1 = new NbKey("lport", "t", "p1");
        static ReadOnlyMemory<byte> Json(string s) => Encoding.UTF8.GetBytes(s);

        static int ClosedPort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        // How many times the key has been written since it was created (etcd's version of a key).
        static long Version(string key)
        {
            using (var http = new System.Net.Http.HttpClient(new System.Net.Http.HttpClientHandler { UseProxy = false }))
            {
                var body = JsonSerializer.Serialize(new { key = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)) });
                var answer = http.PostAsync($"http://{TestEtcd.Endpoint}/v3/kv/range", new System.Net.Http.StringContent(body)).Result.Content.ReadAsStringAsync().Result;
                using (var doc = JsonDocument.Parse(answer))
                    return doc.RootElement.TryGetProperty("kvs", out var kvs) ? long.Parse(kvs[0].GetProperty("version").GetString()) : 0;
            }
        }

        [Fact]
        public void With_the_first_two_endpoints_dead_it_reads_writes_and_locks_at_the_third()
        {
            TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open($"etcd://127.0.0.1:{ClosedPort()},127.0.0.1:{ClosedPort()},{TestEtcd.Endpoint}"))
            {
                store.Write(new[] { new NbEntry(P1, Json("{\"id\": \"p1\"}")) });
                Assert.Single(store.Read("lport"));
                using (UpgradeLock.Acquire(store, "endpoints"))
                    Assert.Equal("endpoints", UpgradeLock.Read(store).Purpose);
            }
        }

        [Fact]
        public void An_endpoint_that_dies_between_requests_is_left_for_the_next_one()
        {
            TestEtcd.NewDatabase();
            using (var relay = new DyingRelay(TestEtcd.Endpoint))
            using (var store = NbStoreFactory.Open($"etcd://{relay.Endpoint},{TestEtcd.Endpoint}"))
            {
                store.Write(new[] { new NbEntry(P1, Json("{\"id\": \"p1\"}")) });
                int through = relay.Requests;
                Assert.True(through >= 2, "the first requests went through the first endpoint");
                relay.Dispose();
                Assert.Single(store.Read("lport"));
                store.WriteIf(new[] { NbEntry.Delete(P1) }, _ => Json("{\"id\": \"p1\"}"));
                Assert.Empty(store.Read("lport"));
                Assert.Equal(through, relay.Requests);
            }
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_write_whose_answer_is_lost_is_read_back_and_not_sent_again(bool conditional)
        {
            TestEtcd.NewDatabase();
            using (var relay = new DyingRelay(TestEtcd.Endpoint))
            using (var store = NbStoreFactory.Open($"etcd://{relay.Endpoint},{TestEtcd.Endpoint}"))
            {
                var put = new[] { new NbEntry(P1, Json("{\"id\": \"p1\"}")) };
                relay.AnswersBeforeDying = 0;  // etcd applies the write; its answer never arrives
                if (conditional) store.WriteIf(put, _ => null);
                else store.Write(put);
                Assert.Equal(1, Version("/lport/p1"));   // written once: read back, not written again
                Assert.Single(store.Read("lport"));
            }
        }

        [Fact]
        public void A_write_whose_outcome_stays_unknown_is_sent_once_per_endpoint_and_then_reported()
        {
            var endpoints = new[] { TestEtcd.Endpoint, "127.0.0.1:" + ClosedPort(), "127.0.0.1:" + ClosedPort() }
                .Select(e => new NbEndpoint(e.Split(':')[0], int.Parse(e.Split(':')[1]))).ToArray();
            using (var gateway = new EtcdGateway(endpoints, "etcd://test", null, null))
            {
                int sends = 0, checks = 0;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                Assert.Throws<EtcdOutcomeUnknownException>(() => gateway.Checked(
                    () => Task.FromException<int>(new EtcdOutcomeUnknownException("etcd://test", endpoints[sends++ % 3], "/v3/kv/txn", "no answer.", new System.IO.IOException("lost"))),
                    () => { checks++; return Task.FromResult(false); }, 0).GetAwaiter().GetResult());
                Assert.Equal(3, sends);
                Assert.Equal(2, checks);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"gave up after {clock.Elapsed}, not at the failover deadline");
            }
        }

#if !ENGINE_NETSTANDARD
        [Fact]
        public void A_certificate_refused_at_one_member_does_not_make_a_later_dead_member_a_certificate_refusal()
        {
            // The first member is the TLS etcd reached as "localhost", which its certificate (IP 127.0.0.1 only) does not name.
            using (var relay = new DyingRelay(TestTls.Etcd))
            {
                var uri = NbDatabaseUri.Parse($"etcds://localhost:{relay.Endpoint.Split(':')[1]},{TestTls.Etcd}{TestTls.Query()}");
                using (var gateway = new EtcdGateway(uri.Endpoints, uri.Location, null, null, NbTls.Load(uri)))
                {
                    void Range() => gateway.Call("/v3/kv/range", w => w.WriteString("key", "YQ=="), "read").Dispose();
                    var refused = Assert.Throws<NbCertificateException>(Range);
                    Assert.Equal("NbDatabaseCertificateRejected", refused.ErrorId);
                    relay.Dispose();
                    Range();   // the dead member is left for the next, whose certificate names its address
                    Assert.Equal(TestTls.Etcd, gateway.Serving.ToString());
                }
            }
        }
#endif

        [Fact]
        public void The_lock_taken_by_a_write_whose_answer_is_lost_is_held_once()
        {
            TestEtcd.NewDatabase();
            using (var relay = new DyingRelay(TestEtcd.Endpoint))
            using (var store = NbStoreFactory.Open($"etcd://{relay.Endpoint},{TestEtcd.Endpoint}"))
            {
                var slot = store.Parts.LockSlot(new NbKey(ModuleTables.Prefix + "lock", "", "lock"));
                slot.Read();
                relay.AnswersBeforeDying = 1;  // the lease is granted; the transaction's answer never arrives
                Assert.True(slot.TryCreate("mine", TimeSpan.FromSeconds(30)));
                Assert.Equal("mine", slot.Read());
                Assert.Equal(1, Version("/" + ModuleTables.Prefix + "lock/lock"));
                Assert.True(slot.Delete("mine"));
            }
        }
    }
}
