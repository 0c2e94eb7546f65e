using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    [Collection(RedisClusterCollection.Name)]
    public class RedisClusterStoreTests
    {
        [Fact]
        public void Writes_reach_every_master_and_a_read_from_one_seed_finds_them_all()
        {
            string uri = TestRedisCluster.NewDatabase();
            var entries = Safe.Ports(3000);
            using (var store = NbStoreFactory.Open(uri)) store.Write(entries);
            using (var store = NbStoreFactory.Open("redis-cluster://" + uri.Split(',').Last()))
            {
                var read = store.Read().ToDictionary(e => e.Key);
                Assert.Equal(entries.Count, read.Count);
                Assert.All(entries, e => Assert.Equal(e.Value.ToArray(), read[e.Key].Value.ToArray()));
                Assert.Equal(3000, store.ReadKeys("lport").Count());
            }
            // Dragonflow's keys, each on its hash tag's master: 7 topics of lport and one of lswitch over the three masters.
            using (var mux = ConnectionMultiplexer.Connect(TestRedisCluster.Configuration))
            {
                Assert.Equal("{\"id\": \"p00003\", \"topic\": \"t3\", \"lswitch\": \"s0\", \"version\": 1}", (string)mux.GetDatabase().StringGet("{lport.t3}.p00003"));
                var masters = mux.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToList();
                Assert.Equal(3, masters.Count);
                Assert.Equal(entries.Count, masters.Sum(m => m.DatabaseSize()));
                Assert.True(masters.Count(m => m.DatabaseSize() > 0) >= 2);
            }
        }

        [Fact]
        public void The_migration_log_is_read_by_its_set_of_keys_on_the_master_of_its_slot()
        {
            string uri = TestRedisCluster.NewDatabase();
            using (var store = NbStoreFactory.Open(uri))
            {
                var rows = Enumerable.Range(0, 5).Select(i => new NbEntry(new NbKey(MigrationLog.Table, null, "m" + i), Safe.Json($"{{\"id\": \"m{i}\"}}"))).ToList();
                store.WriteIf(rows, _ => null);
                using (var mux = ConnectionMultiplexer.Connect(TestRedisCluster.Configuration))
                {
                    var db = mux.GetDatabase();
                    Assert.Equal(mux.HashSlot("{schema_migration_log.}.m0"), mux.HashSlot("{schema_migration_log.}"));
                    Assert.Equal(6, db.SetLength("{schema_migration_log.}"));   // the rows and the member that says the set is whole
                    Assert.False(db.KeyExists("{df_upgrade_log_index}"));
                }
                Assert.Equal(rows.Select(r => r.Key.Id).OrderBy(x => x), store.Read(MigrationLog.Table).Select(e => e.Key.Id).OrderBy(x => x));
                store.Write(rows.Select(r => NbEntry.Delete(r.Key)).ToList());
                Assert.Empty(store.Read(MigrationLog.Table));
            }
        }

        [Fact]
        public void A_conditional_write_spanning_slots_and_masters_writes_nothing_when_one_key_holds_another_value()
        {
            string uri = TestRedisCluster.NewDatabase();
            var entries = Safe.Ports(100);
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(entries);
                var before = Safe.Dump(store);
                var changed = entries.Take(14).Select(e => new NbEntry(e.Key, Safe.Json("{\"v\": 2}"))).ToList();
                var stale = changed[3].Key;   // topic t3: one slot of the seven the batch touches
                var e = Assert.Throws<NbConflictException>(() => store.WriteIf(changed, k => k.Equals(stale) ? Safe.Json("{\"v\": 0}") : entries.First(x => x.Key.Equals(k)).Value));
                Assert.Equal(stale, Assert.Single(e.Keys));
                Assert.Equal(0, e.Written);
                Assert.Equal(before, Safe.Dump(store));
                store.WriteIf(changed, k => entries.First(x => x.Key.Equals(k)).Value);
                Assert.All(store.Read("lport").Where(x => changed.Any(c => c.Key.Equals(x.Key))), x => Assert.Equal("{\"v\": 2}", System.Text.Encoding.UTF8.GetString(x.Value.Span)));
            }
        }

        [Fact]
        public void A_slot_that_moves_to_another_master_after_the_store_opened_fails_the_read_and_the_next_write_with_NbClusterChanged()
        {
            string uri = TestRedisCluster.NewDatabase();
            var entries = Safe.Ports(300);
            using (var store = NbStoreFactory.Open(uri)) store.Write(entries);
            using (var mux = ConnectionMultiplexer.Connect(TestRedisCluster.Configuration))
            {
                int slot = mux.HashSlot("{lport.t3}");
                var nodes = mux.GetServers().First(s => s.IsConnected).ClusterNodes();
                var to = nodes.Nodes.First(n => !n.IsReplica && n.Slots.Count > 0 && !n.Equals(nodes.GetBySlot(slot))).EndPoint;
                System.Net.EndPoint? from = null;
                try
                {
                    using (var store = NbStoreFactory.Open(uri))
                    {
                        from = TestRedisCluster.MoveSlot(slot, to);
                        var read = Assert.Throws<NbClusterChangedException>(() => store.Read().ToList());
                        Assert.Equal("NbClusterChanged", read.ErrorId);
                        Assert.Contains("changed under the read: master ", read.Message);
                        Assert.Contains("config epoch", read.Message);
                        // A write to another slot of the master that lost one, as a commit's last record would be: not sent.
                        int SlotOf(int i) => mux.HashSlot("{lport.x" + i + "}");
                        int x = Enumerable.Range(0, 1000).First(i => SlotOf(i) != slot && nodes.GetBySlot(SlotOf(i)).EndPoint.Equals(from));
                        var write = Assert.Throws<NbClusterChangedException>(() =>
                            store.Write(new[] { new NbEntry(new NbKey("lport", "x" + x, "p"), Safe.Json("{\"id\": \"p\"}")) }));
                        Assert.Contains("This write was not sent", write.Message);
                        Assert.False(mux.GetDatabase().KeyExists("{lport.x" + x + "}.p"));
                    }
                    using (var store = NbStoreFactory.Open(uri))
                        Assert.Equal(entries.Count, store.Read().Count());
                }
                finally
                {
                    if (from != null) TestRedisCluster.MoveSlot(slot, from);
                }
            }
        }

        [Fact]
        public void A_master_that_answers_MOVED_part_way_through_a_write_says_that_the_batches_before_may_be_written_and_that_resume_finishes_them()
        {
            string uri = TestRedisCluster.NewDatabase();
            using (var mux = ConnectionMultiplexer.Connect(TestRedisCluster.Configuration))
            {
                var nodes = mux.GetServers().First(s => s.IsConnected).ClusterNodes();
                int SlotOf(NbKey k) => mux.HashSlot("{" + k.Table + "." + k.Topic + "}");
                var keys = Enumerable.Range(0, 1000).Select(i => new NbKey("lport", "x" + i, "p")).ToList();
                var master = nodes.GetBySlot(SlotOf(keys[0]));
                var mine = keys.First(k => nodes.GetBySlot(SlotOf(k)).NodeId == master.NodeId);
                var elsewhere = keys.First(k => nodes.GetBySlot(SlotOf(k)).NodeId != master.NodeId);
                var endpoint = (System.Net.IPEndPoint)master.EndPoint!;
                // The master's own connection, told that both keys are its: the second batch, of another master's slot, is refused with MOVED.
                using (var store = RedisNbStore.OpenClusterMaster(new NbEndpoint(endpoint.Address.ToString(), endpoint.Port), null, null, null, "redis-cluster://test",
                           SlotOf, $"master {endpoint}", TimeSpan.FromSeconds(10)))
                {
                    var writes = new[] { mine, elsewhere }.Select(k => new NbEntry(k, Safe.Json("{\"id\": \"p\"}"))).ToList();
                    var e = Assert.Throws<NbClusterChangedException>(() => store.Write(writes));
                    Assert.Contains($"master {endpoint} answered MOVED ", e.Message);
                    Assert.Contains("The batches sent to that master before the refused one may have been written", e.Message);
                    Assert.Contains("finished by resuming it (Resume-DfMigration -Database redis-cluster://test, or Invoke-DfUpgrade -Resume for a whole upgrade) once the cluster is stable.", e.Message);
                    Assert.DoesNotContain("Nothing was", e.Message);
                }
                Assert.True(mux.GetDatabase().KeyExists(RedisNbStore.FormatKey(mine)));
            }
        }

        [Fact]
        public void A_write_that_a_master_s_replica_does_not_acknowledge_fails_naming_the_master()
        {
            string uri = TestRedisCluster.NewDatabase();
            using (var mux = ConnectionMultiplexer.Connect(TestRedisCluster.Configuration))
            {
                var key = new NbKey("lport", "t1", "p1");
                var nodes = mux.GetServers().First(s => s.IsConnected).ClusterNodes();
                var master = nodes.GetBySlot(mux.HashSlot("{lport.t1}"));
                var replica = nodes.Nodes.Single(n => n.IsReplica && n.ParentNodeId == master.NodeId);
                var put = new[] { new NbEntry(key, Safe.Json("{\"id\": \"p1\"}")) };
                NbClusterChangedException e;
                using (var store = RedisClusterNbStore.Open(NbDatabaseUri.Parse(uri), TimeSpan.FromSeconds(3)))
                {
                    store.Write(put);   // acknowledged by the replica: no error
                    TestRedisCluster.Signal(((System.Net.IPEndPoint)replica.EndPoint!).Port, "STOP");
                    try { e = Assert.Throws<NbClusterChangedException>(() => store.WriteIf(put, _ => put[0].Value)); }
                    finally { TestRedisCluster.Signal(((System.Net.IPEndPoint)replica.EndPoint!).Port, "CONT"); }
                }
                TestRedisCluster.WaitUntilOk();
                Assert.Equal("NbClusterChanged", e.ErrorId);
                Assert.Contains($"is not on the replicas of master {master.EndPoint} (slots ", e.Message);
                Assert.Contains("0 of its 1 acknowledged it within 1.5 s (WAIT)", e.Message);
                Assert.Contains("Resume-DfMigration -Database redis-cluster://", e.Message);
            }
        }

        [Fact]
        public void A_cluster_uri_gives_its_seeds_user_and_tls_files_and_prints_without_the_password()
        {
            var uri = NbDatabaseUri.Parse("rediss-cluster://ops:s3cret@H1:7000,h2:7001?ca=/etc/df/ca.pem");
            Assert.Equal("redis-cluster", uri.Kind);
            Assert.True(uri.UsesTls);
            Assert.Equal("rediss-cluster://h1:7000,h2:7001", uri.Location);
            Assert.Equal("/etc/df/ca.pem", uri.TlsFiles.CaFile);
            Assert.Equal("ops", uri.User);
            Assert.DoesNotContain("s3cret", uri.Display);
            Assert.Equal(6379, NbDatabaseUri.Parse("redis-cluster://h").Endpoints[0].Port);
            Assert.True(NbDatabaseUri.SameDatabase("redis-cluster://h1:7000,h2:7001", "redis-cluster://h2:7001"));
        }

        [Fact]
        public void A_uri_with_a_path_or_a_single_redis_server_is_refused_saying_why()
        {
            var e = Assert.Throws<NbDatabaseUriException>(() => NbStoreFactory.Open("redis-cluster://127.0.0.1:7000/3"));
            Assert.Contains("one database only", e.Message);
            var single = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open("redis-cluster://" + TestRedis.Endpoint));
            Assert.Contains("is not a Redis Cluster", single.Message);
        }
    }

    [Collection(RedisClusterCollection.Name)]
    public sealed class RedisClusterCommitConflictTests : CommitConflictTests
    {
        protected override bool ChecksEveryChangeFirst => true;

        protected override string NewDatabase(IReadOnlyCollection<NbEntry> content)
        {
            string uri = TestRedisCluster.NewDatabase();
            using (var store = NbStoreFactory.Open(uri)) store.Write(content);
            return uri;
        }
    }

    [Collection(RedisClusterCollection.Name)]
    public class RedisClusterTlsTests
    {
        // A topic per port: hundreds of slots, so every master holds some.
        static List<NbEntry> Spread(int count) =>
            Enumerable.Range(0, count).Select(i => new NbEntry(new NbKey("lport", "t" + i, "p" + i), Safe.Json($"{{\"id\": \"p{i}\", \"topic\": \"t{i}\"}}"))).ToList();

        [Fact]
        public void A_tls_cluster_is_written_on_every_master_read_whole_and_locked()
        {
            string uri = TestRedisClusterTls.NewDatabase();
            var entries = Spread(300);
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(entries);
                Assert.Equal(entries.Select(e => e.Key).OrderBy(k => k.Id), store.Read("lport").Select(e => e.Key).OrderBy(k => k.Id));
                using (UpgradeLock.Acquire(store, "tls cluster test"))
                    Assert.Equal("tls cluster test", UpgradeLock.Read(store).Purpose);
            }
            Assert.All(TestRedisClusterTls.Ports, p => Assert.NotEqual("0", TestRedisClusterTls.Cli(p, "DBSIZE")));
        }

        static Migration Rename() => new Migration("rename", "queens", "test rename", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:rename", nb =>
        {
            foreach (var port in nb.GetAll("lport").ToList()) { port["name"] = "renamed"; nb.Update("lport", port); }
        });

        static void AllRenamed(INbStore store)
        {
            var ports = store.Read("lport").ToList();
            Assert.Equal(300, ports.Count);
            Assert.All(ports, p => Assert.Contains("renamed", Encoding.UTF8.GetString(p.Value.Span)));
        }

        // Each node's certificate names its own address only: a connection to a seed, and one to a
        // node the cluster told of, is each checked against the address it goes to.
        [Theory]
        [InlineData(0)]
        [InlineData(1)]
        [InlineData(2)]
        public void A_cluster_whose_nodes_each_have_a_certificate_naming_only_their_own_address_is_migrated_from_any_seed(int seed)
        {
            TestRedisClusterTls.NewDatabase();
            var (host, port) = TestRedisClusterTls.Nodes[seed];
            string uri = $"rediss-cluster://{host}:{port}" + TestTls.Query(client: false);
            using (var store = NbStoreFactory.Open(uri))
            {
                store.Write(Spread(300));
                var request = new MigrationRunRequest { BackupPath = Safe.TempFile("backup.jsonl.gz") };
                using (var run = NbRun.PlanMigration(store, new Migrator(store, new MigrationCatalog(new[] { Rename() })), request, new GuardOptions("tls cluster test", planOnly: false)))
                    run.Execute();
                AllRenamed(store);
            }
            // The lock's connections (StackExchange.Redis's, on the store's options) reach every node, not the seed alone.
            var parsed = NbDatabaseUri.Parse(uri);
            using (var mux = ConnectionMultiplexer.Connect(RedisNbStore.Options(parsed, NbTls.Load(parsed), (_, __) => { })))
                Safe.WaitUntil(() => TestRedisClusterTls.Ports.All(p => mux.GetServers().Any(s => s.IsConnected && ((IPEndPoint)s.EndPoint).Port == p)),
                    "StackExchange.Redis to reach every node of the TLS cluster", 15);
        }

        [Fact]
        public void A_seed_reached_by_a_name_its_certificate_does_not_list_is_passed_over_for_the_next_seed()
        {
            TestRedisClusterTls.NewDatabase();
            var nodes = TestRedisClusterTls.Nodes;
            // localhost reaches the first node, whose certificate names 127.0.0.2 only.
            using (var store = NbStoreFactory.Open($"rediss-cluster://localhost:{nodes[0].Port},{nodes[1].Host}:{nodes[1].Port}" + TestTls.Query(client: false)))
            {
                store.Write(Spread(300));
                Assert.Equal(300, store.Read("lport").Count());
                using (UpgradeLock.Acquire(store, "tls cluster test"))
                    Assert.Equal("tls cluster test", UpgradeLock.Read(store).Purpose);
            }
        }

        [Fact]
        public void A_node_reached_by_an_address_its_certificate_does_not_name_is_refused_naming_it_and_not_the_password()
        {
            int port = TestRedisClusterTls.Ports[0];
            var e = Assert.Throws<NbCertificateException>(() =>
                NbStoreFactory.Open($"rediss-cluster://:s3cret-pw@127.0.0.1:{port}" + TestTls.Query(client: false)).Dispose());
            Assert.Equal("NbDatabaseCertificateRejected", e.ErrorId);
            Assert.Contains($": node 127.0.0.1:{port}: the server's certificate does not name the host '127.0.0.1'", e.Message);
            Assert.DoesNotContain("s3cret-pw", e.ToString());
        }

        [Fact]
        public void Seeds_whose_certificates_are_all_refused_are_each_named_with_why()
        {
            var nodes = TestRedisClusterTls.Nodes;
            var e = Assert.Throws<NbCertificateException>(() =>
                NbStoreFactory.Open($"rediss-cluster://{nodes[0].Host}:{nodes[0].Port},{nodes[1].Host}:{nodes[1].Port}" + TestTls.Query("other-ca.pem", client: false)).Dispose());
            Assert.Equal("NbDatabaseCertificateRejected", e.ErrorId);
            foreach (var (host, port) in nodes.Take(2))
                Assert.Matches(Regex.Escape($"node {host}:{port}: the server's certificate (") + "[^)]+" +
                               Regex.Escape($") is not signed by the CA in {TestTls.File("other-ca.pem")}"), e.Message);
        }

        [Fact]
        public void A_seed_that_accepts_but_never_answers_the_tls_handshake_is_given_up_naming_it()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var accepted = new List<Socket>();
            _ = Task.Run(() =>
            {
                try { while (true) { var s = listener.AcceptSocket(); lock (accepted) accepted.Add(s); } }
                catch (SocketException) { }
                catch (ObjectDisposedException) { }
            });
            try
            {
                var opening = Task.Run(() => NbStoreFactory.Open($"rediss-cluster://127.0.0.1:{port}" + TestTls.Query(client: false)).Dispose());
                // The connect timeout (5 s) and more than enough to spare.
                Assert.True(Task.WaitAny(new Task[] { opening }, TimeSpan.FromSeconds(35)) == 0, "opening the store did not end");
                var e = Assert.IsType<NbStoreException>(opening.Exception!.InnerException);
                Assert.Contains($"127.0.0.1:{port}", e.Message);
                lock (accepted) Assert.NotEmpty(accepted);
            }
            finally
            {
                listener.Stop();
                lock (accepted) foreach (var s in accepted) s.Dispose();
            }
        }

        [Fact]
        public void A_master_announcing_an_address_its_certificate_does_not_name_is_refused_naming_it()
        {
            var nodes = TestRedisClusterTls.Nodes;
            var (host, port) = nodes[1];
            // Every node sees the master at the address given.
            void Announce(string address)
            {
                Assert.Equal("OK", TestRedisClusterTls.Cli(port, "CONFIG", "SET", "cluster-announce-ip", address));
                Safe.WaitUntil(() => nodes.All(n => TestRedisClusterTls.Cli(n.Port, "CLUSTER", "NODES").Contains($" {address}:{port}@")),
                    $"every node of the TLS Redis Cluster to see its master on port {port} at {address}");
            }
            // 127.0.0.1: the node listens there too, but its certificate names 127.0.0.3 only.
            Announce("127.0.0.1");
            try
            {
                var e = Assert.Throws<NbCertificateException>(() =>
                    NbStoreFactory.Open($"rediss-cluster://{nodes[0].Host}:{nodes[0].Port}" + TestTls.Query(client: false)).Dispose());
                Assert.Contains($": master 127.0.0.1:{port} (slots ", e.Message);
                Assert.Contains("the server's certificate does not name the host '127.0.0.1'", e.Message);
            }
            finally { Announce(host); }
        }

        [Fact]
        public void A_master_that_stops_answering_fails_the_write_naming_it_and_saying_what_to_do_and_the_others_are_written_meanwhile()
        {
            string uri = TestRedisClusterTls.NewDatabase();
            // The first master in the store's order (by address): written before the others when masters were written one after another.
            int silent = TestRedisClusterTls.Ports.OrderBy(p => TestRedisClusterTls.Host(p) + ":" + p, StringComparer.Ordinal).First();
            var others = TestRedisClusterTls.Ports.Where(p => p != silent).ToList();
            NbClusterTimeoutException e;
            using (var store = RedisClusterNbStore.Open(NbDatabaseUri.Parse(uri), TimeSpan.FromSeconds(3)))
            {
                TestRedisClusterTls.Signal(silent, "STOP");
                try
                {
                    e = Assert.Throws<NbClusterTimeoutException>(() => store.Write(Spread(300)));
                    Assert.All(others, p => Assert.NotEqual("0", TestRedisClusterTls.Cli(p, "DBSIZE")));
                }
                finally { TestRedisClusterTls.Signal(silent, "CONT"); }
            }
            TestRedisClusterTls.WaitUntilOk();
            Assert.Equal("NbClusterMasterTimeout", e.ErrorId);
            Assert.Contains($"The write of the Redis Cluster at {NbDatabaseUri.Parse(uri).Location} stopped at master {TestRedisClusterTls.Host(silent)}:{silent} (slots ", e.Message);
            Assert.Contains("did not answer within 3 s", e.Message);
            Assert.Contains($"redis-cli -h {TestRedisClusterTls.Host(silent)} -p {silent} PING", e.RecommendedAction);
            Assert.Contains("Resume-DfMigration -Database rediss-cluster://", e.RecommendedAction);
        }

        // Whether the node on the port is the master of the slot.
        static bool Owns(int port, int slot) =>
            TestRedisClusterTls.Cli(port, "CLUSTER", "NODES").Split('\n').Single(l => l.Contains("myself")).Trim().Split(' ').Skip(8)
                .Select(range => range.Split('-').Select(int.Parse).ToArray()).Any(r => r[0] <= slot && slot <= r[r.Length - 1]);

        [Fact]
        public void A_commit_stopped_by_a_master_that_stops_answering_is_finished_by_Resume_once_it_answers()
        {
            string uri = Safe.NewDatabase("rediss-cluster", Spread(300));
            MigrationRunResult result;
            BackupInfo backup;
            using (var store = NbStoreFactory.Open(uri))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { Rename() }));
                result = migrator.Run(migrator.Plan().Pending);
                backup = NbBackup.Write(store, Safe.TempFile("backup.jsonl.gz"));
            }
            // A master holding ports but neither the journal nor the commit's marker: those are written, its ports are not
            // (the migration log's rows are written after every port, wherever they are).
            var moduleSlots = new[] { CommitJournal.Table, CommitJournal.RecordTable }
                .Select(table => int.Parse(TestRedisClusterTls.Cli(TestRedisClusterTls.Ports[0], "CLUSTER", "KEYSLOT", RedisKeys.Format(new NbKey(table, null, "x"))))).ToList();
            int silent = TestRedisClusterTls.Ports.First(p => !moduleSlots.Any(slot => Owns(p, slot)));
            CommitInterruptedException e;
            using (var store = RedisClusterNbStore.Open(NbDatabaseUri.Parse(uri), TimeSpan.FromSeconds(3)))
            {
                // Stopped once the journal and the marker are stored: the commit's first batch looks its
                // expected values up (on this thread) before any master is asked anything for it.
                int stopped = 0;
                Func<NbKey, ReadOnlyMemory<byte>?> expected = key =>
                {
                    if (Interlocked.Exchange(ref stopped, 1) == 0) TestRedisClusterTls.Signal(silent, "STOP");
                    return result.Expected(key);
                };
                try { e = Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(store, result.Writes, backup, new[] { "rename" }, expected)); }
                finally { if (stopped == 1) TestRedisClusterTls.Signal(silent, "CONT"); }
            }
            Assert.Equal("NbClusterMasterTimeout", Assert.IsType<NbClusterTimeoutException>(e.InnerException).ErrorId);
            TestRedisClusterTls.WaitUntilOk();
            using (var store = NbStoreFactory.Open(uri))
            {
                Assert.Throws<CommitInProgressException>(() => CommitJournal.RequireNoneInProgress(store));
                CommitJournal.Resume(store);
                Assert.Null(CommitJournal.ReadInProgress(store));
                AllRenamed(store);
            }
        }

        [Fact]
        public void Masters_that_stop_answering_in_one_write_are_all_named()
        {
            string uri = TestRedisClusterTls.NewDatabase();
            var silent = TestRedisClusterTls.Ports.Take(2).ToList();
            NbClusterTimeoutException e;
            using (var store = RedisClusterNbStore.Open(NbDatabaseUri.Parse(uri), TimeSpan.FromSeconds(3)))
            {
                foreach (int p in silent) TestRedisClusterTls.Signal(p, "STOP");
                try { e = Assert.Throws<NbClusterTimeoutException>(() => store.Write(Spread(300))); }
                finally { foreach (int p in silent) TestRedisClusterTls.Signal(p, "CONT"); }
            }
            TestRedisClusterTls.WaitUntilOk();
            Assert.Equal(silent.Select(p => $"master {TestRedisClusterTls.Host(p)}:{p}").OrderBy(m => m, StringComparer.Ordinal),
                e.Masters.Select(m => m.Substring(0, m.IndexOf(" (", StringComparison.Ordinal))).OrderBy(m => m, StringComparer.Ordinal));
            Assert.Contains("stopped at 2 masters: master 127.0.0.", e.Message);
            Assert.All(silent, p => Assert.Contains($"redis-cli -h {TestRedisClusterTls.Host(p)} -p {p} PING", e.RecommendedAction));
        }
    }
}
