using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    [Collection(SafetyCollection.Name)]
    public class BackupTests
    {
        // Values as Dragonflow and others store them: odd spacing, escapes, a bare counter.
        static NbEntry[] Odd => new[]
        {
            new NbEntry(new NbKey("lport", "t1", "p1"), Safe.Json("{\"id\":\"p1\",  \"name\": \"caf\\u00e9\", \"version\": 3}")),
            new NbEntry(new NbKey("lswitch", "t1", "s1"), Safe.Json("{\"id\": \"s1\", \"mtu\": 1450.0 }")),
            new NbEntry(new NbKey("chassis", null, "c1"), Safe.Json("{\"id\": \"c1\", \"ip\": \"10.0.0.1\"}")),
            new NbEntry(new NbKey("unique_key", null, "lport"), Safe.Json("17")),
        };

        // Odd's switch s1 (topic t1) and the ports' switch s1 (topic t0) are one key where keys hold no
        // topic (etcd's /table/id): the later is stored, and the write below gives it another topic.
        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void Backup_then_restore_gives_back_every_stored_value_byte_for_byte(string kind)
        {
            string uri = Safe.NewDatabase(kind, Odd.Concat(Safe.Ports(2500)).ToList());
            var before = Safe.Dump(uri);
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            {
                var info = NbBackup.Write(store, path);
                Assert.Equal(before.Count, info.Objects);
                store.Write(new[]
                {
                    NbEntry.Delete(new NbKey("lport", "t1", "p1")),
                    new NbEntry(new NbKey("lswitch", "t1", "s1"), Safe.Json("{\"id\": \"s1\", \"mtu\": 1500}")),
                    new NbEntry(new NbKey("lport", "t9", "extra"), Safe.Json("{\"id\": \"extra\"}")),
                });
                var plan = NbRestore.Plan(store, path);
                Assert.Equal((1, 1, 1), (plan.Created, plan.Updated, plan.Deleted));
                Assert.Equal(before.Count - 2, plan.Unchanged);
                NbRestore.Apply(store, plan);
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        // A call per batch waited for each batch's round trip; one call lets the store keep its batches in flight.
        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_restore_hands_the_store_all_of_its_writes_in_one_write(string kind)
        {
            var ports = Safe.Ports(2500);
            string uri = Safe.NewDatabase(kind, ports);
            var before = Safe.Dump(uri);
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = new SteppedStore(NbStoreFactory.Open(uri)))
            {
                NbBackup.Write(store, path);
                store.Write(ports.Take(1500).Select(p => NbEntry.Delete(p.Key)).ToList());
                var plan = NbRestore.Plan(store, path);
                Assert.Equal(1500, plan.Created);
                NbRestore.Apply(store, plan);
                Assert.Equal(new[] { 1500 }, store.ConditionalWrites);
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        [Fact]
        public void A_backup_has_a_header_line_and_is_readable_by_its_owner_only()
        {
            string uri = Safe.NewRedis(Odd);
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            using (UpgradeLock.Acquire(store, "backup"))
                NbBackup.Write(store, path);
            var header = NbBackup.ReadHeader(path);
            Assert.Equal(4, header.Objects);
            Assert.Equal(uri, header.Source);
            Assert.Matches("^[0-9a-f]{64}$", header.Checksum);
            Assert.True(header.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-1));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            // The lock is not NB data; the backup opens as a database.
            using (var copy = NbStoreFactory.Open(path))
                Assert.Equal(new[] { "chassis", "lport", "lswitch", "unique_key" }, copy.Read().Select(e => e.Key.Table).ToArray());
        }

        [Fact]
        public void A_truncated_backup_is_refused_and_the_database_is_left_as_it_was()
        {
            string uri = Safe.NewRedis(Safe.Ports(3000));
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri)) NbBackup.Write(store, path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes.Take(bytes.Length / 2).ToArray());
            var other = Safe.NewRedis(Odd);
            var before = Safe.Dump(other);
            using (var store = NbStoreFactory.Open(other))
            {
                var e = Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(store, path));
                Assert.Contains(path, e.Message);
                Assert.Contains("is not a whole gzip file", e.Message);
            }
            Assert.Equal(before, Safe.Dump(other));
        }

        [Fact]
        public void An_edited_backup_is_refused()
        {
            string uri = Safe.NewRedis(Odd);
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri)) NbBackup.Write(store, path);
            string text;
            using (var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
            using (var reader = new StreamReader(gz)) text = reader.ReadToEnd();
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            {
                var edited = Encoding.UTF8.GetBytes(text.Replace("10.0.0.1", "10.0.0.2"));
                gz.Write(edited, 0, edited.Length);
            }
            using (var store = NbStoreFactory.Open(Safe.NewRedis(Odd)))
            {
                var e = Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(store, path));
                Assert.Contains("does not match the checksum", e.Message);
            }
        }

        // A restore reads the backup while another thread reads the database. When both are bad, the
        // backup's error is the one reported, as when the backup was read first; either way the store
        // can be used again after the error.
        [Fact]
        public void A_restore_reports_a_bad_backup_before_a_bad_database_and_the_database_when_only_it_is_bad()
        {
            string uri = Safe.NewRedis(Odd.Concat(Safe.Ports(3000)).ToList());
            string good = Safe.TempFile("nb.jsonl.gz"), edited = Safe.TempFile("nb.jsonl");
            using (var store = NbStoreFactory.Open(uri))
            {
                NbBackup.Write(store, good);
                NbBackup.Write(store, edited);
            }
            File.WriteAllText(edited, File.ReadAllText(edited).Replace("10.0.0.1", "10.0.0.2"));
            var before = Safe.Dump(uri);
            // A key of the database that holds a hash: a read of the whole database refuses it.
            using var mux = TestRedis.Connect();
            var db = mux.GetDatabase(TestRedis.DbOf(uri));
            db.HashSet("{lport.t1}.wrong-type", "f", "v");
            using (var store = NbStoreFactory.Open(uri))
            {
                var backupError = Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(store, edited));
                Assert.Contains("does not match the checksum", backupError.Message);
                Assert.NotEmpty(store.Read("lswitch").ToList());
                var readError = Assert.Throws<NbKeyException>(() => NbRestore.Plan(store, good));
                Assert.Contains("{lport.t1}.wrong-type", readError.Message);
                Assert.NotEmpty(store.Read("lswitch").ToList());
            }
            Assert.Equal(1, db.HashLength("{lport.t1}.wrong-type"));
            db.KeyDelete("{lport.t1}.wrong-type");
            Assert.Equal(before, Safe.Dump(uri));
        }

        [Fact]
        public void A_restore_whose_backup_fails_stops_its_read_of_the_database_and_waits_for_it_to_end()
        {
            string uri = Safe.NewRedis(Odd.Concat(Safe.Ports(3000)).ToList());
            string edited = Safe.TempFile("nb.jsonl");
            using (var store = NbStoreFactory.Open(uri)) NbBackup.Write(store, edited);
            File.WriteAllText(edited, File.ReadAllText(edited).Replace("10.0.0.1", "10.0.0.2"));
            var redis = NbStoreFactory.Open(uri);
            using (var store = new SteppedStore(redis) { ReadGate = new SemaphoreSlim(0) })
            using (var done = new CancellationTokenSource())
            {
                // An object every 10 ms: the read would take half a minute to its end.
                var letThrough = Task.Run(async () =>
                {
                    while (!done.IsCancellationRequested)
                    {
                        store.ReadGate.Release();
                        await Task.Delay(10);
                    }
                });
                Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(store, edited));
                Assert.True(store.ReadEnded, "the read of the database still ran when the backup's error came out");
                Assert.True(store.ObjectsHanded < 1000, $"the read went on to {store.ObjectsHanded} objects after the backup failed");
                done.Cancel();
                letThrough.Wait();
                Assert.NotEmpty(redis.Read("lswitch").ToList());
            }
        }

        [Fact]
        public void A_backup_of_another_database_is_refused_before_the_database_is_read()
        {
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(Safe.NewRedis(Odd))) NbBackup.Write(store, path);
            string uri = Safe.NewRedis(Safe.Ports(10));
            using (var store = NbStoreFactory.Open(uri))
            {
                var sent = TestRedis.CommandsSent(uri, () => Assert.Throws<BackupFromOtherDatabaseException>(() => NbRestore.Plan(store, path)));
                Assert.DoesNotContain("SCAN", sent);
                Assert.DoesNotContain("MGET", sent);
            }
        }

        // The layouts of the database's keys, which say whether a restore moves them back to the
        // backup's layout, come from the restore's own read of the database: one walk of the keyspace.
        [Fact]
        public void A_restore_walks_the_redis_keyspace_once()
        {
            var baseline = new MigrationLogEntry { Id = MigrationLog.BaselineId, Kind = MigrationLogKind.Baseline, Release = "queens", AppliedAt = DateTimeOffset.Parse("2019-01-01T00:00:00Z") };
            string uri = Safe.NewRedis(Odd.Concat(Safe.Ports(100)).Append(baseline.ToEntry()).ToList());
            string path = Safe.TempFile("nb.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            {
                NbBackup.Write(store, path);
                store.Write(new[] { NbEntry.Delete(new NbKey("lport", "t1", "p1")) });
                RestorePlan plan = null!;
                var sent = TestRedis.CommandsSent(uri, () => plan = NbRestore.Plan(store, path));
                Assert.Equal(1, sent.Count(c => c == "SCAN"));
                Assert.Equal((1, 0, 0, 0), (plan.Created, plan.Updated, plan.Deleted, plan.Rekeyed));
                Assert.Null(plan.KeyLayout);
            }
        }

        // A file whose own header is right is still refused when another checksum is expected of it:
        // then its lines are hashed as they would be written, and compared with that.
        [Fact]
        public void A_backup_file_is_checked_against_the_checksum_expected_and_not_only_its_own_header()
        {
            string path = Safe.TempFile("nb.jsonl");
            BackupInfo info;
            using (var store = NbStoreFactory.Open(Safe.NewRedis(Odd))) info = NbBackup.Write(store, path);
            Assert.Equal(4, NbBackup.ReadVerified(path, 4, info.Checksum!, "journal").Count);
            Assert.Equal(4, NbBackup.ReadVerified(path, 4, info.Checksum!.ToUpperInvariant(), "journal").Count);
            var e = Assert.Throws<BackupInvalidException>(() => NbBackup.ReadVerified(path, 4, new string('0', 64), "journal"));
            Assert.Contains("the journal's content does not match the checksum in its header", e.Message);
        }

        [Fact]
        public void A_file_without_a_backup_header_is_refused()
        {
            string path = Safe.TempFile("plain.jsonl");
            File.WriteAllText(path, "{\"table\":\"lport\",\"topic\":null,\"id\":\"p1\",\"value\":{}}\n");
            var e = Assert.Throws<BackupInvalidException>(() => NbBackup.Load(path));
            Assert.Contains("not a backup", e.Message);
        }

        [Fact]
        public void Restore_leaves_the_modules_own_tables_alone()
        {
            string uri = Safe.NewRedis(Odd);
            string path = Safe.TempFile("nb.jsonl");
            using (var store = NbStoreFactory.Open(uri))
            {
                NbBackup.Write(store, path);
                // A backup that holds a lock of its own (its header's count and checksum kept right).
                var foreignLock = new NbEntry(new NbKey(UpgradeLock.Table, null, UpgradeLock.Id),
                    Safe.Json("{\"host\": \"elsewhere\", \"pid\": 1, \"purpose\": \"from the backup\", \"token\": \"t\"}"));
                using (var backup = new FileNbStore(path)) backup.Write(new[] { foreignLock });
                Assert.Equal(5, NbBackup.ReadHeader(path).Objects);
                store.Write(new[] { NbEntry.Delete(new NbKey("lport", "t1", "p1")) });
                using (UpgradeLock.Acquire(store, "Restore-DfNbDatabase"))
                {
                    var held = UpgradeLock.Read(store);
                    var plan = NbRestore.Plan(store, path);
                    Assert.Equal((1, 0, 0, 3), (plan.Created, plan.Updated, plan.Deleted, plan.Unchanged));
                    NbRestore.Apply(store, plan);
                    // The lock in the database is still this run's, not the backup's.
                    var after = UpgradeLock.Read(store);
                    Assert.Equal(held.Token, after.Token);
                    Assert.Equal("Restore-DfNbDatabase", after.Purpose);
                }
                Assert.Empty(store.ReadKeys(UpgradeLock.Table));
                Assert.Equal(4, Safe.Dump(store).Count);
            }
            using (var doc = JsonDocument.Parse(File.ReadLines(path).First()))
                Assert.Equal(NbBackup.Format, doc.RootElement.GetProperty("header").GetProperty("format").GetString());
        }
    }
}
